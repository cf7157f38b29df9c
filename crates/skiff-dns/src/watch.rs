//! The [`Catalog`] the server runs on: kube-runtime reflector caches of every Service and
//! EndpointSlice (and of Nodes, whose addresses may query the server), kept current by
//! watches.

use crate::catalog::Catalog;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Watch caches of Services, EndpointSlices and Nodes.
#[derive(Clone)]
pub struct KubeCatalog {
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    nodes: Store<Node>,
}

impl KubeCatalog {
    /// Start watching through `client`: the returned future keeps the caches current and
    /// must be spawned.
    pub fn start(client: Client) -> (KubeCatalog, impl Future<Output = ()> + Send + 'static) {
        let (services, svc_task) = cache::<Service>(client.clone());
        let (slices, slice_task) = cache::<EndpointSlice>(client.clone());
        let (nodes, node_task) = cache::<Node>(client);
        let run = async move {
            tokio::join!(svc_task, slice_task, node_task);
        };
        let catalog = KubeCatalog {
            services,
            slices,
            nodes,
        };
        (catalog, run)
    }

    /// Whether `ip` is one of a Node's addresses (hostNetwork pods query from those).
    pub fn is_node_address(&self, ip: IpAddr) -> bool {
        let ip = ip.to_string();
        self.nodes.state().iter().any(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.addresses.as_ref())
                .is_some_and(|addrs| addrs.iter().any(|a| a.address == ip))
        })
    }

    /// Wait (at most `limit`) for the caches to hold a first full list, so the server
    /// does not answer NXDOMAIN for names it has not heard of yet, nor refuse nodes.
    pub async fn wait_synced(&self, limit: Duration) -> bool {
        let both = async {
            let a = self.services.wait_until_ready().await;
            let b = self.slices.wait_until_ready().await;
            let c = self.nodes.wait_until_ready().await;
            a.is_ok() && b.is_ok() && c.is_ok()
        };
        tokio::time::timeout(limit, both).await.unwrap_or(false)
    }
}

fn cache<K>(client: Client) -> (Store<K>, impl Future<Output = ()> + Send + 'static)
where
    K: Resource<DynamicType = ()>
        + Clone
        + k8s_openapi::serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let stream = reflector::reflector(
        writer,
        // managedFields are never read here; dropping them keeps the caches small.
        watcher::watcher(Api::<K>::all(client), watcher::Config::default())
            .modify(|o| o.meta_mut().managed_fields = None),
    )
    .default_backoff();
    let kind = K::kind(&()).to_string();
    let run = async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            if let Err(e) = ev {
                tracing::warn!(kind, error = %e, "dns watch failed; retrying");
            }
        }
    };
    (reader, run)
}

impl Catalog for KubeCatalog {
    fn services(&self) -> Vec<Arc<Service>> {
        self.services.state()
    }

    fn endpoint_slices(&self) -> Vec<Arc<EndpointSlice>> {
        self.slices.state()
    }

    fn service(&self, ns: &str, name: &str) -> Option<Arc<Service>> {
        self.services.get(&ObjectRef::new(name).within(ns))
    }
}
