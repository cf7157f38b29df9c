//! The local-path provisioner (k3s's rancher.io/local-path, built in): a hostPath volume
//! `pvc-<uid>` per claim on the node the scheduler selected, and deletion of released
//! volumes whose class says Delete.
//!
//! Where the directory lives: each node agent advertises its storage directory in the
//! Node annotation [`ANN_NODE_DIR`] (`<agent data dir>/storage`); the volume's path is
//! `<that dir>/pvc-<uid>_<namespace>_<name>`. The agent creates the directory when a pod
//! mounts it and, because only it can reach the node's disk, removes it when the volume
//! is deleted, then drops the [`CLEANUP_FINALIZER`] this controller puts on every volume it
//! makes. The agent refuses to remove anything outside its own storage directory.

use crate::caches::Caches;
use crate::error::ControllerError;
use crate::events::Recorder;
use crate::finalizers;
use crate::volume_match::{
    claim_class, is_delay_binding, ANN_PROVISIONED_BY, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER,
};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec,
    VolumeNodeAffinity,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The provisioner name, as k3s registers it.
pub const PROVISIONER: &str = "rancher.io/local-path";
/// Node annotation with the absolute directory local-path volumes live under on that node.
pub const ANN_NODE_DIR: &str = "skiff.dev/local-path-dir";
/// Volume annotation naming the node the directory is on (as k3s's provisioner sets it).
pub const ANN_VOLUME_NODE: &str = "local.path.provisioner/selected-node";
/// Finalizer the node agent removes once the volume's directory is gone.
pub const CLEANUP_FINALIZER: &str = "skiff.dev/local-path-cleanup";
/// Component name on the events (k3s reports `rancher.io/local-path_<pod>_<uid>`).
pub const COMPONENT: &str = "rancher.io/local-path_skiff";
/// How long to wait before trying again when a node cannot host a volume yet.
const RETRY: Duration = Duration::from_secs(5);

/// The directory name of a claim's volume below the node's storage directory.
pub fn volume_dir_name(pvc: &PersistentVolumeClaim) -> String {
    format!(
        "pvc-{}_{}_{}",
        pvc.metadata.uid.as_deref().unwrap_or_default(),
        pvc.namespace().unwrap_or_default(),
        pvc.name_any()
    )
}

/// The volume this provisioner makes for `pvc` on `node` (storage dir `dir`) with the
/// class's reclaim policy.
pub fn volume_for(
    pvc: &PersistentVolumeClaim,
    class: &str,
    reclaim: &str,
    node: &Node,
    dir: &str,
) -> PersistentVolume {
    let spec = pvc.spec.clone().unwrap_or_default();
    let node_name = node.name_any();
    let hostname = node
        .labels()
        .get("kubernetes.io/hostname")
        .cloned()
        .unwrap_or_else(|| node_name.clone());
    let capacity = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| BTreeMap::from([("storage".to_string(), q.clone())]));
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(format!(
                "pvc-{}",
                pvc.metadata.uid.as_deref().unwrap_or_default()
            )),
            annotations: Some(BTreeMap::from([
                (ANN_PROVISIONED_BY.to_string(), PROVISIONER.to_string()),
                (ANN_VOLUME_NODE.to_string(), node_name),
            ])),
            finalizers: Some(vec![
                crate::pv_protection::FINALIZER.to_string(),
                CLEANUP_FINALIZER.to_string(),
            ]),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity,
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: pvc.namespace(),
                name: Some(pvc.name_any()),
                uid: pvc.metadata.uid.clone(),
                resource_version: pvc.resource_version(),
                ..Default::default()
            }),
            host_path: Some(HostPathVolumeSource {
                path: format!("{}/{}", dir.trim_end_matches('/'), volume_dir_name(pvc)),
                type_: Some("DirectoryOrCreate".into()),
            }),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".into(),
                            operator: "In".into(),
                            values: Some(vec![hostname]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            persistent_volume_reclaim_policy: Some(reclaim.into()),
            storage_class_name: Some(class.into()),
            volume_mode: Some("Filesystem".into()),
            ..Default::default()
        }),
        status: None,
    }
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        && !n
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false)
}

