//! One reconcile of a Job (upstream's syncJob): count finished pods through the tracking
//! finalizer, decide whether the Job succeeded or failed, otherwise create or delete pods,
//! and write status.

use super::failure_policy::evaluate;
use super::indexes::{self, COMPLETION_INDEX, COMPLETION_INDEX_ENV};
use super::orphans::remove_tracking_finalizer;
use super::per_index::{self, INDEX_FAILURE_COUNT, INDEX_IGNORED_FAILURE_COUNT};
use super::rules::{self, TRACKING_FINALIZER};
use super::{key_of, Ctx};
use crate::error::ControllerError;
use crate::owner_refs::controller_ref;
use crate::pod_state::{is_active, ready_since, sort_for_deletion};
use futures_util::future::join_all;
use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Most pods created or deleted per reconcile (upstream's MaxPodCreateDeletePerSync).
const MAX_POD_WRITES: usize = 500;
/// Most pod UIDs held in `uncountedTerminatedPods` (keeps the status small).
pub(super) const MAX_UNCOUNTED: usize = 500;
/// Look again at least this often while writes are unobserved.
const UNOBSERVED_RECHECK: Duration = Duration::from_secs(30);

/// Everything one reconcile learns and decides.
pub(super) struct Pass<'a> {
    pub(super) job: Job,
    pub(super) key: String,
    pub(super) pods: Vec<Arc<Pod>>,
    pub(super) ready: i32,
    pub(super) active: i32,
    pub(super) terminating: i32,
    pub(super) succeeded: i32,
    pub(super) succeeded_indexes: BTreeSet<i32>,
    /// With backoffLimitPerIndex: the indexes that failed for good.
    pub(super) failed_indexes: Option<BTreeSet<i32>>,
    /// With backoffLimitPerIndex: per index to retry, the failed pod its replacement
    /// counts from (it keeps its finalizer until then).
    pub(super) awaiting: HashMap<i32, Arc<Pod>>,
    /// Condition the Job is heading to (SuccessCriteriaMet, FailureTarget or Failed).
    pub(super) finished: Option<JobCondition>,
    pub(super) removing: HashSet<String>,
    pub(super) requeue: Option<Duration>,
    pub(super) ctx: &'a Ctx,
    pub(super) now: Timestamp,
}

impl Pass<'_> {
    pub(super) fn requeue_in(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    pub(super) fn tracked(&self, pod: &Pod) -> bool {
        rules::has_tracking_finalizer(pod)
            && !self
                .removing
                .contains(pod.metadata.uid.as_deref().unwrap_or(""))
    }

    /// Whether the pod is a failed pod whose replacement is still to be created.
    pub(super) fn awaits_replacement(&self, pod: &Pod) -> bool {
        self.awaiting
            .values()
            .any(|p| p.metadata.uid.is_some() && p.metadata.uid == pod.metadata.uid)
    }

    pub(super) fn index_ok(&self, pod: &Pod) -> bool {
        match (rules::indexed(&self.job), rules::completions(&self.job)) {
            (true, Some(c)) => indexes::valid_index(pod, c).is_some(),
            _ => true,
        }
    }
}

pub(super) fn uid(p: &Pod) -> &str {
    p.metadata.uid.as_deref().unwrap_or("")
}

