//! One reconcile of a DaemonSet (upstream's syncDaemonSet): revisions, claim pods, create or
//! delete per node, one rolling-update step, history clean-up, status.

use super::placement::{add_default_tolerations, pin_to_node, placement, target_node, Placement};
use super::rules::{self, GENERATION_LABEL};
use super::{key_of, revisions, Ctx, BURST};
use crate::error::ControllerError;
use crate::history::HASH_LABEL;
use crate::owner_refs::{claim, controller_ref};
use futures_util::future::join_all;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Pods created in the first batch; each later batch doubles (upstream's slow start), so a
/// template the API rejects costs one failed request per pass, not one per node.
const SLOW_START_INITIAL_BATCH: usize = 1;
/// Look again at least this often while writes are unobserved (a lost event must not wedge
/// the set until the expectations time out).
const UNOBSERVED_RECHECK: Duration = Duration::from_secs(30);

/// Reconcile one DaemonSet.
pub async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let Some(spec) = ds.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    if skiff_selectors::label_selector_is_empty(&spec.selector) {
        ctx.events
            .warning(
                ds.as_ref(),
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
            )
            .await;
        return Ok(Action::await_change());
    }
    // Its pods and revisions may be going or orphaned: status would be guesswork (upstream
    // leaves a deleting set alone too).
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let key = key_of(&ds);
    let (hash, old_revisions) = revisions::construct(&ctx, &ds).await?;
    // Read before listing: a pod observed after this check is in the list below.
    let satisfied = ctx.expectations.satisfied(&key);
    let pods = claim_pods(&ctx, &ds, &spec.selector).await?;
    let placements: HashMap<String, Placement> = ctx
        .nodes
        .state()
        .iter()
        .map(|n| (n.name_any(), placement(&ds, n)))
        .collect();
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for p in &pods {
        if let Some(n) = target_node(p) {
            by_node.entry(n.to_string()).or_default().push(p.as_ref());
        }
    }
    let mut requeue: Option<Duration> = None;
    let mut result = Ok(());
    if satisfied {
        result = manage(&ctx, &ds, &key, &placements, &by_node, &hash, &mut requeue).await;
        if result.is_ok() && ctx.expectations.satisfied(&key) && !rules::is_on_delete(&ds) {
            let plan = rules::rolling_update(&ds, &placements, &by_node, &hash, Timestamp::now());
            result = sync_nodes(&ctx, &ds, &key, plan.delete, plan.create_on, &hash).await;
        }
        if result.is_ok() {
            let live: HashSet<String> = pods
                .iter()
                .filter_map(|p| p.labels().get(HASH_LABEL).cloned())
                .collect();
            result = revisions::cleanup(&ctx, &ds, &old_revisions, &live).await;
        }
    }
    let status = rules::compute_status(
        &ds,
        &placements,
        &by_node,
        &hash,
        satisfied,
        Timestamp::now(),
    );
    let written = write_status(&ctx, &ds, &status).await;
    result?;
    written?;
    let min_ready = rules::min_ready_seconds(&ds);
    if min_ready > 0 && status.number_ready != status.number_available.unwrap_or(0) {
        // Pods become available by the clock, not by an event.
        let d = Duration::from_secs(min_ready as u64);
        requeue = Some(requeue.map_or(d, |r| r.min(d)));
    }
    if !satisfied {
        requeue = Some(requeue.map_or(UNOBSERVED_RECHECK, |r| r.min(UNOBSERVED_RECHECK)));
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// The set's pods: those it controls that still match its selector, plus orphans it adopts;
/// controlled pods that stopped matching are released (upstream's ClaimPods).
async fn claim_pods(
    ctx: &Ctx,
    ds: &DaemonSet,
    selector: &LabelSelector,
) -> Result<Vec<Arc<Pod>>, ControllerError> {
    claim(&ctx.client, ds, ctx.pods.state(), |pod: &Pod| {
        skiff_selectors::label_selector_matches(selector, pod.metadata.labels.as_ref())
    })
    .await
}

/// Create the pods nodes lack and delete the ones they must lose (upstream's manage).
async fn manage(
    ctx: &Ctx,
    ds: &DaemonSet,
    key: &str,
    placements: &HashMap<String, Placement>,
    by_node: &BTreeMap<String, Vec<&Pod>>,
    hash: &str,
    requeue: &mut Option<Duration>,
) -> Result<(), ControllerError> {
    let surge = rules::allows_surge(ds);
    let min_ready = rules::min_ready_seconds(ds);
    let now = Timestamp::now();
    let mut create_on = Vec::new();
    let mut delete = Vec::new();
    let mut names: Vec<&String> = placements.keys().collect();
    names.sort();
    for node in names {
        let place = placements[node];
        let plan = rules::plan_node(
            place,
            by_node.get(node).map(Vec::as_slice),
            hash,
            surge,
            min_ready,
            now,
        );
        if plan.create {
            create_on.push(node.clone());
        }
        delete.extend(plan.delete);
        for pod in plan.failed {
            let backoff_key = format!(
                "{}/{}/{node}",
                ds.metadata.uid.as_deref().unwrap_or(""),
                ds.status
                    .as_ref()
                    .and_then(|s| s.observed_generation)
                    .unwrap_or(0)
            );
            let t = tokio::time::Instant::now();
            if let Some(wait) = ctx.backoff.waiting(&backoff_key, t) {
                *requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
                continue;
            }
            ctx.backoff.bump(&backoff_key, t);
            let ns = ds.namespace().unwrap_or_default();
            ctx.events
                .warning(
                    ds,
                    "FailedDaemonPod",
                    &format!(
                        "Found failed daemon pod {ns}/{pod} on node {node}, will try to kill it"
                    ),
                )
                .await;
            delete.push(pod);
        }
        for pod in plan.succeeded {
            let ns = ds.namespace().unwrap_or_default();
            ctx.events
                .normal(
                    ds,
                    "SucceededDaemonPod",
                    &format!(
                        "Found succeeded daemon pod {ns}/{pod} on node {node}, will try to delete it"
                    ),
                )
                .await;
            delete.push(pod);
        }
    }
    // Unbound pods meant for nodes that no longer exist: nothing else would ever remove them.
    for (node, pods) in by_node {
        if !placements.contains_key(node) {
            delete.extend(
                pods.iter()
                    .filter(|p| crate::pod_state::node(p).is_empty())
                    .filter_map(|p| p.metadata.name.clone()),
            );
        }
    }
    sync_nodes(ctx, ds, key, delete, create_on, hash).await
}

/// The template new pods get: default tolerations, the revision hash and template
/// generation labels (upstream's CreatePodTemplate).
fn pod_template(ds: &DaemonSet, hash: &str) -> PodTemplateSpec {
    let mut t = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    if let Some(spec) = t.spec.as_mut() {
        add_default_tolerations(spec);
    }
    let labels = t
        .metadata
        .get_or_insert_with(ObjectMeta::default)
        .labels
        .get_or_insert_with(BTreeMap::new);
    if let Some(g) = rules::template_generation(ds) {
        labels.insert(GENERATION_LABEL.into(), g.to_string());
    }
    if !hash.is_empty() {
        labels.insert(HASH_LABEL.into(), hash.into());
    }
    t
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// Delete `delete` and create a pod on each node of `create_on`, within the burst limit,
/// recording expectations first so a lagging cache cannot cause a second round.
async fn sync_nodes(
    ctx: &Ctx,
    ds: &DaemonSet,
    key: &str,
    mut delete: Vec<String>,
    mut create_on: Vec<String>,
    hash: &str,
) -> Result<(), ControllerError> {
    if delete.is_empty() && create_on.is_empty() {
        return Ok(());
    }
    create_on.truncate(BURST);
    delete.truncate(BURST);
    let ns = ds.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    ctx.expectations.begin(key);
    for name in &delete {
        ctx.expectations.deleting(key, name);
    }
    let template = pod_template(ds, hash);
    let mut first_error: Option<kube::Error> = None;
    let mut pos = 0;
    let mut batch = create_on.len().min(SLOW_START_INITIAL_BATCH);
    while batch > 0 {
        let results = join_all(
            create_on[pos..pos + batch]
                .iter()
                .map(|node| create_pod(ctx, ds, key, &api, &template, node)),
        )
        .await;
        pos += batch;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            // The rest would most likely fail the same way: a later pass retries them.
            first_error = Some(e);
            break;
        }
        batch = (create_on.len() - pos).min(batch * 2);
    }
    let uids: HashMap<String, String> = if delete.is_empty() {
        HashMap::new()
    } else {
        ctx.pods
            .state()
            .iter()
            .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
            .filter_map(|p| Some((p.metadata.name.clone()?, p.metadata.uid.clone()?)))
            .collect()
    };
    let results = join_all(
        delete
            .iter()
            .map(|name| delete_pod(ctx, ds, key, &api, name, uids.get(name).cloned())),
    )
    .await;
    if first_error.is_none() {
        first_error = results.into_iter().find_map(Result::err);
    }
    match first_error {
        None => Ok(()),
        Some(e) => Err(ControllerError::api(format!(
            "syncing pods of daemon set {}",
            ds.name_any()
        ))(e)),
    }
}

async fn create_pod(
    ctx: &Ctx,
    ds: &DaemonSet,
    key: &str,
    api: &Api<Pod>,
    template: &PodTemplateSpec,
    node: &str,
) -> Result<(), kube::Error> {
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut spec = template.spec.clone();
    if let Some(s) = spec.as_mut() {
        // Pinned by affinity rather than nodeName so the scheduler still checks resources.
        s.affinity = Some(pin_to_node(s.affinity.take(), node));
    }
    let pod = Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", ds.name_any())),
            namespace: ds.namespace(),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref(ds)]),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    };
    match api.create(&PostParams::default(), &pod).await {
        Ok(created) => {
            let name = created.name_any();
            ctx.expectations.created(key, &name);
            ctx.events
                .normal(ds, "SuccessfulCreate", &format!("Created pod: {name}"))
                .await;
            Ok(())
        }
        Err(e) => {
            ctx.events
                .warning(
                    ds,
                    "FailedCreate",
                    &format!("Error creating: {}", api_message(&e)),
                )
                .await;
            Err(e)
        }
    }
}

