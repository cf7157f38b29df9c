//! Shared read caches (reflectors) of the objects several controllers look up while
//! reconciling: PersistentVolumes, PersistentVolumeClaims, StorageClasses and Nodes.
//!
//! Caches may lag behind the API: every write made from what they show is a
//! compare-and-swap on the object's resourceVersion, so a stale read costs a retry, never
//! a wrong write.

use crate::error::ControllerError;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use std::sync::Arc;
use tokio::task::JoinSet;
use tracing::Instrument;

/// The shared caches and the client controllers write with.
#[derive(Clone)]
pub struct Caches {
    /// API client.
    pub client: Client,
    /// PersistentVolumes.
    pub volumes: Store<PersistentVolume>,
    /// PersistentVolumeClaims.
    pub claims: Store<PersistentVolumeClaim>,
    /// StorageClasses.
    pub classes: Store<StorageClass>,
    /// Nodes.
    pub nodes: Store<Node>,
}

fn spawn_reflector<K>(tasks: &mut JoinSet<()>, client: &Client) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let stream = reflector::reflector(
        writer,
        // Caches drop managedFields, as kube-controller-manager's informers do: no
        // controller reads them, and their nested field sets were most of each cached
        // object's memory (measured: ≈36 KiB per pod with them).
        watcher::watcher(Api::<K>::all(client.clone()), watcher::Config::default())
            .modify(|o| o.meta_mut().managed_fields = None),
    )
    .default_backoff();
    let kind = K::kind(&()).to_string();
    tasks.spawn(
        async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(ev) = stream.next().await {
                if let Err(e) = ev {
                    tracing::warn!(error = %e, "cache watch failed; retrying");
                }
            }
        }
        .instrument(tracing::info_span!("cache", %kind)),
    );
    reader
}

impl Caches {
    /// Start the reflectors (their tasks live in `tasks`).
    pub fn start(client: Client, tasks: &mut JoinSet<()>) -> Caches {
        Caches {
            volumes: spawn_reflector(tasks, &client),
            claims: spawn_reflector(tasks, &client),
            classes: spawn_reflector(tasks, &client),
            nodes: spawn_reflector(tasks, &client),
            client,
        }
    }

    /// Wait until every cache holds a first full list.
    pub async fn wait_ready(&self) -> Result<(), ControllerError> {
        if !crate::informer::store_ready(&self.volumes).await {
            return Err(ControllerError::CacheNotReady("PersistentVolume"));
        }
        if !crate::informer::store_ready(&self.claims).await {
            return Err(ControllerError::CacheNotReady("PersistentVolumeClaim"));
        }
        if !crate::informer::store_ready(&self.classes).await {
            return Err(ControllerError::CacheNotReady("StorageClass"));
        }
        if !crate::informer::store_ready(&self.nodes).await {
            return Err(ControllerError::CacheNotReady("Node"));
        }
        Ok(())
    }

    /// A volume by name.
    pub fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(&ObjectRef::new(name))
    }

    /// A claim by namespace and name.
    pub fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims.get(&ObjectRef::new(name).within(namespace))
    }

    /// A class by name ("" has none).
    pub fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        if name.is_empty() {
            return None;
        }
        self.classes.get(&ObjectRef::new(name))
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<Arc<Node>> {
        self.nodes.get(&ObjectRef::new(name))
    }
}