/// Reconcile one Job.
pub async fn reconcile(job: Arc<Job>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let key = key_of(job.as_ref());
    if ctx.is_stale(&key, &job) {
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    if rules::finished(&job).is_some() {
        return Ok(Action::await_change());
    }
    let Some(spec) = job.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    // Another controller owns this Job (spec.managedBy).
    if spec
        .managed_by
        .as_deref()
        .is_some_and(|m| m != "kubernetes.io/job-controller")
    {
        return Ok(Action::await_change());
    }
    let now = Timestamp::now();
    let satisfied = ctx.expectations.satisfied(&key);
    let ns = job.namespace().unwrap_or_default();
    let job_uid = job.metadata.uid.clone().unwrap_or_default();
    let pods: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| {
            p.namespace().as_deref() == Some(ns.as_str())
                && crate::owner_refs::controller_of(p.as_ref())
                    .is_some_and(|r| r.kind == "Job" && r.uid == job_uid)
        })
        .collect();
    let mut pass = Pass {
        job: (*job).clone(),
        key: key.clone(),
        ready: 0,
        active: 0,
        terminating: 0,
        succeeded: 0,
        succeeded_indexes: BTreeSet::new(),
        failed_indexes: None,
        awaiting: HashMap::new(),
        finished: None,
        removing: ctx.finalizers_being_removed(&key),
        requeue: None,
        ctx: &ctx,
        now,
        pods,
    };
    let old_status = job.status.clone().unwrap_or_default();
    let uncounted = old_status
        .uncounted_terminated_pods
        .clone()
        .unwrap_or_default();
    let unc_succeeded: HashSet<&str> = uncounted
        .succeeded
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let unc_failed: HashSet<&str> = uncounted
        .failed
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let policy = spec.pod_failure_policy.as_ref();

    let active_pods: Vec<Arc<Pod>> = pass.pods.iter().filter(|p| is_active(p)).cloned().collect();
    pass.active = active_pods.len() as i32;
    pass.ready = active_pods
        .iter()
        .filter(|p| ready_since(p).is_some())
        .count() as i32;
    pass.terminating = pass
        .pods
        .iter()
        .filter(|p| rules::is_terminating(p))
        .count() as i32;
    let new_succeeded = pass
        .pods
        .iter()
        .filter(|p| {
            pass.tracked(p)
                && !unc_succeeded.contains(uid(p))
                && crate::pod_state::phase(p) == "Succeeded"
                && pass.index_ok(p)
        })
        .count() as i32;
    let new_failed_counted = pass
        .pods
        .iter()
        .filter(|p| {
            pass.tracked(p)
                && !unc_failed.contains(uid(p))
                && rules::is_pod_failed(p, &job)
                && pass.index_ok(p)
                && evaluate(policy, p).counts
        })
        .count() as i32;
    pass.succeeded = old_status.succeeded.unwrap_or(0) + new_succeeded + unc_succeeded.len() as i32;
    let failed = old_status.failed.unwrap_or(0) + new_failed_counted + unc_failed.len() as i32;

    let mut status = old_status.clone();
    if status.start_time.is_none() && !rules::suspended(&job) {
        status.start_time = Some(Time(now));
    }
    pass.job.status = Some(status);

    // Has the Job reached a verdict?
    pass.finished = rules::true_condition(&job, "SuccessCriteriaMet").cloned();
    if pass.finished.is_none() {
        if let Some(ft) = rules::true_condition(&job, "FailureTarget") {
            pass.finished = Some(rules::condition(
                "Failed",
                "True",
                ft.reason.as_deref().unwrap_or(""),
                ft.message.as_deref().unwrap_or(""),
                now,
            ));
        } else if let Some(msg) = pass
            .pods
            .iter()
            .filter(|p| rules::is_pod_failed(p, &job))
            .find_map(|p| evaluate(policy, p).fail_job)
        {
            pass.finished = Some(rules::condition(
                "FailureTarget",
                "True",
                "PodFailurePolicy",
                &msg,
                now,
            ));
        }
    }
    if pass.finished.is_none() {
        let pod_refs: Vec<&Pod> = pass.pods.iter().map(|p| p.as_ref()).collect();
        if failed > rules::backoff_limit(&job)
            || rules::past_backoff_limit_on_failure(&job, &pod_refs)
        {
            pass.finished = Some(rules::condition(
                "FailureTarget",
                "True",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            ));
        } else {
            match rules::deadline_remaining(&pass.job, now) {
                Some(d) if d.is_zero() => {
                    pass.finished = Some(rules::condition(
                        "FailureTarget",
                        "True",
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                        now,
                    ))
                }
                Some(d) => pass.requeue_in(d),
                None => {}
            }
        }
    }
    if rules::indexed(&job) {
        let completions = rules::completions(&job).unwrap_or(0);
        let mut done = indexes::parse(
            old_status.completed_indexes.as_deref().unwrap_or(""),
            completions,
        );
        done.extend(
            pass.pods
                .iter()
                .filter(|p| crate::pod_state::phase(p) == "Succeeded")
                .filter_map(|p| indexes::valid_index(p, completions)),
        );
        pass.succeeded = done.len() as i32;
        if let Some(limit) = per_index::limit(&job) {
            let tracked = pass.pods.iter().filter(|p| pass.tracked(p));
            let failed =
                per_index::failed_indexes(&job, tracked.map(|p| p.as_ref()), completions, limit);
            if pass.finished.is_none() {
                let total = failed.len();
                let verdict = if per_index::max_failed_indexes(&job)
                    .is_some_and(|m| total > usize::try_from(m).unwrap_or(0))
                {
                    Some((
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                    ))
                } else if total > 0 && total + done.len() >= completions.max(0) as usize {
                    Some(("FailedIndexes", "Job has failed indexes"))
                } else {
                    None
                };
                pass.finished = verdict.map(|(reason, message)| {
                    rules::condition("FailureTarget", "True", reason, message, now)
                });
            }
            let active_idx: BTreeSet<i32> = active_pods
                .iter()
                .filter_map(|p| indexes::valid_index(p, completions))
                .collect();
            let settled: BTreeSet<i32> = done.union(&failed).copied().collect();
            pass.awaiting = per_index::awaiting_replacement(
                &job,
                &pass.pods,
                &settled,
                &active_idx,
                completions,
            );
            pass.failed_indexes = Some(failed);
        }
        if pass.finished.is_none() {
            if let Some(msg) =
                indexes::match_success_policy(spec.success_policy.as_ref(), completions, &done)
            {
                pass.finished = Some(rules::condition(
                    "SuccessCriteriaMet",
                    "True",
                    "SuccessPolicy",
                    &msg,
                    now,
                ));
            }
        }
        pass.succeeded_indexes = done;
    }

    let mut suspend_changed = false;
    let mut manage_error = None;
    if pass.finished.is_some() {
        let (deleted, deleted_ready, err) = delete_pods(&pass, &active_pods, false).await;
        if deleted != pass.active || !satisfied {
            // Pods (or their finalizers) may still be unseen: decide next time.
            pass.finished = None;
        }
        pass.active -= deleted;
        pass.terminating += deleted;
        pass.ready -= deleted_ready;
        manage_error = err;
    } else {
        let mut managed = false;
        if satisfied && job.metadata.deletion_timestamp.is_none() {
            manage_error = manage(&mut pass, &active_pods).await;
            managed = true;
        }
        let complete = match rules::completions(&job) {
            None => pass.succeeded > 0 && pass.active == 0,
            Some(c) => pass.succeeded >= c && pass.active == 0,
        };
        if complete {
            pass.finished = Some(rules::condition(
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ));
        } else if managed {
            suspend_changed = update_suspended(&mut pass).await;
        }
    }
    let active = pass.active;
    let ready = pass.ready;
    let terminating = pass.terminating;
    if let Some(s) = pass.job.status.as_mut() {
        s.active = (active != 0).then_some(active);
        s.ready = Some(ready);
        s.terminating = Some(terminating);
    }
    let status_changed = suspend_changed || pass.job.status.as_ref() != job.status.as_ref();
    super::tracking::track(&mut pass, status_changed, &unc_succeeded, &unc_failed).await?;
    if let Some(e) = manage_error {
        return Err(e);
    }
    if !ctx.expectations.satisfied(&key) {
        pass.requeue_in(UNOBSERVED_RECHECK);
    }
    Ok(match pass.requeue {
        Some(d) => Action::requeue(d.max(Duration::from_millis(50))),
        None => Action::await_change(),
    })
}

