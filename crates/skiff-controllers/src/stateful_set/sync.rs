//! One reconcile of a StatefulSet: claim its pods, resolve its revisions, carry out the
//! [`plan`](super::plan), write status and trim the revision history.

use super::identity::{self, claims_for, identity_fixes, ordinal, pod_revision};
use super::plan::{self, Action as Step, Input, Slot};
use super::retention;
use super::revisions::{self, Revisions};
use super::status;
use super::Ctx;
use crate::error::ControllerError;
use crate::history;
use crate::pod_state::{is_available, phase, ready_since};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Look again this soon while a pod waits for something no watched event reports (a
/// stale claim being garbage collected).
const WAIT_RECHECK: Duration = Duration::from_secs(2);

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// Reconcile one StatefulSet.
pub async fn reconcile(set: Arc<StatefulSet>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let pods = claim_pods(&ctx, &set).await?;
    let revs = revisions::resolve(&ctx, &set).await?;
    let now = Timestamp::now();
    let mut requeue = None;
    if set.metadata.deletion_timestamp.is_none() {
        requeue = converge(&ctx, &set, &pods, &revs, now).await?;
    }
    let refs: Vec<&Pod> = pods.iter().map(|p| p.as_ref()).collect();
    let st = status::compute(
        &set,
        &refs,
        &revs.current.name_any(),
        &revs.update.name_any(),
        revs.collision_count,
        now,
    );
    write_status(&ctx, &set, &st).await?;
    let mut live: Vec<String> = vec![revs.current.name_any(), revs.update.name_any()];
    live.extend(pods.iter().map(|p| pod_revision(p).to_string()));
    let live: Vec<&str> = live.iter().map(String::as_str).collect();
    let limit = set
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    history::truncate(&ctx.client, &revs.all, &live, limit).await?;
    // Pods become available by the clock, not by an event.
    let min_ready = set
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    if min_ready > 0
        && pods
            .iter()
            .any(|p| ready_since(p).is_some() && !is_available(p, min_ready, now))
    {
        let wait = Duration::from_secs(min_ready as u64 + 1);
        requeue = Some(requeue.map_or(wait, |r: Duration| r.min(wait)));
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// The pods the set owns: adopts orphans that match its selector and are named as its
/// members, and releases owned pods that no longer qualify (upstream's ClaimPods).
async fn claim_pods(ctx: &Ctx, set: &StatefulSet) -> Result<Vec<Arc<Pod>>, ControllerError> {
    let Some(selector) = set.spec.as_ref().map(|s| s.selector.clone()) else {
        return Ok(Vec::new());
    };
    crate::owner_refs::claim(&ctx.client, set, ctx.pods.state(), |pod: &Pod| {
        !skiff_selectors::label_selector_is_empty(&selector)
            && skiff_selectors::label_selector_matches(&selector, pod.metadata.labels.as_ref())
            && identity::is_member_of(set, pod)
    })
    .await
}

fn claim(ctx: &Ctx, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
    ctx.claims.get(&ObjectRef::new(name).within(ns))
}

/// Whether a pod's identity labels, missing claims (while it is Pending) or claim
/// references need a write.
fn needs_fix(ctx: &Ctx, set: &StatefulSet, pod: &Pod) -> bool {
    if !identity_fixes(set, pod).is_empty() {
        return true;
    }
    let Some(ord) = ordinal(pod) else {
        return false;
    };
    let ns = set.namespace().unwrap_or_default();
    claims_for(set, ord)
        .iter()
        .any(|c| match claim(ctx, &ns, &c.name_any()) {
            None => phase(pod) == "Pending",
            Some(existing) => !retention::up_to_date(&existing, set, pod),
        })
}

/// Do what the plan says; returns when to look again, if no event will say.
async fn converge(
    ctx: &Ctx,
    set: &StatefulSet,
    pods: &[Arc<Pod>],
    revs: &Revisions,
    now: Timestamp,
) -> Result<Option<Duration>, ControllerError> {
    let ns = set.namespace().unwrap_or_default();
    let start = identity::start_ordinal(set);
    let replicas = identity::replicas(set);
    let spec = set.spec.as_ref();
    let find = |o: i32| {
        pods.iter()
            .find(|p| ordinal(p) == Some(o))
            .map(|p| p.as_ref())
    };
    let mut waiting = false;
    let slots: Vec<Slot> = (start..start + replicas)
        .map(|o| {
            let pod = find(o);
            let claim_stale = pod.is_none()
                && claims_for(set, o).iter().any(|c| {
                    claim(ctx, &ns, &c.name_any()).is_some_and(|existing| {
                        existing.metadata.deletion_timestamp.is_some()
                            || retention::is_stale_for_new_pod(
                                &existing,
                                &identity::pod_name(set, o),
                            )
                    })
                });
            waiting |= claim_stale;
            Slot {
                ordinal: o,
                pod,
                needs_fix: pod.is_some_and(|p| needs_fix(ctx, set, p)),
                claim_stale,
            }
        })
        .collect();
    let condemned: Vec<&Pod> = pods
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| ordinal(p).is_some_and(|o| !identity::in_range(set, o)))
        .collect();
    let rolling = status::is_rolling_update(set);
    let partition = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let update_name = revs.update.name_any();
    let input = Input {
        slots,
        condemned: condemned.clone(),
        monotonic: spec.and_then(|s| s.pod_management_policy.as_deref()) != Some("Parallel"),
        min_ready_seconds: spec.and_then(|s| s.min_ready_seconds).unwrap_or(0),
        on_delete: !rolling,
        partition,
        update_revision: &update_name,
        now,
    };
    // Claims of pods being scaled away get their references first, so deleting the pod
    // lets the garbage collector take them under whenScaled: Delete.
    for pod in &condemned {
        fix_claim_refs(ctx, set, pod).await?;
    }
    let current_template = revisions::template_of(&revs.current);
    let update_template = revisions::template_of(&revs.update);
    for step in plan::plan(&input) {
        match step {
            Step::Recreate { name, failed } => {
                let (type_, reason, what) = if failed {
                    ("Warning", "RecreatingFailedPod", "failed")
                } else {
                    ("Normal", "RecreatingTerminatedPod", "terminated")
                };
                let msg = format!(
                    "StatefulSet {ns}/{} is recreating {what} Pod {name}",
                    set.name_any()
                );
                if type_ == "Warning" {
                    ctx.events.warning(set, reason, &msg).await;
                } else {
                    ctx.events.normal(set, reason, &msg).await;
                }
                if let Some(p) = pods.iter().find(|p| p.name_any() == name) {
                    delete_pod(ctx, set, p).await?;
                }
            }
            Step::Create(o) => {
                // Pods below the partition come back at the current revision.
                let (rev, template) = if rolling && o - start < partition {
                    (&revs.current, current_template.as_ref())
                } else {
                    (&revs.update, update_template.as_ref())
                };
                let fallback = spec.map(|s| &s.template);
                let Some(template) = template.or(fallback) else {
                    continue;
                };
                create_pod(ctx, set, o, template, &rev.name_any()).await?;
            }
            Step::Fix(o) => {
                if let Some(p) = find(o) {
                    fix_pod(ctx, set, p).await?;
                }
            }
            Step::ScaleDown(name) | Step::Update(name) => {
                if let Some(p) = pods.iter().find(|p| p.name_any() == name) {
                    delete_pod(ctx, set, p).await?;
                }
            }
        }
    }
    Ok(waiting.then_some(WAIT_RECHECK))
}

/// Create the claims of ordinal `o` that do not exist yet, then its pod.
async fn create_pod(
    ctx: &Ctx,
    set: &StatefulSet,
    o: i32,
    template: &PodTemplateSpec,
    revision: &str,
) -> Result<(), ControllerError> {
    let ns = set.namespace().unwrap_or_default();
    let pod = identity::new_pod(set, template, o, revision);
    let name = pod.name_any();
    create_missing_claims(ctx, set, &pod).await?;
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match api.create(&PostParams::default(), &pod).await {
        Ok(_) => {
            let msg = format!(
                "create Pod {name} in StatefulSet {} successful",
                set.name_any()
            );
            ctx.events.normal(set, "SuccessfulCreate", &msg).await;
            Ok(())
        }
        // The cache lags behind: the pod's own event brings the set back here.
        Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "AlreadyExists" => Ok(()),
        Err(e) => {
            let msg = format!(
                "create Pod {name} in StatefulSet {} failed error: {}",
                set.name_any(),
                api_message(&e)
            );
            ctx.events.warning(set, "FailedCreate", &msg).await;
            Err(ControllerError::api(format!("creating pod {name}"))(e))
        }
    }
}

/// Create each claim of `pod` missing from the cache, with the owner references the
/// retention policy asks for.
async fn create_missing_claims(
    ctx: &Ctx,
    set: &StatefulSet,
    pod: &Pod,
) -> Result<(), ControllerError> {
    let Some(o) = ordinal(pod) else {
        return Ok(());
    };
    let ns = set.namespace().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    for mut c in claims_for(set, o) {
        let cname = c.name_any();
        if claim(ctx, &ns, &cname).is_some() {
            continue;
        }
        let refs = retention::owner_refs(&c, set, pod);
        c.metadata.owner_references = (!refs.is_empty()).then_some(refs);
        let pname = pod.name_any();
        match api.create(&PostParams::default(), &c).await {
            Ok(_) => {
                let msg = format!(
                    "create Claim {cname} Pod {pname} in StatefulSet {} success",
                    set.name_any()
                );
                ctx.events.normal(set, "SuccessfulCreate", &msg).await;
            }
            Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "AlreadyExists" => {}
            Err(e) => {
                let msg = format!(
                    "create Claim {cname} for Pod {pname} in StatefulSet {} failed error: {}",
                    set.name_any(),
                    api_message(&e)
                );
                ctx.events.warning(set, "FailedCreate", &msg).await;
                return Err(ControllerError::api(format!("creating claim {cname}"))(e));
            }
        }
    }
    Ok(())
}

/// Bring the owner references of `pod`'s existing claims in line with the policy.
async fn fix_claim_refs(ctx: &Ctx, set: &StatefulSet, pod: &Pod) -> Result<bool, ControllerError> {
    let Some(o) = ordinal(pod) else {
        return Ok(false);
    };
    let ns = set.namespace().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let mut changed = false;
    for c in claims_for(set, o) {
        let Some(existing) = claim(ctx, &ns, &c.name_any()) else {
            continue;
        };
        if retention::up_to_date(&existing, set, pod) {
            continue;
        }
        let refs = retention::owner_refs(&existing, set, pod);
        let patch = json!({"metadata": {
            "ownerReferences": refs,
            "resourceVersion": existing.resource_version(),
        }});
        match api
            .patch(
                &existing.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => changed = true,
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(ControllerError::api(format!(
                    "updating claim {}",
                    existing.name_any()
                ))(e))
            }
        }
    }
    Ok(changed)
}

/// Restore a pod's identity labels, create its missing claims and fix their references
/// (upstream's UpdateStatefulPod; a pod's volumes cannot change, so they are not touched).
async fn fix_pod(ctx: &Ctx, set: &StatefulSet, pod: &Pod) -> Result<(), ControllerError> {
    let name = pod.name_any();
    let fixes = identity_fixes(set, pod);
    let mut changed = false;
    if !fixes.is_empty() {
        let labels: BTreeMap<&str, String> = fixes.into_iter().collect();
        let patch = json!({"metadata": {
            "labels": labels,
            "resourceVersion": pod.resource_version(),
        }});
        let api: Api<Pod> =
            Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
        if let Err(e) = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            let msg = format!(
                "update Pod {name} in StatefulSet {} failed error: {}",
                set.name_any(),
                api_message(&e)
            );
            ctx.events.warning(set, "FailedUpdate", &msg).await;
            return Err(ControllerError::api(format!("updating pod {name}"))(e));
        }
        changed = true;
    }
    if phase(pod) == "Pending" {
        create_missing_claims(ctx, set, pod).await?;
    }
    changed |= fix_claim_refs(ctx, set, pod).await?;
    if changed {
        let msg = format!(
            "update Pod {name} in StatefulSet {} successful",
            set.name_any()
        );
        ctx.events.normal(set, "SuccessfulUpdate", &msg).await;
    }
    Ok(())
}

/// Delete a pod (this exact one: a namesake created meanwhile is left alone).
async fn delete_pod(ctx: &Ctx, set: &StatefulSet, pod: &Pod) -> Result<(), ControllerError> {
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => {
            let msg = format!(
                "delete Pod {name} in StatefulSet {} successful",
                set.name_any()
            );
            ctx.events.normal(set, "SuccessfulDelete", &msg).await;
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => {
            let msg = format!(
                "delete Pod {name} in StatefulSet {} failed error: {}",
                set.name_any(),
                api_message(&e)
            );
            ctx.events.warning(set, "FailedDelete", &msg).await;
            Err(ControllerError::api(format!("deleting pod {name}"))(e))
        }
    }
}

/// Write `st` unless the set already has it; a conflict re-reads the set once.
async fn write_status(
    ctx: &Ctx,
    set: &StatefulSet,
    st: &StatefulSetStatus,
) -> Result<(), ControllerError> {
    if set.status.as_ref() == Some(st) {
        return Ok(());
    }
    crate::status_write::replace_status(&ctx.client, set, |obj| obj.status = Some(st.clone())).await
}
