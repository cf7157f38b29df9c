//! PV protection: the `kubernetes.io/pv-protection` finalizer keeps a deleted volume
//! (Terminating) while it is Bound to a claim.

use crate::error::ControllerError;
use crate::finalizers;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The finalizer.
pub const FINALIZER: &str = "kubernetes.io/pv-protection";

/// Run until `shutdown` resolves.
pub async fn run(
    client: Client,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), ControllerError> {
    Controller::new(
        Api::<PersistentVolume>::all(client.clone()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(shutdown)
    .run(
        crate::metrics::instrument("pv-protection", reconcile),
        error_policy,
        Arc::new(client),
    )
    .for_each(|_| async {})
    .await;
    Ok(())
}

fn error_policy(_: Arc<PersistentVolume>, e: &ControllerError, _: Arc<Client>) -> Action {
    if e.http_code() != Some(409) {
        tracing::warn!(error = %e, "pv-protection reconcile failed; retrying");
    }
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(
    pv: Arc<PersistentVolume>,
    client: Arc<Client>,
) -> Result<Action, ControllerError> {
    let api: Api<PersistentVolume> = Api::all((*client).clone());
    if pv.metadata.deletion_timestamp.is_none() {
        finalizers::add(&api, pv.as_ref(), FINALIZER).await?;
        return Ok(Action::await_change());
    }
    let bound = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    if !bound {
        finalizers::remove(&api, pv.as_ref(), FINALIZER).await?;
    }
    Ok(Action::await_change())
}