/// Create or delete pods so the active count matches what the Job wants; returns the
/// first error.
async fn manage(pass: &mut Pass<'_>, active_pods: &[Arc<Pod>]) -> Option<ControllerError> {
    let job = &pass.job;
    if rules::suspended(job) {
        let (deleted, deleted_ready, err) = delete_pods(pass, active_pods, true).await;
        pass.active -= deleted;
        pass.terminating += deleted;
        pass.ready -= deleted_ready;
        return err;
    }
    let want = rules::want_active(job, pass.succeeded, pass.active);
    let rm_at_least = (pass.active - want).max(0) as usize;
    let mut remove: Vec<&Pod> = Vec::new();
    let mut keep: Vec<&Pod> = Vec::new();
    if let (true, Some(completions)) = (rules::indexed(job), rules::completions(job)) {
        // Pods with a bad, repeated or already succeeded index go first.
        let mut seen = HashSet::new();
        let mut sorted: Vec<&Pod> = active_pods.iter().map(|p| p.as_ref()).collect();
        sorted.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        for p in sorted {
            match indexes::valid_index(p, completions) {
                Some(i) if !pass.succeeded_indexes.contains(&i) && seen.insert(i) => keep.push(p),
                _ => remove.push(p),
            }
        }
    } else {
        keep = active_pods.iter().map(|p| p.as_ref()).collect();
    }
    if remove.len() < rm_at_least {
        let related = keep.clone();
        sort_for_deletion(&mut keep, &related);
        remove.extend(keep.iter().take(rm_at_least - remove.len()));
    }
    remove.truncate(MAX_POD_WRITES);
    if !remove.is_empty() {
        let owned: Vec<Arc<Pod>> = remove.iter().map(|p| Arc::new((*p).clone())).collect();
        let (deleted, deleted_ready, err) = delete_pods(pass, &owned, true).await;
        pass.active -= deleted;
        pass.terminating += deleted;
        pass.ready -= deleted_ready;
        return err;
    }
    let terminating = if rules::only_replace_failed(job) {
        pass.terminating
    } else {
        0
    };
    let mut diff = (want - terminating - pass.active).max(0) as usize;
    if diff == 0 {
        return None;
    }
    if pass.failed_indexes.is_none() {
        // One back-off for the whole Job (per-index Jobs back off per index below).
        let pod_refs: Vec<&Pod> = pass.pods.iter().map(|p| p.as_ref()).collect();
        let wait = rules::backoff_remaining(job, &pod_refs, pass.now);
        if !wait.is_zero() {
            pass.requeue_in(wait);
            return None;
        }
    }
    diff = diff.min(MAX_POD_WRITES);
    let mut to_create: Vec<Option<i32>> = vec![None; diff];
    let mut index_backoff = None;
    if let (true, Some(completions)) = (rules::indexed(job), rules::completions(job)) {
        let mut taken: BTreeSet<i32> = active_pods
            .iter()
            .filter_map(|p| indexes::valid_index(p, completions))
            .collect();
        taken.extend(pass.failed_indexes.iter().flatten());
        let mut pending =
            indexes::first_pending(&pass.succeeded_indexes, &taken, diff, completions);
        if pass.failed_indexes.is_some() {
            let (ready, wait) = per_index::ready_to_start(pending, &pass.awaiting, pass.now);
            index_backoff = wait;
            pending = ready;
        }
        to_create = pending.into_iter().map(Some).collect();
    }
    let api: Api<Pod> = Api::namespaced(
        pass.ctx.client.clone(),
        &job.namespace().unwrap_or_default(),
    );
    if let Some(wait) = index_backoff {
        pass.requeue_in(wait);
    }
    pass.ctx.expectations.begin(&pass.key);
    let mut batch = to_create.len().min(1);
    let mut next = 0;
    while batch > 0 {
        let results = join_all(
            to_create[next..next + batch]
                .iter()
                .map(|idx| create_pod(pass, &api, *idx)),
        )
        .await;
        let created = results.iter().filter(|r| r.is_ok()).count() as i32;
        pass.active += created;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            // Slow start: one failure stops the rest; the next sync retries.
            return Some(e);
        }
        next += batch;
        batch = (batch * 2).min(to_create.len() - next);
    }
    None
}

