//! PVC protection: the `kubernetes.io/pvc-protection` finalizer keeps a deleted claim
//! (Terminating) while a scheduled, non-terminated pod still uses it.

use crate::error::ControllerError;
use crate::finalizers;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::ListParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The finalizer.
pub const FINALIZER: &str = "kubernetes.io/pvc-protection";

/// Names of the claims a pod's volumes use (generic ephemeral volumes name their claim
/// `<pod>-<volume>`).
pub fn claims_of(pod: &Pod) -> Vec<String> {
    let pod_name = pod.name_any();
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(c.claim_name.clone())
            } else {
                v.ephemeral
                    .as_ref()
                    .map(|_| format!("{pod_name}-{}", v.name))
            }
        })
        .collect()
}

/// Whether `pod` keeps `claim` in use: it is scheduled, not finished, and mounts it.
pub fn pod_uses_claim(pod: &Pod, claim: &str) -> bool {
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    scheduled
        && !matches!(phase, Some("Succeeded") | Some("Failed"))
        && claims_of(pod).iter().any(|c| c == claim)
}

/// Run until `shutdown` resolves.
pub async fn run(
    client: Client,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), ControllerError> {
    Controller::new(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default(),
        |pod: Pod| {
            let ns = pod.namespace().unwrap_or_default();
            claims_of(&pod)
                .into_iter()
                .map(move |c| ObjectRef::new(&c).within(&ns))
        },
    )
    .graceful_shutdown_on(shutdown)
    .run(
        crate::metrics::instrument("pvc-protection", reconcile),
        error_policy,
        Arc::new(client),
    )
    .for_each(|_| async {})
    .await;
    Ok(())
}

fn error_policy(_: Arc<PersistentVolumeClaim>, e: &ControllerError, _: Arc<Client>) -> Action {
    if e.http_code() != Some(409) {
        tracing::warn!(error = %e, "pvc-protection reconcile failed; retrying");
    }
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(
    pvc: Arc<PersistentVolumeClaim>,
    client: Arc<Client>,
) -> Result<Action, ControllerError> {
    let ns = pvc.namespace().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced((*client).clone(), &ns);
    if pvc.metadata.deletion_timestamp.is_none() {
        finalizers::add(&api, pvc.as_ref(), FINALIZER).await?;
        return Ok(Action::await_change());
    }
    if !finalizers::has(pvc.as_ref(), FINALIZER) {
        return Ok(Action::await_change());
    }
    // Listed live: a pod the cache has not seen yet must still block the removal.
    let pods = Api::<Pod>::namespaced((*client).clone(), &ns)
        .list(&ListParams::default())
        .await
        .map_err(ControllerError::api(format!("listing pods in {ns}")))?;
    let name = pvc.name_any();
    if pods.items.iter().any(|p| pod_uses_claim(p, &name)) {
        return Ok(Action::await_change());
    }
    finalizers::remove(&api, pvc.as_ref(), FINALIZER).await?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn which_pods_keep_a_claim() {
        let pod = |node: &str, phase: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": "p", "namespace": "ns"},
                "spec": {"nodeName": node, "containers": [], "volumes": [
                    {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}
                ]},
                "status": {"phase": phase}
            }))
            .expect("pod")
        };
        assert!(pod_uses_claim(&pod("n1", "Running"), "data"));
        assert!(pod_uses_claim(&pod("n1", "Pending"), "p-e"));
        assert!(!pod_uses_claim(&pod("n1", "Running"), "other"));
        assert!(!pod_uses_claim(&pod("", "Pending"), "data"));
        assert!(!pod_uses_claim(&pod("n1", "Succeeded"), "data"));
        assert!(!pod_uses_claim(&pod("n1", "Failed"), "data"));
    }
}
