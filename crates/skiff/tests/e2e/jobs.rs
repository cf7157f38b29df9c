//! Jobs and CronJobs driven with the real kubectl on the embedded runc node (busybox).

use crate::harness::Cluster;

fn job_manifest(name: &str, spec: &str, command: &str) -> String {
    format!(
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
{spec}
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "{command}"]
"#
    )
}

fn pods_of(c: &Cluster, job: &str) -> Vec<serde_json::Value> {
    c.get_json(&["pods", "-l", &format!("batch.kubernetes.io/job-name={job}")])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn condition(job: &serde_json::Value, type_: &str) -> Option<serde_json::Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

/// A Job whose pod always fails is retried (with back-off) and fails after backoffLimit+1
/// pods with BackoffLimitExceeded, through the interim FailureTarget condition.
#[test]
fn failing_job_retries_until_backoff_limit() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&job_manifest("fails", "  backoffLimit: 2", "exit 1"));
    c.wait_for(
        "job failed",
        &[
            "get",
            "job",
            "fails",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
        ],
        "BackoffLimitExceeded",
    );
    let job = c.get_json(&["job", "fails"]);
    assert_eq!(job["status"]["failed"], 3, "{job}");
    assert_eq!(
        condition(&job, "Failed").expect("Failed")["message"],
        "Job has reached the specified backoff limit"
    );
    assert_eq!(
        condition(&job, "FailureTarget").expect("FailureTarget")["status"],
        "True"
    );
    let pods = pods_of(&c, "fails");
    assert_eq!(pods.len(), 3, "backoffLimit+1 pods: {pods:?}");
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Failed");
        assert!(
            p["metadata"]["finalizers"].is_null(),
            "tracking finalizer removed once counted: {p}"
        );
        assert!(p["metadata"]["generateName"] == "fails-");
    }
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=fails",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(events.contains("BackoffLimitExceeded"), "{events}");
    assert_eq!(events.matches("SuccessfulCreate").count(), 3, "{events}");
}

/// completions 3 with parallelism 2 runs at most two pods at once and completes; the
/// TTL-after-finished controller then deletes the Job and its pods (the TTL leaves time to
/// look at them first, even on a loaded machine).
#[test]
fn job_completes_with_parallelism_then_expires() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&job_manifest(
        "work",
        "  completions: 3\n  parallelism: 2\n  ttlSecondsAfterFinished: 10",
        "sleep 1",
    ));
    c.wait_for(
        "job complete",
        &[
            "get",
            "job",
            "work",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}",
        ],
        "True",
    );
    let job = c.get_json(&["job", "work"]);
    assert_eq!(job["status"]["succeeded"], 3, "{job}");
    assert!(job["status"]["completionTime"].is_string(), "{job}");
    assert_eq!(
        condition(&job, "SuccessCriteriaMet").expect("SuccessCriteriaMet")["reason"],
        "CompletionsReached"
    );
    assert_eq!(job["status"]["ready"], 0);
    assert!(job["status"].get("active").is_none(), "{job}");
    let mut pods = pods_of(&c, "work");
    assert_eq!(pods.len(), 3, "{pods:?}");
    // At most two at once: the third pod was created after one of the first two ended
    // (RFC 3339 UTC timestamps of one format compare as strings).
    let created = |p: &serde_json::Value| {
        p["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let finished = |p: &serde_json::Value| {
        p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    pods.sort_by_key(created);
    let first_end = finished(&pods[0]).min(finished(&pods[1]));
    assert!(
        !first_end.is_empty() && created(&pods[2]) >= first_end,
        "third pod started while two ran: {pods:?}"
    );
    let table = c.ok(&["get", "jobs"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "{table}"
    );
    assert!(
        table.contains("Complete") && table.contains("3/3"),
        "{table}"
    );
    c.wait_for(
        "job deleted after its TTL",
        &["get", "jobs", "-o", "name"],
        "",
    );
    c.wait_for(
        "pods collected",
        &[
            "get",
            "pods",
            "-l",
            "batch.kubernetes.io/job-name=work",
            "-o",
            "name",
        ],
        "",
    );
}

/// Indexed pods are named `<job>-<index>-<suffix>`, carry the index as annotation and
/// label, and see it in JOB_COMPLETION_INDEX; completedIndexes lists them.
#[test]
fn indexed_job_pods_see_their_index() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&job_manifest(
        "idx",
        "  completions: 3\n  parallelism: 3\n  completionMode: Indexed",
        "echo index=$JOB_COMPLETION_INDEX",
    ));
    c.wait_for(
        "indexed job complete",
        &[
            "get",
            "job",
            "idx",
            "-o",
            "jsonpath={.status.completedIndexes}",
        ],
        "0-2",
    );
    c.wait_for(
        "indexed job complete",
        &[
            "get",
            "job",
            "idx",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}",
        ],
        "True",
    );
    let pods = pods_of(&c, "idx");
    assert_eq!(pods.len(), 3);
    let mut seen = Vec::new();
    for p in &pods {
        let name = p["metadata"]["name"].as_str().expect("name");
        let index = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            .as_str()
            .expect("index annotation");
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
            index
        );
        assert!(name.starts_with(&format!("idx-{index}-")), "{name}");
        assert_eq!(p["spec"]["hostname"], format!("idx-{index}"));
        let logs = c.ok(&["logs", name]);
        assert_eq!(logs.trim(), format!("index={index}"));
        seen.push(index.to_string());
    }
    seen.sort();
    assert_eq!(seen, ["0", "1", "2"]);
}