/// The pod for completion index `idx` (or a non-indexed one); `failures` are the
/// (counted, ignored) failure counts of its index when the Job has backoffLimitPerIndex.
fn pod_for(job: &Job, idx: Option<i32>, failures: Option<(i32, i32)>) -> Pod {
    let name = job.name_any();
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut finalizers = meta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.to_string());
    }
    let mut labels = meta.labels;
    let mut annotations = meta.annotations;
    let mut spec = template.spec;
    let mut generate_name = format!("{name}-");
    if let Some(i) = idx {
        annotations
            .get_or_insert_default()
            .insert(COMPLETION_INDEX.into(), i.to_string());
        labels
            .get_or_insert_default()
            .insert(COMPLETION_INDEX.into(), i.to_string());
        if let Some((counted, ignored)) = failures {
            let a = annotations.get_or_insert_default();
            a.insert(INDEX_FAILURE_COUNT.into(), counted.to_string());
            if ignored > 0 {
                a.insert(INDEX_IGNORED_FAILURE_COUNT.into(), ignored.to_string());
            }
        }
        generate_name = format!("{name}-{i}-");
        if let Some(s) = spec.as_mut() {
            s.hostname = Some(format!("{name}-{i}"));
            let env = EnvVar {
                name: COMPLETION_INDEX_ENV.into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: None,
                        field_path: format!("metadata.labels['{COMPLETION_INDEX}']"),
                    }),
                    ..Default::default()
                }),
            };
            for c in s
                .containers
                .iter_mut()
                .chain(s.init_containers.iter_mut().flatten())
            {
                let vars = c.env.get_or_insert_default();
                if !vars.iter().any(|v| v.name == COMPLETION_INDEX_ENV) {
                    vars.push(env.clone());
                }
            }
        }
    }
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.namespace(),
            labels,
            annotations,
            finalizers: Some(finalizers),
            owner_references: Some(vec![controller_ref(job)]),
            ..Default::default()
        },
        spec,
        status: None,
    }
}

