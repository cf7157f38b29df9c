//! A DaemonSet's ControllerRevisions (upstream's constructHistory, snapshot,
//! dedupCurHistories and cleanupHistory): one revision per template the set has had, the
//! current one numbered highest, its hash labelling new pods; old ones beyond
//! revisionHistoryLimit are deleted unless pods still run them.

use super::Ctx;
use crate::error::ControllerError;
use crate::history::{self, HASH_LABEL};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

/// Default revisionHistoryLimit.
const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// The revision hash labelling a revision (its name when the label is missing, as upstream
/// labels such revisions).
pub fn hash_of(rev: &ControllerRevision) -> String {
    rev.labels()
        .get(HASH_LABEL)
        .cloned()
        .unwrap_or_else(|| rev.name_any())
}

/// The current revision's hash and the old revisions (oldest first), creating or
/// renumbering the current revision as needed.
pub async fn construct(
    ctx: &Ctx,
    ds: &DaemonSet,
) -> Result<(String, Vec<Arc<ControllerRevision>>), ControllerError> {
    let Some(spec) = ds.spec.as_ref() else {
        return Ok((String::new(), Vec::new()));
    };
    let data = history::template_patch(&spec.template);
    let (current, old): (Vec<_>, Vec<_>) = history::owned_by(&ctx.revisions, ds)
        .into_iter()
        .partition(|r| r.data.as_ref().map(|d| &d.0) == Some(&data));
    let next = history::next_number(&old);
    let cur = match current.iter().max_by_key(|r| r.revision) {
        None => snapshot(ctx, ds, data, next).await?,
        Some(keep) => {
            for dup in current.iter().filter(|r| r.name_any() != keep.name_any()) {
                drop_duplicate(ctx, ds, dup, &hash_of(keep)).await?;
            }
            if keep.revision < next {
                history::renumber(&ctx.client, keep, next).await?
            } else {
                keep.as_ref().clone()
            }
        }
    };
    Ok((hash_of(&cur), old))
}

/// Create the revision for the current template. A hash collision with another template's
/// revision bumps status.collisionCount (so the next attempt hashes differently) and fails
/// this pass.
async fn snapshot(
    ctx: &Ctx,
    ds: &DaemonSet,
    data: serde_json::Value,
    number: i64,
) -> Result<ControllerRevision, ControllerError> {
    let collision = ds.status.as_ref().and_then(|s| s.collision_count);
    let labels = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.as_ref());
    let mut rev = history::new_revision(ds, labels, data, number, collision);
    // Upstream copies the set's annotations: kubectl shows kubernetes.io/change-cause from
    // the revision in `rollout history`.
    rev.metadata.annotations = ds.metadata.annotations.clone();
    let mut count = collision.unwrap_or(0);
    match history::create(&ctx.client, &rev, &mut count).await {
        Ok(created) => Ok(created),
        Err(e) => {
            if count != collision.unwrap_or(0) {
                store_collision_count(ctx, ds, count).await?;
            }
            Err(e)
        }
    }
}

/// Persist a bumped collision count, unless the cached one was stale (then the next pass
/// hashes with the fresh count anyway).
async fn store_collision_count(
    ctx: &Ctx,
    ds: &DaemonSet,
    count: i32,
) -> Result<(), ControllerError> {
    let name = ds.name_any();
    let api: Api<DaemonSet> =
        Api::namespaced(ctx.client.clone(), &ds.namespace().unwrap_or_default());
    let mut fresh = api
        .get(&name)
        .await
        .map_err(ControllerError::api(format!("reading daemon set {name}")))?;
    let cached = ds.status.as_ref().and_then(|s| s.collision_count);
    let status = fresh.status.get_or_insert_with(Default::default);
    if status.collision_count != cached {
        return Ok(());
    }
    status.collision_count = Some(count);
    tracing::info!(daemonset = %name, collision_count = count, "revision hash collision");
    api.replace_status(&name, &PostParams::default(), &fresh)
        .await
        .map_err(ControllerError::api(format!(
            "updating collisionCount of {name}"
        )))?;
    Ok(())
}

/// Remove a second revision of the current template, moving pods labelled with its hash to
/// the kept one's.
async fn drop_duplicate(
    ctx: &Ctx,
    ds: &DaemonSet,
    dup: &ControllerRevision,
    keep_hash: &str,
) -> Result<(), ControllerError> {
    let ns = ds.namespace().unwrap_or_default();
    let dup_hash = hash_of(dup);
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    for p in ctx.pods.state() {
        if p.namespace().as_deref() == Some(ns.as_str())
            && crate::owner_refs::controlled_by(p.as_ref(), ds)
            && p.labels().get(HASH_LABEL) == Some(&dup_hash)
        {
            let patch = json!({"metadata": {"labels": {HASH_LABEL: keep_hash}}});
            match pods
                .patch(
                    &p.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(ControllerError::api(format!(
                        "relabelling pod {}",
                        p.name_any()
                    ))(e))
                }
            }
        }
    }
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    match api.delete(&dup.name_any(), &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ControllerError::api(format!(
            "deleting revision {}",
            dup.name_any()
        ))(e)),
    }
}

/// Delete the oldest of `old` beyond revisionHistoryLimit, sparing revisions whose hash a
/// pod in `live_hashes` still carries.
pub async fn cleanup(
    ctx: &Ctx,
    ds: &DaemonSet,
    old: &[Arc<ControllerRevision>],
    live_hashes: &HashSet<String>,
) -> Result<(), ControllerError> {
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(DEFAULT_HISTORY_LIMIT)
        .max(0);
    if old.len() <= limit as usize {
        return Ok(());
    }
    let live: Vec<String> = old
        .iter()
        .filter(|r| live_hashes.contains(&hash_of(r)))
        .map(|r| r.name_any())
        .collect();
    let live_refs: Vec<&str> = live.iter().map(String::as_str).collect();
    // Upstream counts live revisions against the limit too: kill len(old) - limit of the
    // others, oldest first. history::truncate keeps `n` non-live ones, so n = limit - live.
    let keep = limit - live.len() as i32;
    history::truncate(&ctx.client, old, &live_refs, keep).await
}
