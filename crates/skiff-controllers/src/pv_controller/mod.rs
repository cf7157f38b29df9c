//! The PersistentVolume controller (upstream's persistentvolume-binder): two level-triggered
//! loops, one over claims ([`claim`]: find or wait for a volume, bind, Pending/Bound/Lost)
//! and one over volumes ([`volume`]: Available/Bound/Released/Failed, reclaim).
//!
//! A bind is a sequence of compare-and-swap writes (volume claimRef, volume phase, claim
//! volumeName + annotations, claim status), each safe to repeat: an interrupted bind is
//! finished by the next reconcile of either object. Reads that decide a write come from the
//! API, not the caches, so a lagging cache cannot make a claim look unbindable.

mod claim;
mod volume;

use crate::caches::Caches;
use crate::error::ControllerError;
use crate::events::Recorder;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The component name on this controller's events.
pub const COMPONENT: &str = "persistentvolume-controller";
/// How often unbound claims and volumes are looked at again without any change (upstream's
/// resync period), so a volume created later is found.
pub const RESYNC: Duration = Duration::from_secs(15);
/// Retry delay after a failed reconcile (usually a write conflict).
const RETRY: Duration = Duration::from_secs(2);

/// What both loops share.
pub struct Ctx {
    /// Caches and client.
    pub caches: Caches,
    /// Event recorder.
    pub events: Recorder,
}

/// Run both loops until `shutdown` resolves.
pub async fn run(
    caches: Caches,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) -> Result<(), ControllerError> {
    let client = caches.client.clone();
    let ctx = Arc::new(Ctx {
        events: Recorder::new(client.clone(), COMPONENT),
        caches,
    });
    let claims = Controller::new(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<PersistentVolume>::all(client.clone()),
        watcher::Config::default(),
        |pv: PersistentVolume| {
            let r = pv.spec.and_then(|s| s.claim_ref)?;
            Some(ObjectRef::new(r.name.as_deref()?).within(r.namespace.as_deref()?))
        },
    )
    .graceful_shutdown_on(shutdown.clone())
    .run(
        crate::metrics::instrument("persistentvolume-binder-claims", claim::sync),
        error_policy,
        ctx.clone(),
    )
    .for_each(|r| async move {
        if let Err(e) = r {
            tracing::debug!(error = %e, "claim reconcile");
        }
    });
    let volumes = Controller::new(
        Api::<PersistentVolume>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<PersistentVolumeClaim>::all(client),
        watcher::Config::default(),
        |pvc: PersistentVolumeClaim| {
            let name = pvc
                .spec
                .and_then(|s| s.volume_name)
                .filter(|n| !n.is_empty())?;
            Some(ObjectRef::new(&name))
        },
    )
    .graceful_shutdown_on(shutdown)
    .run(
        crate::metrics::instrument("persistentvolume-binder-volumes", volume::sync),
        error_policy,
        ctx,
    )
    .for_each(|r| async move {
        if let Err(e) = r {
            tracing::debug!(error = %e, "volume reconcile");
        }
    });
    futures_util::future::join(claims, volumes).await;
    Ok(())
}

fn error_policy<K: ResourceExt>(obj: Arc<K>, e: &ControllerError, _: Arc<Ctx>) -> Action {
    // Conflicts are expected (caches lag, two loops write the same objects); others are not.
    if e.http_code() == Some(409) {
        tracing::debug!(object = %obj.name_any(), error = %e, "write conflict; retrying");
    } else {
        tracing::warn!(object = %obj.name_any(), error = %e, "reconcile failed; retrying");
    }
    Action::requeue(RETRY)
}

/// An annotation of an object.
pub(crate) fn annotation<'a, K: ResourceExt>(obj: &'a K, key: &str) -> Option<&'a str> {
    obj.meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// The phase in an object's status.
pub(crate) fn volume_phase(pv: &PersistentVolume) -> &str {
    pv.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}