async fn delete_pod(
    ctx: &Ctx,
    ds: &DaemonSet,
    key: &str,
    api: &Api<Pod>,
    name: &str,
    uid: Option<String>,
) -> Result<(), kube::Error> {
    // The uid precondition keeps a namesake created meanwhile safe.
    let dp = DeleteParams {
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => {
            ctx.events
                .normal(ds, "SuccessfulDelete", &format!("Deleted pod: {name}"))
                .await;
            Ok(())
        }
        // Already gone (or replaced by a namesake): no event will come for it.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {
            ctx.expectations.delete_failed(key, name);
            Ok(())
        }
        Err(e) => {
            ctx.expectations.delete_failed(key, name);
            ctx.events
                .warning(
                    ds,
                    "FailedDelete",
                    &format!("Error deleting: {}", api_message(&e)),
                )
                .await;
            Err(e)
        }
    }
}

/// Write `status` unless it is already there (upstream's storeDaemonSetStatus); a conflict
/// re-reads the set once.
async fn write_status(
    ctx: &Ctx,
    ds: &DaemonSet,
    status: &DaemonSetStatus,
) -> Result<(), ControllerError> {
    if ds.status.as_ref() == Some(status) {
        return Ok(());
    }
    crate::status_write::replace_status(&ctx.client, ds, |obj| {
        let mut s = status.clone();
        // A collision count bumped meanwhile must not be lost.
        s.collision_count = obj
            .status
            .as_ref()
            .and_then(|o| o.collision_count)
            .or(s.collision_count);
        obj.status = Some(s);
    })
    .await
}
