//! One reconcile of a ReplicaSet (or ReplicationController): claim pods, create or delete
//! the difference, write status.

use super::{key_of, Ctx, ReplicaOwner, BURST};
use crate::error::ControllerError;
use crate::owner_refs::{claim, controller_ref};
use crate::pod_state::{is_active, is_available, ready_since, sort_for_deletion};
use futures_util::future::join_all;
use k8s_openapi::api::apps::v1::{ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// Pods created in the first batch; each later batch doubles (upstream's slow start), so a
/// template the API rejects costs one failed request, not `replicas` of them.
const SLOW_START_INITIAL_BATCH: usize = 1;
/// Look again at least this often while writes are unobserved (a lost event must not wedge
/// the object until the expectations time out).
const UNOBSERVED_RECHECK: Duration = Duration::from_secs(30);

/// What `manage` failed at, for the ReplicaFailure condition.
struct ManageError {
    reason: &'static str,
    message: String,
}

/// Reconcile one object.
pub async fn reconcile<K: ReplicaOwner>(
    owner: Arc<K>,
    ctx: Arc<Ctx<K>>,
) -> Result<Action, ControllerError> {
    let key = key_of(owner.as_ref());
    let Some(selector) = owner.selector() else {
        return Ok(Action::await_change());
    };
    // Read before listing: a pod observed after this check is in the list below.
    let needs_sync = ctx.expectations.satisfied(&key);
    let deleting = owner.meta().deletion_timestamp.is_some();
    let active = ctx.pods.state().into_iter().filter(|p| is_active(p));
    let owned = claim(&ctx.client, owner.as_ref(), active, |pod: &Pod| {
        !skiff_selectors::label_selector_is_empty(&selector)
            && skiff_selectors::label_selector_matches(&selector, pod.metadata.labels.as_ref())
    })
    .await?;
    let mut failure = None;
    if needs_sync && !deleting {
        failure = manage(&ctx, owner.as_ref(), &key, &owned).await;
    }
    let status = compute_status(owner.as_ref(), &owned, failure.as_ref(), Timestamp::now());
    let status = write_status(&ctx, owner.as_ref(), status).await?;
    let min_ready = owner.min_ready_seconds();
    if failure.is_some() {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    if min_ready > 0
        && status.ready_replicas.unwrap_or(0) == owner.replicas()
        && status.available_replicas.unwrap_or(0) != owner.replicas()
    {
        // Pods become available by the clock, not by an event.
        return Ok(Action::requeue(Duration::from_secs(min_ready as u64)));
    }
    if !needs_sync {
        return Ok(Action::requeue(UNOBSERVED_RECHECK));
    }
    Ok(Action::await_change())
}

/// Create or delete pods so `owned` reaches `spec.replicas`.
async fn manage<K: ReplicaOwner>(
    ctx: &Ctx<K>,
    owner: &K,
    key: &str,
    owned: &[Arc<Pod>],
) -> Option<ManageError> {
    let want = owner.replicas().max(0) as usize;
    let ns = owner.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    if owned.len() < want {
        let template = owner.template()?;
        let mut remaining = (want - owned.len()).min(BURST);
        let mut batch = remaining.min(SLOW_START_INITIAL_BATCH);
        ctx.expectations.begin(key);
        while batch > 0 {
            let results =
                join_all((0..batch).map(|_| create_pod(ctx, owner, key, &api, template))).await;
            if let Some(e) = results.into_iter().find_map(Result::err) {
                return Some(ManageError {
                    reason: "FailedCreate",
                    message: e,
                });
            }
            remaining -= batch;
            batch = remaining.min(batch * 2);
        }
    } else if owned.len() > want {
        let n = (owned.len() - want).min(BURST);
        let mut order: Vec<&Pod> = owned.iter().map(|p| p.as_ref()).collect();
        let related = order.clone();
        sort_for_deletion(&mut order, &related);
        ctx.expectations.begin(key);
        for p in &order[..n] {
            ctx.expectations.deleting(key, &p.name_any());
        }
        let results = join_all(
            order[..n]
                .iter()
                .map(|p| delete_pod(ctx, owner, key, &api, p)),
        )
        .await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Some(ManageError {
                reason: "FailedDelete",
                message: e,
            });
        }
    }
    None
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

async fn create_pod<K: ReplicaOwner>(
    ctx: &Ctx<K>,
    owner: &K,
    key: &str,
    api: &Api<Pod>,
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
) -> Result<(), String> {
    let tmeta = template.metadata.clone().unwrap_or_default();
    let pod = Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.name_any())),
            namespace: owner.namespace(),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref(owner)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    match api.create(&PostParams::default(), &pod).await {
        Ok(created) => {
            let name = created.name_any();
            ctx.expectations.created(key, &name);
            ctx.events
                .normal(owner, "SuccessfulCreate", &format!("Created pod: {name}"))
                .await;
            Ok(())
        }
        Err(e) => {
            let msg = api_message(&e);
            ctx.events
                .warning(owner, "FailedCreate", &format!("Error creating: {msg}"))
                .await;
            Err(msg)
        }
    }
}

async fn delete_pod<K: ReplicaOwner>(
    ctx: &Ctx<K>,
    owner: &K,
    key: &str,
    api: &Api<Pod>,
    pod: &Pod,
) -> Result<(), String> {
    let name = pod.name_any();
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => {
            ctx.events
                .normal(owner, "SuccessfulDelete", &format!("Deleted pod: {name}"))
                .await;
            Ok(())
        }
        // Already gone (or replaced by a namesake): nothing will be observed for it.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {
            ctx.expectations.delete_failed(key, &name);
            Ok(())
        }
        Err(e) => {
            ctx.expectations.delete_failed(key, &name);
            let msg = api_message(&e);
            ctx.events
                .warning(owner, "FailedDelete", &format!("Error deleting: {msg}"))
                .await;
            Err(msg)
        }
    }
}

/// The status the object should have (upstream's calculateStatus); zero counts are left
/// out as the Go API omits them.
fn compute_status<K: ReplicaOwner>(
    owner: &K,
    owned: &[Arc<Pod>],
    failure: Option<&ManageError>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let template_labels = owner
        .template()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = owned
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            template_labels
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .count() as i32;
    let ready = owned.iter().filter(|p| ready_since(p).is_some()).count() as i32;
    let available = owned
        .iter()
        .filter(|p| is_available(p, owner.min_ready_seconds(), now))
        .count() as i32;
    let old = owner.status();
    let mut conditions = old.conditions.unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c.type_ == "ReplicaFailure");
    match failure {
        Some(f) if !has_failure => conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(f.reason.into()),
            message: Some(f.message.clone()),
            last_transition_time: Some(Time(now)),
        }),
        None if has_failure => conditions.retain(|c| c.type_ != "ReplicaFailure"),
        _ => {}
    }
    let nz = |v: i32| (v != 0).then_some(v);
    ReplicaSetStatus {
        replicas: owned.len() as i32,
        fully_labeled_replicas: nz(fully_labeled),
        ready_replicas: nz(ready),
        available_replicas: nz(available),
        observed_generation: owner.meta().generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
        terminating_replicas: old.terminating_replicas,
    }
}

/// Write `status` unless it is already there; a conflict re-reads the object once.
async fn write_status<K: ReplicaOwner>(
    ctx: &Ctx<K>,
    owner: &K,
    status: ReplicaSetStatus,
) -> Result<ReplicaSetStatus, ControllerError> {
    if owner.status() != status {
        crate::status_write::replace_status(&ctx.client, owner, |obj| {
            obj.set_status(status.clone())
        })
        .await?;
    }
    Ok(status)
}
