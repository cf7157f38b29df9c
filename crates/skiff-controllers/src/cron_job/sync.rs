//! One reconcile of a CronJob (upstream's syncCronJob + cleanupFinishedJobs).

use super::schedule::{most_recent, Schedule};
use super::{Ctx, SCHEDULED_TIMESTAMP};
use crate::error::ControllerError;
use crate::job::rules::finished;
use crate::owner_refs::controller_ref;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// Slack added to the wait for the next activation so it is not evaluated early.
const NEXT_SLACK: Duration = Duration::from_millis(100);

/// Which condition finished the Job ("Complete" / "Failed").
fn finished_type(job: &Job) -> Option<&str> {
    finished(job).map(|c| c.type_.as_str())
}

/// Go's RFC 3339 rendering ("Z" for UTC).
fn rfc3339(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The Job for the activation at `scheduled` (upstream's getJobFromTemplate2).
pub fn job_for(cj: &CronJob, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339(scheduled, tz));
    Job {
        metadata: ObjectMeta {
            name: Some(format!(
                "{}-{}",
                cj.name_any(),
                scheduled.as_second().div_euclid(60)
            )),
            namespace: cj.namespace(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(cj)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// Reconcile one CronJob.
pub async fn reconcile(cj: Arc<CronJob>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let key = format!("{}/{}", cj.namespace().unwrap_or_default(), cj.name_any());
    if ctx.is_stale(&key, &cj) {
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    if cj.spec.is_none() {
        return Ok(Action::await_change());
    }
    let ns = cj.namespace().unwrap_or_default();
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let now = Timestamp::now();
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let owned: Vec<Arc<Job>> = ctx
        .jobs
        .state()
        .into_iter()
        .filter(|j| {
            j.namespace().as_deref() == Some(ns.as_str())
                && crate::owner_refs::controller_of(j.as_ref())
                    .is_some_and(|r| r.kind == "CronJob" && r.uid == uid)
        })
        .collect();
    let old_status = cj.status.clone().unwrap_or_default();
    let mut status = old_status.clone();

    // Reconcile the active list with the Jobs that exist.
    let mut active = Vec::new();
    for r in status.active.take().unwrap_or_default() {
        let r_uid = r.uid.as_deref().unwrap_or("");
        match owned
            .iter()
            .find(|j| j.metadata.uid.as_deref() == Some(r_uid))
        {
            Some(j) => match finished_type(j) {
                Some(t) => {
                    let msg = format!("Saw completed job: {}, condition: {t}", j.name_any());
                    ctx.events
                        .normal(cj.as_ref(), "SawCompletedJob", &msg)
                        .await;
                }
                None => active.push(r),
            },
            None => {
                // Not cached (yet?): only the API can say it is gone.
                let name = r.name.clone().unwrap_or_default();
                let fresh = jobs_api
                    .get_opt(&name)
                    .await
                    .map_err(ControllerError::api(format!("reading job {name}")))?;
                if fresh.is_some_and(|j| j.metadata.uid.as_deref() == Some(r_uid)) {
                    active.push(r);
                } else {
                    let msg = format!("Active job went missing: {name}");
                    ctx.events.warning(cj.as_ref(), "MissingJob", &msg).await;
                }
            }
        }
    }
    for j in &owned {
        let listed = active.iter().any(|r| r.uid == j.metadata.uid);
        if !listed && finished_type(j).is_none() && j.metadata.deletion_timestamp.is_none() {
            let msg = format!(
                "Saw a job that the controller did not create or forgot: {}",
                j.name_any()
            );
            ctx.events.warning(cj.as_ref(), "UnexpectedJob", &msg).await;
        }
        if finished_type(j) == Some("Complete") {
            if let Some(done) = j.status.as_ref().and_then(|s| s.completion_time.clone()) {
                if status
                    .last_successful_time
                    .as_ref()
                    .is_none_or(|t| t.0 < done.0)
                {
                    status.last_successful_time = Some(done);
                }
            }
        }
    }
    status.active = Some(active);

    if cj.metadata.deletion_timestamp.is_some() {
        write_status(&ctx, &key, &cj, status, &old_status).await?;
        return Ok(Action::await_change());
    }
    let requeue = schedule_next(&ctx, &cj, &mut status, &owned, now).await;
    cleanup_finished(&ctx, &cj, &owned, &mut status).await;
    write_status(&ctx, &key, &cj, status, &old_status).await?;
    match requeue? {
        Some(d) => Ok(Action::requeue(d)),
        None => Ok(Action::await_change()),
    }
}

/// Start the Job for the latest missed activation if the policies allow; returns when to
/// look again.
async fn schedule_next(
    ctx: &Ctx,
    cj: &CronJob,
    status: &mut k8s_openapi::api::batch::v1::CronJobStatus,
    owned: &[Arc<Job>],
    now: Timestamp,
) -> Result<Option<Duration>, ControllerError> {
    let Some(spec) = cj.spec.as_ref() else {
        return Ok(None);
    };
    let tz = match spec.time_zone.as_deref() {
        None => TimeZone::system(),
        Some(name) => match TimeZone::get(name) {
            Ok(tz) => tz,
            Err(e) => {
                let msg = format!("invalid timeZone: {name:?}: {e}");
                ctx.events.warning(cj, "UnknownTimeZone", &msg).await;
                return Ok(None);
            }
        },
    };
    if spec.suspend == Some(true) {
        return Ok(None);
    }
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("unparseable schedule: {:?} : {e}", spec.schedule);
            ctx.events.warning(cj, "UnparseableSchedule", &msg).await;
            return Ok(None);
        }
    };
    let mut earliest = status
        .last_schedule_time
        .as_ref()
        .or(cj.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
        .unwrap_or(now);
    if let Some(sds) = spec.starting_deadline_seconds {
        if let Ok(deadline) = now.checked_sub(SignedDuration::from_secs(sds)) {
            earliest = earliest.max(deadline);
        }
    }
    let missed = most_recent(&schedule, &tz, earliest, now);
    if missed.too_many {
        ctx.events
            .warning(
                cj,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
            .await;
    }
    let next = schedule
        .next(now, &tz)
        .map(|n| Duration::try_from(n.duration_since(now)).unwrap_or(Duration::ZERO) + NEXT_SLACK);
    let Some(scheduled) = missed.most_recent else {
        return Ok(next);
    };
    if let Some(sds) = spec.starting_deadline_seconds {
        let late = scheduled
            .checked_add(SignedDuration::from_secs(sds))
            .is_ok_and(|end| end < now);
        if late {
            let when = scheduled
                .to_zoned(TimeZone::UTC)
                .strftime("%a, %d %b %Y %H:%M:%S %z")
                .to_string();
            let msg = format!("Missed scheduled time to start a job: {when}");
            ctx.events.warning(cj, "MissSchedule", &msg).await;
            return Ok(next);
        }
    }
    let wanted = job_for(cj, scheduled, &tz);
    let name = wanted.name_any();
    let active = status.active.get_or_insert_default();
    if active
        .iter()
        .any(|r| r.name.as_deref() == Some(name.as_str()))
    {
        return Ok(next);
    }
    match spec.concurrency_policy.as_deref().unwrap_or("Allow") {
        "Forbid" if !active.is_empty() => {
            ctx.events
                .normal(
                    cj,
                    "JobAlreadyActive",
                    "Not starting job because prior execution is running and concurrency policy is Forbid",
                )
                .await;
            return Ok(next);
        }
        "Replace" => {
            let api: Api<Job> =
                Api::namespaced(ctx.client.clone(), &cj.namespace().unwrap_or_default());
            for r in std::mem::take(active) {
                let old = r.name.clone().unwrap_or_default();
                match delete_job(&api, &old).await {
                    Ok(()) => {
                        let msg = format!("Deleted job {old}");
                        ctx.events.normal(cj, "SuccessfulDelete", &msg).await;
                    }
                    Err(e) => {
                        active.push(r);
                        return Err(e);
                    }
                }
            }
        }
        _ => {}
    }
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &cj.namespace().unwrap_or_default());
    let created = match api.create(&PostParams::default(), &wanted).await {
        Ok(j) => {
            let msg = format!("Created job {name}");
            ctx.events.normal(cj, "SuccessfulCreate", &msg).await;
            j
        }
        Err(kube::Error::Api(s)) if s.code == 409 => {
            // Created by an earlier pass whose status write was lost: adopt the record.
            let existing = owned
                .iter()
                .find(|j| j.name_any() == name)
                .map(|j| (**j).clone());
            match existing {
                Some(j) => j,
                None => return Ok(Some(Duration::from_secs(1))),
            }
        }
        Err(e) => {
            let msg = match &e {
                kube::Error::Api(s) => s.message.clone(),
                other => other.to_string(),
            };
            ctx.events
                .warning(cj, "FailedCreate", &format!("Error creating job: {msg}"))
                .await;
            return Err(ControllerError::api(format!("creating job {name}"))(e));
        }
    };
    if finished_type(&created).is_none() {
        active.push(job_ref(&created));
    }
    status.last_schedule_time = Some(Time(scheduled));
    Ok(next)
}

async fn delete_job(api: &Api<Job>, name: &str) -> Result<(), ControllerError> {
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ControllerError::api(format!("deleting job {name}"))(e)),
    }
}

/// Delete the oldest finished Jobs beyond successfulJobsHistoryLimit /
/// failedJobsHistoryLimit.
async fn cleanup_finished(
    ctx: &Ctx,
    cj: &CronJob,
    owned: &[Arc<Job>],
    status: &mut k8s_openapi::api::batch::v1::CronJobStatus,
) {
    let Some(spec) = cj.spec.as_ref() else { return };
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &cj.namespace().unwrap_or_default());
    for (kind, limit) in [
        ("Complete", spec.successful_jobs_history_limit),
        ("Failed", spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut done: Vec<&Arc<Job>> = owned
            .iter()
            .filter(|j| finished_type(j) == Some(kind) && j.metadata.deletion_timestamp.is_none())
            .collect();
        let limit = usize::try_from(limit).unwrap_or(0);
        if done.len() <= limit {
            continue;
        }
        // Oldest first; Jobs that never started count as newest.
        done.sort_by_key(|j| {
            (
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0)
                    .is_none(),
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0),
                j.name_any(),
            )
        });
        let excess = done.len() - limit;
        for j in done.into_iter().take(excess) {
            let name = j.name_any();
            match delete_job(&api, &name).await {
                Ok(()) => {
                    if let Some(a) = status.active.as_mut() {
                        a.retain(|r| r.uid != j.metadata.uid);
                    }
                    let msg = format!("Deleted job {name}");
                    ctx.events.normal(cj, "SuccessfulDelete", &msg).await;
                }
                Err(e) => tracing::warn!(error = %e, "deleting a finished job"),
            }
        }
    }
}

async fn write_status(
    ctx: &Ctx,
    key: &str,
    cj: &CronJob,
    mut status: k8s_openapi::api::batch::v1::CronJobStatus,
    old: &k8s_openapi::api::batch::v1::CronJobStatus,
) -> Result<(), ControllerError> {
    if status.active.as_ref().is_some_and(Vec::is_empty) {
        status.active = None;
    }
    if &status == old {
        return Ok(());
    }
    let api: Api<CronJob> =
        Api::namespaced(ctx.client.clone(), &cj.namespace().unwrap_or_default());
    let mut obj = cj.clone();
    obj.status = Some(status);
    let name = cj.name_any();
    let updated = api
        .replace_status(&name, &PostParams::default(), &obj)
        .await
        .map_err(ControllerError::api(format!(
            "updating status of cronjob {name}"
        )))?;
    ctx.wrote(key, &updated);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_names_and_scheduled_timestamp() {
        let cj: CronJob = serde_json::from_value(json!({
            "metadata": {"name": "hello", "namespace": "d", "uid": "u1"},
            "spec": {"schedule": "*/1 * * * *", "jobTemplate": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"template": {}}
            }}
        }))
        .expect("cronjob");
        let t: Timestamp = "2025-01-01T10:05:00Z".parse().expect("time");
        let job = job_for(&cj, t, &TimeZone::UTC);
        assert_eq!(job.metadata.name.as_deref(), Some("hello-28928765"));
        let ann = job.metadata.annotations.expect("annotations");
        assert_eq!(ann[SCHEDULED_TIMESTAMP], "2025-01-01T10:05:00Z");
        assert_eq!(job.metadata.labels.expect("labels")["app"], "x");
        let owner = &job.metadata.owner_references.expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("CronJob", Some(true))
        );
        let tz = TimeZone::get("Europe/Berlin").expect("zone");
        let ann = job_for(&cj, t, &tz)
            .metadata
            .annotations
            .expect("annotations");
        assert_eq!(ann[SCHEDULED_TIMESTAMP], "2025-01-01T11:05:00+01:00");
    }
}