async fn create_pod(
    pass: &Pass<'_>,
    api: &Api<Pod>,
    idx: Option<i32>,
) -> Result<(), ControllerError> {
    let job = &pass.job;
    let failures = match (idx, pass.failed_indexes.is_some()) {
        (Some(i), true) => Some(per_index::replacement_counts(
            job,
            pass.awaiting.get(&i).map(|p| p.as_ref()),
        )),
        _ => None,
    };
    match api
        .create(&PostParams::default(), &pod_for(job, idx, failures))
        .await
    {
        Ok(created) => {
            let name = created.name_any();
            pass.ctx.expectations.created(&pass.key, &name);
            pass.ctx
                .events
                .normal(job, "SuccessfulCreate", &format!("Created pod: {name}"))
                .await;
            Ok(())
        }
        Err(e) => {
            let msg = match &e {
                kube::Error::Api(s) => s.message.clone(),
                other => other.to_string(),
            };
            pass.ctx
                .events
                .warning(job, "FailedCreate", &format!("Error creating: {msg}"))
                .await;
            Err(ControllerError::api(format!(
                "creating a pod for job {}",
                job.name_any()
            ))(e))
        }
    }
}

/// Delete `pods`; with `drop_finalizer` (scale-down, suspension) their finalizer goes
/// first, since upstream does not count pods it removes itself. Returns (deleted, of
/// which ready, first error).
async fn delete_pods(
    pass: &Pass<'_>,
    pods: &[Arc<Pod>],
    drop_finalizer: bool,
) -> (i32, i32, Option<ControllerError>) {
    if pods.is_empty() {
        return (0, 0, None);
    }
    let job = &pass.job;
    let api: Api<Pod> = Api::namespaced(
        pass.ctx.client.clone(),
        &job.namespace().unwrap_or_default(),
    );
    pass.ctx.expectations.begin(&pass.key);
    for p in pods {
        pass.ctx.expectations.deleting(&pass.key, &p.name_any());
    }
    let results = join_all(pods.iter().map(|p| {
        let api = api.clone();
        async move {
            let name = p.name_any();
            if drop_finalizer {
                if let Err(e) = remove_tracking_finalizer(&api, p).await {
                    pass.ctx.expectations.delete_failed(&pass.key, &name);
                    return Err(e);
                }
                pass.ctx.expect_finalizer_removed(&pass.key, uid(p));
            }
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: p.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(&name, &dp).await {
                Ok(_) => {
                    pass.ctx
                        .events
                        .normal(job, "SuccessfulDelete", &format!("Deleted pod: {name}"))
                        .await;
                    Ok(ready_since(p).is_some())
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    pass.ctx.expectations.delete_failed(&pass.key, &name);
                    Ok(ready_since(p).is_some())
                }
                Err(e) => {
                    pass.ctx.expectations.delete_failed(&pass.key, &name);
                    Err(e)
                }
            }
        }
    }))
    .await;
    let mut deleted = 0;
    let mut ready = 0;
    let mut error = None;
    for r in results {
        match r {
            Ok(was_ready) => {
                deleted += 1;
                ready += i32::from(was_ready);
            }
            Err(e) if error.is_none() => {
                error = Some(ControllerError::api(format!(
                    "deleting pods of job {}",
                    job.name_any()
                ))(e))
            }
            Err(_) => {}
        }
    }
    (deleted, ready, error)
}