/// A Job created suspended starts no pods and says so; resuming runs it to completion.
#[test]
fn suspended_job_resumes() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&job_manifest("later", "  suspend: true", "true"));
    c.wait_for(
        "suspended condition",
        &[
            "get",
            "job",
            "later",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Suspended\")].reason}",
        ],
        "JobSuspended",
    );
    assert!(pods_of(&c, "later").is_empty());
    c.ok(&[
        "patch",
        "job",
        "later",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    c.wait_for(
        "resumed job complete",
        &[
            "get",
            "job",
            "later",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}",
        ],
        "True",
    );
    let job = c.get_json(&["job", "later"]);
    let suspended = condition(&job, "Suspended").expect("Suspended");
    assert_eq!(suspended["status"], "False");
    assert_eq!(suspended["reason"], "JobResumed");
}

/// activeDeadlineSeconds fails a running Job: its pod is deleted, and the Job becomes
/// Failed (DeadlineExceeded) only once that pod is gone.
#[test]
fn job_past_active_deadline_fails() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&job_manifest(
        "slow",
        "  activeDeadlineSeconds: 3",
        "sleep 60",
    ));
    c.wait_for(
        "job failed",
        &[
            "get",
            "job",
            "slow",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
        ],
        "DeadlineExceeded",
    );
    let job = c.get_json(&["job", "slow"]);
    assert_eq!(
        condition(&job, "Failed").expect("Failed")["message"],
        "Job was active longer than specified deadline"
    );
    assert_eq!(job["status"]["failed"], 1, "{job}");
    assert_eq!(job["status"]["terminating"], 0, "{job}");
    assert!(job["status"].get("active").is_none(), "{job}");
    assert!(pods_of(&c, "slow").is_empty(), "its pod was deleted");
    let table = c.ok(&["get", "job", "slow", "--no-headers"]);
    assert!(table.contains("Failed") && table.contains("0/1"), "{table}");
}

/// A podFailurePolicy FailJob rule fails the Job on the first matching exit code, with
/// upstream's message, instead of retrying up to backoffLimit.
#[test]
fn pod_failure_policy_fails_job_on_exit_code() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&job_manifest(
        "policy",
        "  backoffLimit: 6\n  podFailurePolicy:\n    rules:\n    - action: FailJob\n      onExitCodes:\n        containerName: main\n        operator: In\n        values: [42]",
        "exit 42",
    ));
    c.wait_for(
        "job failed",
        &[
            "get",
            "job",
            "policy",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
        ],
        "PodFailurePolicy",
    );
    let pods = pods_of(&c, "policy");
    assert_eq!(pods.len(), 1, "no retry after FailJob: {pods:?}");
    let pod = pods[0]["metadata"]["name"].as_str().expect("name");
    let job = c.get_json(&["job", "policy"]);
    assert_eq!(
        condition(&job, "Failed").expect("Failed")["message"],
        format!(
            "Container main for pod default/{pod} failed with exit code 42 matching FailJob rule at index 0"
        )
    );
    assert_eq!(job["status"]["failed"], 1, "{job}");
}