struct Ctx {
    caches: Caches,
    events: Recorder,
}

/// Run the provisioning and deleting loops until `shutdown` resolves.
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
    .graceful_shutdown_on(shutdown.clone())
    .run(
        crate::metrics::instrument("local-path-provisioner", provision),
        |_, e, _| retry(e),
        ctx.clone(),
    )
    .for_each(|_| async {});
    let volumes = Controller::new(
        Api::<PersistentVolume>::all(client),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(shutdown)
    .run(
        crate::metrics::instrument("local-path-reclaimer", reclaim),
        |_, e, _| retry(e),
        ctx,
    )
    .for_each(|_| async {});
    futures_util::future::join(claims, volumes).await;
    Ok(())
}

fn retry(e: &ControllerError) -> Action {
    if e.http_code() != Some(409) {
        tracing::warn!(error = %e, "local-path reconcile failed; retrying");
    }
    Action::requeue(Duration::from_secs(2))
}

async fn provision(
    pvc: Arc<PersistentVolumeClaim>,
    ctx: Arc<Ctx>,
) -> Result<Action, ControllerError> {
    let spec = pvc.spec.clone().unwrap_or_default();
    let unbound = spec.volume_name.as_deref().unwrap_or("").is_empty();
    let ours = pvc
        .annotations()
        .get(ANN_STORAGE_PROVISIONER)
        .map(String::as_str)
        == Some(PROVISIONER);
    if pvc.metadata.deletion_timestamp.is_some() || !unbound || !ours {
        return Ok(Action::await_change());
    }
    let class_name = claim_class(&pvc).to_string();
    let Some(class) = ctx
        .caches
        .class(&class_name)
        .filter(|c| c.provisioner == PROVISIONER)
    else {
        return Ok(Action::await_change());
    };
    let pv_api: Api<PersistentVolume> = Api::all(ctx.caches.client.clone());
    let pv_name = format!("pvc-{}", pvc.metadata.uid.as_deref().unwrap_or_default());
    if pv_api
        .get_opt(&pv_name)
        .await
        .map_err(ControllerError::api(format!(
            "reading PersistentVolume {pv_name}"
        )))?
        .is_some()
    {
        return Ok(Action::await_change());
    }
    let fail = |msg: String| {
        format!("failed to provision volume with StorageClass \"{class_name}\": {msg}")
    };
    let node = match pvc.annotations().get(ANN_SELECTED_NODE) {
        Some(n) => ctx.caches.node(n),
        None if is_delay_binding(Some(&class)) => return Ok(Action::await_change()),
        None => {
            let mut nodes = ctx.caches.nodes.state();
            nodes.sort_by_key(|n| n.name_any());
            nodes
                .into_iter()
                .find(|n| node_ready(n) && n.annotations().contains_key(ANN_NODE_DIR))
        }
    };
    let Some(node) = node else {
        let msg = match pvc.annotations().get(ANN_SELECTED_NODE) {
            Some(n) => fail(format!("nodes \"{n}\" not found")),
            None => fail("no ready node can host local-path volumes".into()),
        };
        ctx.events
            .warning(pvc.as_ref(), "ProvisioningFailed", &msg)
            .await;
        return Ok(Action::requeue(RETRY));
    };
    if spec.volume_mode.as_deref() == Some("Block") {
        let msg = fail("Block volume mode is not supported".into());
        ctx.events
            .warning(pvc.as_ref(), "ProvisioningFailed", &msg)
            .await;
        return Ok(Action::await_change());
    }
    let Some(dir) = node
        .annotations()
        .get(ANN_NODE_DIR)
        .filter(|d| d.starts_with('/'))
    else {
        let msg = fail(format!(
            "node \"{}\" has no local-path directory (annotation {ANN_NODE_DIR}); is its agent running?",
            node.name_any()
        ));
        ctx.events
            .warning(pvc.as_ref(), "ProvisioningFailed", &msg)
            .await;
        return Ok(Action::requeue(RETRY));
    };
    let key = format!("{}/{}", pvc.namespace().unwrap_or_default(), pvc.name_any());
    ctx.events
        .normal(
            pvc.as_ref(),
            "Provisioning",
            &format!("External provisioner is provisioning volume for claim \"{key}\""),
        )
        .await;
    let reclaim = class.reclaim_policy.as_deref().unwrap_or("Delete");
    let pv = volume_for(&pvc, &class_name, reclaim, &node, dir);
    match pv_api.create(&PostParams::default(), &pv).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => {
            ctx.events
                .warning(pvc.as_ref(), "ProvisioningFailed", &fail(e.to_string()))
                .await;
            return Err(ControllerError::api(format!(
                "creating PersistentVolume {pv_name}"
            ))(e));
        }
    }
    ctx.events
        .normal(
            pvc.as_ref(),
            "ProvisioningSucceeded",
            &format!("Successfully provisioned volume {pv_name}"),
        )
        .await;
    Ok(Action::await_change())
}

