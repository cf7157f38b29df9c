//! One reconcile of a Deployment (upstream's syncDeployment): claim ReplicaSets, find or
//! create the new one, take one rollout step, write status.

use super::rules::{self, rs_available, rs_replicas};
use super::{pod_template_hash, Ctx, COMPONENT, HASH_LABEL};
use crate::error::ControllerError;
use crate::owner_refs::{controller_of, controller_ref};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// A template without the hash label, for comparing a deployment's template with a
/// ReplicaSet's (upstream's EqualIgnoreHash).
fn without_hash(t: Option<&PodTemplateSpec>) -> serde_json::Value {
    let mut t = t.cloned().unwrap_or_default();
    if let Some(m) = t.metadata.as_mut() {
        if let Some(l) = m.labels.as_mut() {
            l.remove(HASH_LABEL);
            if l.is_empty() {
                m.labels = None;
            }
        }
    }
    let mut v = serde_json::to_value(t).unwrap_or_default();
    prune_empty(&mut v);
    v
}

/// Drop nulls and empty maps and lists: a template that went through a client (kubectl
/// rollout undo) may spell "absent" as "empty", which is the same template.
fn prune_empty(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for x in m.values_mut() {
                prune_empty(x);
            }
            m.retain(|_, x| {
                !(x.is_null()
                    || x.as_object().is_some_and(|o| o.is_empty())
                    || x.as_array().is_some_and(|a| a.is_empty()))
            });
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

/// The state of one rollout step.
pub(super) struct Rollout<'a> {
    pub ctx: &'a Ctx,
    /// The deployment, with the annotations and status this step wants.
    pub d: Deployment,
    /// Its ReplicaSets, as last written.
    pub rs: Vec<ReplicaSet>,
    /// Index of the new ReplicaSet in `rs`.
    pub new: Option<usize>,
    pub now: Timestamp,
}