/// backoffLimitPerIndex: a failing index is retried on its own (the replacement counts
/// the index's failures in an annotation) and then marked failed, while the other indexes
/// complete; the Job fails with FailedIndexes. A FailIndex rule with maxFailedIndexes 0
/// fails a second Job at once with MaxFailedIndexesExceeded.
#[test]
fn backoff_limit_per_index_fails_only_the_bad_index() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&job_manifest(
        "per-index",
        "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n  backoffLimitPerIndex: 1",
        "test $JOB_COMPLETION_INDEX = 1 && exit 3; exit 0",
    ));
    c.apply(&job_manifest(
        "fail-index",
        "  completions: 3\n  parallelism: 1\n  completionMode: Indexed\n  backoffLimitPerIndex: 2\n  maxFailedIndexes: 0\n  podFailurePolicy:\n    rules:\n    - action: FailIndex\n      onExitCodes:\n        operator: In\n        values: [42]",
        "exit 42",
    ));
    let failed_reason = "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}";
    c.wait_for(
        "FailIndex job failed",
        &["get", "job", "fail-index", "-o", failed_reason],
        "MaxFailedIndexesExceeded",
    );
    let job = c.get_json(&["job", "fail-index"]);
    assert_eq!(job["status"]["failedIndexes"], "0", "{job}");
    assert_eq!(
        condition(&job, "Failed").expect("Failed")["message"],
        "Job has exceeded the specified maximal number of failed indexes"
    );
    assert_eq!(
        pods_of(&c, "fail-index").len(),
        1,
        "no retry of a FailIndex failure"
    );

    c.wait_for(
        "per-index job failed",
        &["get", "job", "per-index", "-o", failed_reason],
        "FailedIndexes",
    );
    let job = c.get_json(&["job", "per-index"]);
    assert_eq!(job["status"]["failedIndexes"], "1", "{job}");
    assert_eq!(job["status"]["completedIndexes"], "0,2", "{job}");
    assert_eq!(job["status"]["succeeded"], 2, "{job}");
    assert_eq!(job["status"]["failed"], 2, "{job}");
    assert_eq!(
        condition(&job, "Failed").expect("Failed")["message"],
        "Job has failed indexes"
    );
    let pods = pods_of(&c, "per-index");
    assert_eq!(pods.len(), 4, "one retry of index 1 only: {pods:?}");
    let mut index_one: Vec<(String, String, String)> = Vec::new();
    for p in &pods {
        let annotations = &p["metadata"]["annotations"];
        let index = annotations["batch.kubernetes.io/job-completion-index"]
            .as_str()
            .expect("index");
        let failures = annotations["batch.kubernetes.io/job-index-failure-count"]
            .as_str()
            .expect("failure count on every pod");
        assert!(p["metadata"]["finalizers"].is_null(), "counted: {p}");
        if index == "1" {
            assert_eq!(p["status"]["phase"], "Failed");
            index_one.push((
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                failures.to_string(),
                p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ));
        } else {
            assert_eq!(
                (p["status"]["phase"].as_str(), failures),
                (Some("Succeeded"), "0")
            );
        }
    }
    index_one.sort();
    let counts: Vec<&str> = index_one.iter().map(|(_, f, _)| f.as_str()).collect();
    assert_eq!(counts, ["0", "1"], "{index_one:?}");
    // The retry waited out the index's 10 s back-off.
    let gap = ts_seconds(&index_one[1].0) - ts_seconds(&index_one[0].2);
    assert!(gap >= 9, "retry {gap} s after the failure: {index_one:?}");
}

/// Deleting a running Job removes its pods: the tracking finalizer must not keep them
/// once the Job is gone (regression guard for finalizer leaks).
#[test]
fn deleting_a_running_job_removes_its_pods() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&job_manifest("doomed", "  parallelism: 2", "sleep 60"));
    c.wait_for(
        "pods running",
        &[
            "get",
            "pods",
            "-l",
            "batch.kubernetes.io/job-name=doomed",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ],
        "Running Running",
    );
    let pods = pods_of(&c, "doomed");
    assert!(pods
        .iter()
        .all(|p| p["metadata"]["finalizers"][0] == "batch.kubernetes.io/job-tracking"));
    c.ok(&["delete", "job", "doomed", "--wait=false"]);
    c.wait_for(
        "pods deleted",
        &[
            "get",
            "pods",
            "-l",
            "batch.kubernetes.io/job-name=doomed",
            "-o",
            "name",
        ],
        "",
    );
}