async fn reclaim(pv: Arc<PersistentVolume>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    if pv.annotations().get(ANN_PROVISIONED_BY).map(String::as_str) != Some(PROVISIONER) {
        return Ok(Action::await_change());
    }
    let api: Api<PersistentVolume> = Api::all(ctx.caches.client.clone());
    if pv.metadata.deletion_timestamp.is_some() {
        // Nobody is left to clean up after a node that no longer exists.
        if let Some(node) = pv.annotations().get(ANN_VOLUME_NODE) {
            let gone = Api::<Node>::all(ctx.caches.client.clone())
                .get_opt(node)
                .await
                .map_err(ControllerError::api(format!("reading node {node}")))?
                .is_none();
            if gone {
                finalizers::remove(&api, pv.as_ref(), CLEANUP_FINALIZER).await?;
            }
        }
        return Ok(Action::await_change());
    }
    let phase = pv.status.as_ref().and_then(|s| s.phase.as_deref());
    let policy = pv
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref());
    if phase == Some("Released") && policy == Some("Delete") {
        match api.delete(&pv.name_any(), &DeleteParams::default()).await {
            Ok(_) => tracing::info!(volume = %pv.name_any(), "deleted released local-path volume"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(ControllerError::api(format!(
                    "deleting volume {}",
                    pv.name_any()
                ))(e))
            }
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn provisioned_volume_reads_like_k3s() {
        let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "data", "namespace": "app", "uid": "1234", "resourceVersion": "7"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}
        }))
        .expect("pvc");
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "host-1"}}
        }))
        .expect("node");
        let pv = volume_for(
            &pvc,
            "local-path",
            "Delete",
            &node,
            "/var/lib/skiff/agent/storage/",
        );
        let v = serde_json::to_value(&pv).expect("json");
        assert_eq!(v["metadata"]["name"], "pvc-1234");
        assert_eq!(
            v["metadata"]["annotations"][ANN_PROVISIONED_BY],
            PROVISIONER
        );
        assert_eq!(
            v["spec"]["hostPath"],
            json!({"path": "/var/lib/skiff/agent/storage/pvc-1234_app_data", "type": "DirectoryOrCreate"})
        );
        assert_eq!(v["spec"]["capacity"]["storage"], "2Gi");
        assert_eq!(v["spec"]["claimRef"]["uid"], "1234");
        assert_eq!(v["spec"]["persistentVolumeReclaimPolicy"], "Delete");
        assert_eq!(
            v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0],
            json!({"key": "kubernetes.io/hostname", "operator": "In", "values": ["host-1"]})
        );
        assert_eq!(
            v["metadata"]["finalizers"],
            json!(["kubernetes.io/pv-protection", CLEANUP_FINALIZER])
        );
    }
}