impl Rollout<'_> {
    fn ns(&self) -> String {
        self.d.namespace().unwrap_or_default()
    }

    fn rs_api(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.ctx.client.clone(), &self.ns())
    }

    pub fn olds(&self) -> Vec<usize> {
        (0..self.rs.len())
            .filter(|i| Some(*i) != self.new)
            .collect()
    }

    pub fn all(&self) -> Vec<&ReplicaSet> {
        self.rs.iter().collect()
    }

    /// Set a ReplicaSet's size (and the deployment-size annotations); emits
    /// ScalingReplicaSet when the size changes.
    pub async fn scale_rs(&mut self, i: usize, to: i32) -> Result<bool, ControllerError> {
        let want = rules::replicas(&self.d);
        let max = want + rules::max_surge(&self.d);
        let mut rs = self.rs[i].clone();
        let from = rs_replicas(&rs);
        let ann_changed = rules::set_replicas_annotations(&mut rs, want, max);
        if from == to && !ann_changed {
            return Ok(false);
        }
        if let Some(s) = rs.spec.as_mut() {
            s.replicas = Some(to);
        }
        let name = rs.name_any();
        let updated = self
            .rs_api()
            .replace(&name, &PostParams::default(), &rs)
            .await
            .map_err(ControllerError::api(format!("scaling replica set {name}")))?;
        self.rs[i] = updated;
        if from != to {
            let op = if from < to { "up" } else { "down" };
            self.ctx
                .events
                .normal(
                    &self.d,
                    "ScalingReplicaSet",
                    &format!("Scaled {op} replica set {name} from {from} to {to}"),
                )
                .await;
        }
        Ok(from != to)
    }

    /// Find the new ReplicaSet, bring its revision up to date and, when `create`, create
    /// it (upstream's getAllReplicaSetsAndSyncRevision).
    pub async fn sync_revision(&mut self, create: bool) -> Result<(), ControllerError> {
        let template = self
            .d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let want = without_hash(Some(&template));
        self.rs.sort_by(|a, b| {
            let t = |r: &ReplicaSet| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
            t(a).cmp(&t(b))
                .then_with(|| a.name_any().cmp(&b.name_any()))
        });
        self.new = self
            .rs
            .iter()
            .position(|r| without_hash(r.spec.as_ref().and_then(|s| s.template.as_ref())) == want);
        let max_old = self
            .olds()
            .iter()
            .map(|i| rules::revision(&self.rs[*i]))
            .max()
            .unwrap_or(0);
        let revision = max_old + 1;
        let has_deadline = rules::progress_deadline(&self.d).is_some();
        if let Some(i) = self.new {
            let mut rs = self.rs[i].clone();
            let ann = rules::set_new_rs_annotations(&self.d, &mut rs, revision);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let spec = rs.spec.get_or_insert_with(Default::default);
            let mrs = spec.min_ready_seconds != min_ready;
            if ann || mrs {
                spec.min_ready_seconds = min_ready;
                let name = rs.name_any();
                self.rs[i] = self
                    .rs_api()
                    .replace(&name, &PostParams::default(), &rs)
                    .await
                    .map_err(ControllerError::api(format!("updating replica set {name}")))?;
            }
            let rev = rules::revision(&self.rs[i]);
            self.set_revision(rev);
            let status = self.d.status.get_or_insert_with(Default::default);
            if has_deadline && rules::condition(status, "Progressing").is_none() {
                let msg = format!("Found new replica set \"{}\"", self.rs[i].name_any());
                rules::set_condition(
                    status,
                    rules::new_condition(
                        "Progressing",
                        "True",
                        "FoundNewReplicaSet",
                        msg,
                        self.now,
                    ),
                );
            }
            return Ok(());
        }
        if !create {
            return Ok(());
        }
        let collisions = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = pod_template_hash(&template, collisions);
        let mut t = template.clone();
        t.metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", self.d.name_any())),
                namespace: Some(self.ns()),
                labels: t.metadata.as_ref().and_then(|m| m.labels.clone()),
                owner_references: Some(vec![controller_ref(&self.d)]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: self.d.spec.as_ref().and_then(|s| s.min_ready_seconds),
                selector,
                template: Some(t),
            }),
            status: None,
        };
        let mut all = self.all();
        all.push(&rs);
        let size = rules::new_rs_replicas(&self.d, &all, &rs);
        if let Some(s) = rs.spec.as_mut() {
            s.replicas = Some(size);
        }
        rules::set_new_rs_annotations(&self.d, &mut rs, revision);
        let name = rs.name_any();
        let created = match self.rs_api().create(&PostParams::default(), &rs).await {
            Ok(c) => c,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = self
                    .rs_api()
                    .get(&name)
                    .await
                    .map_err(ControllerError::api(format!("reading replica set {name}")))?;
                let ours = controller_of(&existing)
                    .is_some_and(|r| Some(&r.uid) == self.d.metadata.uid.as_ref());
                if ours
                    && without_hash(existing.spec.as_ref().and_then(|s| s.template.as_ref()))
                        == want
                {
                    // Our cache had not seen it yet.
                    self.rs.push(existing);
                    self.new = Some(self.rs.len() - 1);
                    return Ok(());
                }
                // A different template hashed to the same name: bump the collision count
                // so the next attempt gets another name.
                let status = self.d.status.get_or_insert_with(Default::default);
                status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                return Err(ControllerError::api(format!(
                    "hash collision creating {name}"
                ))(kube::Error::Api(s)));
            }
            Err(e) => {
                if has_deadline {
                    let status = self.d.status.get_or_insert_with(Default::default);
                    let msg = format!("Failed to create new replica set \"{name}\": {e}");
                    rules::set_condition(
                        status,
                        rules::new_condition(
                            "Progressing",
                            "False",
                            "ReplicaSetCreateError",
                            msg,
                            self.now,
                        ),
                    );
                }
                return Err(ControllerError::api(format!("creating replica set {name}"))(e));
            }
        };
        if size > 0 {
            self.ctx
                .events
                .normal(
                    &self.d,
                    "ScalingReplicaSet",
                    &format!("Scaled up replica set {name} from 0 to {size}"),
                )
                .await;
        }
        self.set_revision(revision);
        if has_deadline {
            let status = self.d.status.get_or_insert_with(Default::default);
            let msg = format!("Created new replica set \"{name}\"");
            rules::set_condition(
                status,
                rules::new_condition("Progressing", "True", "NewReplicaSetCreated", msg, self.now),
            );
        }
        self.rs.push(created);
        self.new = Some(self.rs.len() - 1);
        Ok(())
    }

    fn set_revision(&mut self, rev: i64) {
        if rev > 0 {
            self.d
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(rules::REVISION.into(), rev.to_string());
        }
    }

    /// One RollingUpdate step (upstream's rolloutRolling).
    async fn rolling(&mut self) -> Result<(), ControllerError> {
        self.sync_revision(true).await?;
        let Some(n) = self.new else { return Ok(()) };
        let want = rules::replicas(&self.d);
        let cur = rs_replicas(&self.rs[n]);
        let target = if cur > want {
            want
        } else {
            rules::new_rs_replicas(&self.d, &self.all(), &self.rs[n])
        };
        if target != cur && self.scale_rs(n, target).await? {
            return Ok(());
        }
        if self.scale_down_old().await? {
            return Ok(());
        }
        if rules::is_complete(&self.d, &self.status_now()) {
            self.cleanup().await?;
        }
        Ok(())
    }

    /// Scale old ReplicaSets down as far as availability allows (upstream's
    /// reconcileOldReplicaSets): unhealthy replicas first, then by age.
    async fn scale_down_old(&mut self) -> Result<bool, ControllerError> {
        let olds: Vec<usize> = self
            .olds()
            .into_iter()
            .filter(|i| rs_replicas(&self.rs[*i]) > 0)
            .collect();
        if olds.is_empty() {
            return Ok(false);
        }
        let Some(n) = self.new else { return Ok(false) };
        let all_pods: i32 = self.rs.iter().map(rs_replicas).sum();
        let min_available = rules::replicas(&self.d) - rules::max_unavailable(&self.d);
        let new_unavailable = rs_replicas(&self.rs[n]) - rs_available(&self.rs[n]);
        let max_down = all_pods - min_available - new_unavailable;
        if max_down <= 0 {
            return Ok(false);
        }
        let mut scaled = 0;
        for i in &olds {
            if scaled >= max_down {
                break;
            }
            let (r, a) = (rs_replicas(&self.rs[*i]), rs_available(&self.rs[*i]));
            if r == 0 || r <= a {
                continue;
            }
            let down = (max_down - scaled).min(r - a);
            self.scale_rs(*i, r - down).await?;
            scaled += down;
        }
        // A ReplicaSet just scaled down still reports the pods it is deleting as available
        // until its controller catches up; never count more than its spec keeps, or a
        // second pass would scale down below minAvailable.
        let available: i32 = self
            .rs
            .iter()
            .map(|rs| rs_available(rs).min(rs_replicas(rs)))
            .sum();
        if available > min_available {
            let total = available - min_available;
            let mut done = 0;
            for i in &olds {
                if done >= total {
                    break;
                }
                let r = rs_replicas(&self.rs[*i]);
                if r == 0 {
                    continue;
                }
                let down = r.min(total - done);
                self.scale_rs(*i, r - down).await?;
                done += down;
            }
            scaled += done;
        }
        Ok(scaled > 0)
    }

    /// One Recreate step: all old pods gone before the new ReplicaSet scales up.
    async fn recreate(&mut self) -> Result<(), ControllerError> {
        self.sync_revision(false).await?;
        let mut any = false;
        for i in self.olds() {
            if rs_replicas(&self.rs[i]) > 0 {
                any |= self.scale_rs(i, 0).await?;
            }
        }
        if any || self.old_pods_running() {
            return Ok(());
        }
        if self.new.is_none() {
            self.sync_revision(true).await?;
        }
        if let Some(n) = self.new {
            let want = rules::replicas(&self.d);
            self.scale_rs(n, want).await?;
        }
        if rules::is_complete(&self.d, &self.status_now()) {
            self.cleanup().await?;
        }
        Ok(())
    }

    fn old_pods_running(&self) -> bool {
        let olds = self.olds();
        if olds
            .iter()
            .any(|i| self.rs[*i].status.as_ref().is_some_and(|s| s.replicas > 0))
        {
            return true;
        }
        let uids: Vec<&str> = olds
            .iter()
            .filter_map(|i| self.rs[*i].metadata.uid.as_deref())
            .collect();
        let ns = self.ns();
        self.ctx.pods.state().iter().any(|p| {
            p.namespace().as_deref() == Some(ns.as_str())
                && controller_of(p.as_ref()).is_some_and(|r| uids.contains(&r.uid.as_str()))
                && !matches!(crate::pod_state::phase(p), "Failed" | "Succeeded")
        })
    }

    /// Delete the oldest scaled-down ReplicaSets beyond revisionHistoryLimit.
    async fn cleanup(&mut self) -> Result<(), ControllerError> {
        let limit = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10)
            .max(0) as usize;
        let mut old: Vec<&ReplicaSet> = self
            .olds()
            .into_iter()
            .map(|i| &self.rs[i])
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        if old.len() <= limit {
            return Ok(());
        }
        let extra = old.len() - limit;
        old.sort_by_key(|r| {
            (
                rules::revision(r),
                r.metadata.creation_timestamp.as_ref().map(|t| t.0),
            )
        });
        let mut doomed = Vec::new();
        for r in &old[..extra] {
            let busy = r.status.as_ref().is_some_and(|s| s.replicas != 0)
                || rs_replicas(r) != 0
                || r.metadata.generation > r.status.as_ref().and_then(|s| s.observed_generation);
            if !busy {
                doomed.push((r.name_any(), r.metadata.uid.clone()));
            }
        }
        for (name, uid) in doomed {
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..Default::default()
            };
            match self.rs_api().delete(&name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => {
                    return Err(ControllerError::api(format!("deleting replica set {name}"))(e))
                }
            }
            self.rs.retain(|r| r.name_any() != name);
            self.new = self.find_new_index();
        }
        Ok(())
    }

    fn find_new_index(&self) -> Option<usize> {
        let want = without_hash(self.d.spec.as_ref().map(|s| &s.template));
        self.rs
            .iter()
            .position(|r| without_hash(r.spec.as_ref().and_then(|s| s.template.as_ref())) == want)
    }

    /// The status the ReplicaSets add up to now.
    pub fn status_now(&self) -> DeploymentStatus {
        let new = self.new.map(|i| &self.rs[i]);
        rules::calculate_status(&self.d, &self.all(), new, self.now)
    }

    /// Progress bookkeeping after a rollout step (upstream's syncRolloutStatus).
    fn rollout_status(&self) -> DeploymentStatus {
        let mut s = self.status_now();
        let new_name = self.new.map(|i| self.rs[i].name_any());
        let what = match &new_name {
            Some(n) => format!("ReplicaSet \"{n}\""),
            None => format!("Deployment \"{}\"", self.d.name_any()),
        };
        if rules::progress_deadline(&self.d).is_none() {
            rules::remove_condition(&mut s, "Progressing");
        }
        let cur = rules::condition(&s, "Progressing").cloned();
        let complete_before = s.replicas == s.updated_replicas
            && cur.as_ref().and_then(|c| c.reason.as_deref()) == Some("NewReplicaSetAvailable");
        if rules::progress_deadline(&self.d).is_some() && !complete_before {
            if rules::is_complete(&self.d, &s) {
                let c = rules::new_condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    format!("{what} has successfully progressed."),
                    self.now,
                );
                rules::set_condition(&mut s, c);
            } else if rules::is_progressing(&self.d, &s) {
                let mut c = rules::new_condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    format!("{what} is progressing."),
                    self.now,
                );
                if let Some(cur) = cur.as_ref().filter(|c| c.status == "True") {
                    c.last_transition_time = cur.last_transition_time.clone();
                }
                // Re-stamped: progress pushes the deadline back.
                rules::remove_condition(&mut s, "Progressing");
                rules::set_condition(&mut s, c);
            } else if rules::is_timed_out(&self.d, &s, self.now) {
                let c = rules::new_condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    format!("{what} has timed out progressing."),
                    self.now,
                );
                rules::set_condition(&mut s, c);
            }
        }
        // A failure of the new ReplicaSet (FailedCreate...) is the deployment's too.
        let failure = self.new.and_then(|i| {
            self.rs[i]
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "ReplicaFailure")
                .cloned()
        });
        match failure {
            Some(f) => rules::set_condition(
                &mut s,
                k8s_openapi::api::apps::v1::DeploymentCondition {
                    type_: f.type_,
                    status: f.status,
                    reason: f.reason,
                    message: f.message,
                    last_transition_time: f.last_transition_time.clone(),
                    last_update_time: f.last_transition_time,
                },
            ),
            None => rules::remove_condition(&mut s, "ReplicaFailure"),
        }
        s
    }
}