fn cron_manifest(name: &str, schedule: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
spec:
  schedule: "{schedule}"
{extra}
  jobTemplate:
    metadata:
      labels:
        cron: {name}
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: busybox:1.36
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "true"]
"#
    )
}

fn jobs_of(c: &Cluster, cron: &str) -> Vec<serde_json::Value> {
    c.get_json(&["jobs", "-l", &format!("cron={cron}")])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn wait_complete(c: &Cluster, job: &str) {
    c.wait_for(
        "job complete",
        &[
            "get",
            "job",
            job,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}",
        ],
        "True",
    );
}

/// A standard five-field schedule fires at the next minute boundary (at most one minute
/// of waiting) with a Job `<cronjob>-<minutes since epoch>` that completes; finished Jobs
/// beyond successfulJobsHistoryLimit are deleted, oldest first (Jobs made with
/// `kubectl create job --from=cronjob/...` belong to the CronJob too).
#[test]
fn cron_job_fires_on_schedule_and_keeps_history_limit() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&cron_manifest(
        "tick",
        "*/1 * * * *",
        "  timeZone: Etc/UTC\n  successfulJobsHistoryLimit: 1",
    ));
    let created = std::time::Instant::now();
    c.ok(&["create", "job", "manual-1", "--from=cronjob/tick"]);
    wait_complete(&c, "manual-1");
    c.ok(&["create", "job", "manual-2", "--from=cronjob/tick"]);
    wait_complete(&c, "manual-2");
    c.wait_for(
        "oldest finished job deleted",
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=tick,reason=SuccessfulDelete",
            "-o",
            "jsonpath={.items[*].message}",
        ],
        "Deleted job manual-1",
    );
    let table = c.ok(&["get", "cronjobs"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"],
        "{table}"
    );
    assert!(
        table.contains("*/1 * * * *") && table.contains("Etc/UTC"),
        "{table}"
    );

    // The scheduled run: within a minute of creation.
    let scheduled = loop {
        let found = jobs_of(&c, "tick").into_iter().find(|j| {
            j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
                .is_string()
        });
        if let Some(j) = found {
            break j;
        }
        assert!(
            created.elapsed() < std::time::Duration::from_secs(65),
            "no scheduled job within a minute:\n{}",
            c.ok(&["get", "events"])
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let name = scheduled["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let ts = scheduled["metadata"]["annotations"]
        ["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .as_str()
        .expect("scheduled timestamp")
        .to_string();
    assert!(ts.ends_with(":00Z"), "on a minute boundary: {ts}");
    let minutes: i64 = name
        .strip_prefix("tick-")
        .and_then(|m| m.parse().ok())
        .expect("tick-<minutes>");
    assert_eq!(
        scheduled["metadata"]["ownerReferences"][0]["kind"],
        "CronJob"
    );
    wait_complete(&c, &name);
    // The scheduled Job is now the newest finished one: manual-2 goes.
    c.wait_for(
        "history trimmed to one",
        &["get", "jobs", "-l", "cron=tick", "-o", "name"],
        &format!("job.batch/{name}"),
    );
    let cj = c.get_json(&["cronjob", "tick"]);
    assert_eq!(
        cj["status"]["lastScheduleTime"].as_str(),
        Some(ts.as_str()),
        "{cj}"
    );
    assert!(cj["status"]["lastSuccessfulTime"].is_string(), "{cj}");
    assert!(cj["status"].get("active").is_none(), "{cj}");
    // The name encodes the scheduled time in minutes since the epoch.
    let secs = ts_seconds(&ts);
    assert_eq!(minutes * 60, secs, "{name} vs {ts}");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=tick",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(events.contains("SuccessfulCreate"), "{events}");
    assert!(events.contains("SawCompletedJob"), "{events}");
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp ("2025-01-02T03:04:00Z").
fn ts_seconds(ts: &str) -> i64 {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", ts, "+%s"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("epoch seconds")
}