/// Keep the Suspended condition in step with spec.suspend; resuming restarts the
/// activeDeadlineSeconds clock. Returns whether the condition changed.
async fn update_suspended(pass: &mut Pass<'_>) -> bool {
    let now = pass.now;
    let suspended = rules::suspended(&pass.job);
    let status = pass.job.status.get_or_insert_default();
    let mut conditions = status.conditions.take().unwrap_or_default();
    let changed = if suspended {
        rules::ensure_condition(
            &mut conditions,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
            now,
        )
    } else {
        rules::ensure_condition(
            &mut conditions,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
            now,
        )
    };
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    if changed && !suspended {
        status.start_time = Some(Time(now));
    }
    if changed {
        let (reason, message) = if suspended {
            ("Suspended", "Job suspended")
        } else {
            ("Resumed", "Job resumed")
        };
        pass.ctx.events.normal(&pass.job, reason, message).await;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indexed_pods_carry_their_index() {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "pi", "namespace": "d", "uid": "u1"},
            "spec": {"completions": 3, "completionMode": "Indexed", "template": {
                "metadata": {"labels": {"job-name": "pi"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}],
                         "initContainers": [{"name": "i", "image": "busybox",
                             "env": [{"name": "JOB_COMPLETION_INDEX", "value": "mine"}]}]}
            }}
        }))
        .expect("job");
        let pod = pod_for(&job, Some(2), None);
        let meta = &pod.metadata;
        assert_eq!(meta.generate_name.as_deref(), Some("pi-2-"));
        assert_eq!(
            meta.annotations.as_ref().expect("annotations")[COMPLETION_INDEX],
            "2"
        );
        assert_eq!(meta.labels.as_ref().expect("labels")[COMPLETION_INDEX], "2");
        assert_eq!(meta.labels.as_ref().expect("labels")["job-name"], "pi");
        assert_eq!(
            meta.finalizers.as_deref(),
            Some(&[TRACKING_FINALIZER.to_string()][..])
        );
        let owner = &meta.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("Job", Some(true), Some(true))
        );
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some("pi-2"));
        let env = spec.containers[0].env.as_ref().expect("env");
        assert_eq!(
            env[0]
                .value_from
                .as_ref()
                .and_then(|v| v.field_ref.as_ref())
                .map(|f| f.field_path.as_str()),
            Some("metadata.labels['batch.kubernetes.io/job-completion-index']")
        );
        // A container that sets the variable itself keeps its own value.
        let init_env = spec.init_containers.as_ref().expect("init")[0]
            .env
            .as_ref()
            .expect("env");
        assert_eq!(init_env.len(), 1);
        assert_eq!(init_env[0].value.as_deref(), Some("mine"));
        let plain = pod_for(&job, None, None);
        assert_eq!(plain.metadata.generate_name.as_deref(), Some("pi-"));
        assert!(plain.metadata.annotations.is_none());
    }
}