/// Reconcile one deployment.
pub async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let orig = d.as_ref().clone();
    let selector = orig
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    let now = Timestamp::now();
    let mut r = Rollout {
        ctx: &ctx,
        d: orig.clone(),
        rs: Vec::new(),
        new: None,
        now,
    };
    if skiff_selectors::label_selector_is_empty(&selector) {
        ctx.events
            .warning(
                &orig,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            .await;
        return Ok(Action::await_change());
    }
    r.rs = claim(&ctx, &orig, &selector).await?;
    let paused = orig.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    if orig.metadata.deletion_timestamp.is_none() {
        pause_conditions(&mut r.d, paused, now);
        let step = if paused || is_scaling_event(&mut r).await? {
            sync_scale(&mut r, paused).await
        } else if rules::is_recreate(&r.d) {
            r.recreate().await
        } else {
            r.rolling().await
        };
        if let Err(e) = step {
            // Keep what was learned (collision count, conditions) before retrying.
            let s = r.rollout_status();
            write(&ctx, &orig, &r.d, s).await?;
            return Err(e);
        }
    } else {
        r.sync_revision(false).await?;
    }
    let status = if paused || orig.metadata.deletion_timestamp.is_some() {
        r.status_now()
    } else {
        r.rollout_status()
    };
    let requeue = requeue_after(&r.d, &status, now);
    write(&ctx, &orig, &r.d, status).await?;
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Wake up when the progress deadline would pass (upstream's requeueStuckDeployment).
fn requeue_after(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> Option<Duration> {
    let deadline = rules::progress_deadline(d)?;
    let c = rules::condition(s, "Progressing")?;
    if rules::is_complete(d, s) || c.reason.as_deref() == Some("ProgressDeadlineExceeded") {
        return None;
    }
    if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
        return None;
    }
    let from = c.last_update_time.as_ref()?.0;
    let left = from.as_second() + i64::from(deadline) - now.as_second();
    Some(Duration::from_secs(
        left.clamp(0, i64::from(deadline)) as u64 + 1,
    ))
}

/// Paused/resumed bookkeeping on the Progressing condition.
fn pause_conditions(d: &mut Deployment, paused: bool, now: Timestamp) {
    if rules::progress_deadline(d).is_none() {
        return;
    }
    let status = d.status.get_or_insert_with(Default::default);
    let reason = rules::condition(status, "Progressing").and_then(|c| c.reason.clone());
    if paused && reason.as_deref() != Some("DeploymentPaused") {
        rules::set_condition(
            status,
            rules::new_condition(
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused".into(),
                now,
            ),
        );
    } else if !paused && reason.as_deref() == Some("DeploymentPaused") {
        rules::set_condition(
            status,
            rules::new_condition(
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed".into(),
                now,
            ),
        );
    }
}

/// Whether the deployment's size changed since its ReplicaSets were last sized.
async fn is_scaling_event(r: &mut Rollout<'_>) -> Result<bool, ControllerError> {
    r.sync_revision(false).await?;
    let want = rules::replicas(&r.d).to_string();
    Ok(r.rs.iter().filter(|rs| rs_replicas(rs) > 0).any(|rs| {
        rs.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(rules::DESIRED_REPLICAS))
            .is_some_and(|v| *v != want)
    }))
}

/// Scaling without a rollout (paused, or replicas changed).
async fn sync_scale(r: &mut Rollout<'_>, paused: bool) -> Result<(), ControllerError> {
    r.sync_revision(false).await?;
    super::scale::scale(r).await?;
    if paused {
        r.cleanup().await?;
    }
    Ok(())
}

/// The deployment's ReplicaSets: adopt orphans matching the selector, release those that
/// stopped matching.
async fn claim(
    ctx: &Ctx,
    d: &Deployment,
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Result<Vec<ReplicaSet>, ControllerError> {
    let owned = crate::owner_refs::claim(
        &ctx.client,
        d,
        ctx.replica_sets.state(),
        |rs: &ReplicaSet| {
            skiff_selectors::label_selector_matches(selector, rs.metadata.labels.as_ref())
        },
    )
    .await?;
    Ok(owned.into_iter().map(|rs| rs.as_ref().clone()).collect())
}

/// Write the deployment's annotations and status if they changed.
async fn write(
    ctx: &Ctx,
    orig: &Deployment,
    d: &Deployment,
    status: DeploymentStatus,
) -> Result<(), ControllerError> {
    if orig.status.as_ref() == Some(&status) && orig.metadata.annotations == d.metadata.annotations
    {
        return Ok(());
    }
    let mut obj = orig.clone();
    obj.metadata.annotations = d.metadata.annotations.clone();
    obj.status = Some(status);
    let api: Api<Deployment> =
        Api::namespaced(ctx.client.clone(), &orig.namespace().unwrap_or_default());
    let name = orig.name_any();
    match api
        .replace_status(&name, &PostParams::default(), &obj)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ControllerError::api(format!(
            "updating status of deployment {name} ({COMPONENT})"
        ))(e)),
    }
}
