//! The scheduler's writes to the API: bind, report unschedulable, nominate, evict
//! victims, emit events.

use crate::error::SchedulerError;
use crate::events::{pod_event, scheduled_message};
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::{Binding, Event, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::Client;
use serde_json::json;

/// POST pods/{name}/binding.
pub async fn bind(client: &Client, pod: &PodInfo, node: &str) -> Result<(), SchedulerError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()).filter(|u| !u.is_empty()),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_string()),
            ..Default::default()
        },
    };
    pods.create_subresource::<Binding, serde_json::Value>(
        "binding",
        &pod.name,
        &PostParams::default(),
        &binding,
    )
    .await
    .map_err(SchedulerError::api(format!(
        "binding {} to {node}",
        pod.key()
    )))?;
    Ok(())
}

/// The Scheduled event after a successful bind.
pub async fn report_scheduled(
    client: &Client,
    pod: &PodInfo,
    node: &str,
) -> Result<(), SchedulerError> {
    emit(
        client,
        pod_event(
            pod,
            "Normal",
            "Scheduled",
            "Binding",
            scheduled_message(pod, node),
        ),
    )
    .await
}

/// Record a failed attempt: PodScheduled=False/Unschedulable (and nominatedNodeName
/// after a preemption) on pods/status, then a FailedScheduling warning.
pub async fn report_unschedulable(
    client: &Client,
    pod: &PodInfo,
    message: &str,
    nominated: Option<&str>,
) -> Result<(), SchedulerError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    let mut status = json!({
        "conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": Timestamp::now().to_string(),
        }]
    });
    if let Some(node) = nominated {
        status["nominatedNodeName"] = json!(node);
    }
    pods.patch_status(
        &pod.name,
        &PatchParams::default(),
        &Patch::Strategic(json!({ "status": status })),
    )
    .await
    .map_err(SchedulerError::api(format!(
        "updating the status of {}",
        pod.key()
    )))?;
    let ev = pod_event(
        pod,
        "Warning",
        "FailedScheduling",
        "Scheduling",
        message.to_string(),
    );
    emit(client, ev).await
}

/// Delete a preemption victim (only the very pod that was chosen: UID precondition)
/// and tell it why.
pub async fn evict_victim(
    client: &Client,
    victim: &PodInfo,
    preemptor: &PodInfo,
    node: &str,
) -> Result<(), SchedulerError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &victim.namespace);
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(victim.uid.clone()).filter(|u| !u.is_empty()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match pods.delete(&victim.name, &dp).await {
        Ok(_) => {}
        // Already gone: the goal is reached.
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => {
            return Err(SchedulerError::api(format!("preempting {}", victim.key()))(
                e,
            ))
        }
    }
    let msg = format!("Preempted by pod {} on node {node}", preemptor.uid);
    emit(
        client,
        pod_event(victim, "Normal", "Preempted", "Preempting", msg),
    )
    .await
}

/// Create an Event.
pub async fn emit(client: &Client, ev: Event) -> Result<(), SchedulerError> {
    let ns = ev.metadata.namespace.clone().unwrap_or_default();
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    events
        .create(&PostParams::default(), &ev)
        .await
        .map(|_| ())
        .map_err(SchedulerError::api(format!(
            "creating event {}",
            ev.metadata.name.unwrap_or_default()
        )))
}

/// VolumeBinding's PreBind: put the chosen node on each delayed claim (the annotation the
/// PV controller and provisioners wait for), then wait, up to `timeout`, until every
/// claim is Bound. Repeating it after a failure is harmless.
pub async fn prebind_claims(
    client: &Client,
    pod: &PodInfo,
    claims: &[String],
    node: &str,
    timeout: std::time::Duration,
) -> Result<(), SchedulerError> {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use skiff_controllers::volume_match::ANN_SELECTED_NODE;
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &pod.namespace);
    for name in claims {
        let pvc = api.get(name).await.map_err(SchedulerError::api(format!(
            "reading claim {}/{name}",
            pod.namespace
        )))?;
        let bound = pvc
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_some_and(|v| !v.is_empty());
        let selected = pvc
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANN_SELECTED_NODE))
            .map(String::as_str);
        if bound || selected == Some(node) {
            continue;
        }
        let patch = json!({"metadata": {"annotations": {ANN_SELECTED_NODE: node}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(SchedulerError::api(format!(
                "selecting node {node} for claim {}/{name}",
                pod.namespace
            )))?;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut waiting: Vec<String> = claims.to_vec();
    loop {
        let mut still = Vec::new();
        for name in &waiting {
            let pvc = api.get(name).await.map_err(SchedulerError::api(format!(
                "reading claim {}/{name}",
                pod.namespace
            )))?;
            let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref());
            if phase != Some("Bound") {
                still.push(name.clone());
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(SchedulerError::VolumeBindTimeout {
                pod: pod.key(),
                claims: still,
                seconds: timeout.as_secs(),
            });
        }
        waiting = still;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
