//! Unit tests of the pod worker's state machine with the recording services. The kube client
//! points at a closed port: event and status writes fail (and are only logged), which is
//! exactly what the worker must tolerate.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::*;
use crate::recording::{RecordingImages, RecordingRuntime, RuntimeCall};

fn ctx(
    dir: &std::path::Path,
    images: Arc<RecordingImages>,
    runtime: Arc<RecordingRuntime>,
) -> Arc<WorkerCtx> {
    let url: http::Uri = "http://127.0.0.1:9".parse().expect("uri");
    let client = Client::try_from(kube::Config::new(url)).expect("client");
    Arc::new(WorkerCtx {
        client: client.clone(),
        cfg: Arc::new(AgentConfig::new("n1", dir)),
        images,
        runtime,
        events: EventRecorder::new(client, "n1"),
        node_cpu_millis: 4000,
        node_memory: 8 << 30,
        evictions: Default::default(),
    })
}

fn pod(policy: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {"nodeName": "n1", "restartPolicy": policy, "containers": [{"name": "c", "image": "busybox:1.36"}]}
    }))
    .expect("pod")
}

async fn drive(w: &mut PodWorker, steps: usize) {
    for _ in 0..steps {
        let (next, _) = w.step().await;
        w.state = next;
    }
}

#[tokio::test]
async fn restart_policy_table() {
    // (policy, exit code, restarted?)
    let cases = [
        ("Always", 0, true),
        ("Always", 1, true),
        ("OnFailure", 0, false),
        ("OnFailure", 2, true),
        ("Never", 1, false),
        ("Never", 0, false),
    ];
    for (policy, code, restarted) in cases {
        let tmp = tempfile::tempdir().expect("tmp");
        let (images, runtime) = (RecordingImages::new(), RecordingRuntime::new());
        let mut w = PodWorker::new(
            ctx(tmp.path(), images, runtime.clone()),
            pod(policy),
            vec![],
        );
        drive(&mut w, 3).await;
        assert_eq!(w.state, State::Run, "{policy}");
        assert_eq!(runtime.running("c").len(), 1);
        runtime.exit_container("c", code, false);
        drive(&mut w, 2).await;
        assert_eq!(
            runtime.running("c").len(),
            usize::from(restarted),
            "{policy} exit {code}"
        );
        let want_phase = match (restarted, code) {
            (true, _) => "Running",
            (false, 0) => "Succeeded",
            (false, _) => "Failed",
        };
        assert_eq!(w.phase(), want_phase, "{policy} exit {code}");
    }
}

#[tokio::test]
async fn crash_loop_backs_off_after_the_first_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (images, runtime) = (RecordingImages::new(), RecordingRuntime::new());
    let mut w = PodWorker::new(
        ctx(tmp.path(), images, runtime.clone()),
        pod("Always"),
        vec![],
    );
    drive(&mut w, 3).await;
    runtime.exit_container("c", 1, false);
    drive(&mut w, 1).await;
    assert_eq!(runtime.running("c").len(), 1, "first restart is immediate");
    assert_eq!(w.slots[0].restart_count, 1);
    runtime.exit_container("c", 1, false);
    drive(&mut w, 2).await;
    assert!(runtime.running("c").is_empty(), "second restart waits");
    let (reason, msg) = w.slots[0].waiting.clone().expect("waiting");
    assert_eq!(reason, "CrashLoopBackOff");
    assert_eq!(
        msg,
        "back-off 10s restarting failed container=c pod=p_default(u1)"
    );
    let status = w.build_status();
    let cs = &status.container_statuses.expect("statuses")[0];
    assert_eq!(cs.restart_count, 2);
    assert_eq!(
        cs.last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code),
        Some(1)
    );
}

#[tokio::test]
async fn pull_failure_backs_off_and_recovers() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (images, runtime) = (RecordingImages::new(), RecordingRuntime::new());
    images.fail("busybox:1.36", "manifest unknown");
    let mut w = PodWorker::new(
        ctx(tmp.path(), images.clone(), runtime.clone()),
        pod("Always"),
        vec![],
    );
    drive(&mut w, 3).await;
    assert_eq!(
        w.slots[0].waiting.as_ref().map(|w| w.0.as_str()),
        Some("ErrImagePull")
    );
    drive(&mut w, 1).await;
    assert_eq!(
        w.slots[0].waiting.as_ref().map(|w| w.0.as_str()),
        Some("ImagePullBackOff")
    );
    assert_eq!(images.pulls().len(), 1, "no pull during back-off");
    assert_eq!(w.phase(), "Pending");
    // After the back-off the next pull succeeds.
    images.heal("busybox:1.36");
    w.slots[0].next_pull = Some(Instant::now());
    drive(&mut w, 1).await;
    assert_eq!(runtime.running("c").len(), 1);
}

#[tokio::test]
async fn gone_pod_is_torn_down_without_api_calls() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (images, runtime) = (RecordingImages::new(), RecordingRuntime::new());
    let mut w = PodWorker::new(
        ctx(tmp.path(), images, runtime.clone()),
        pod("Always"),
        vec![],
    );
    drive(&mut w, 3).await;
    w.state = State::Gone;
    drive(&mut w, 1).await;
    assert_eq!(w.state, State::Done);
    let calls = runtime.calls();
    assert!(calls
        .iter()
        .any(|c| matches!(c, RuntimeCall::Stop(_, g) if *g == Duration::from_secs(2))));
    assert!(calls
        .iter()
        .any(|c| matches!(c, RuntimeCall::RemoveSandbox(_))));
    assert!(!tmp.path().join("pods/u1").exists());
}

/// A deletion that arrives on the update channel while the worker waits must be applied: the
/// worker once tested `has_changed()` after `changed()` had already marked the value seen, so
/// the deletionTimestamp was dropped and the pod stayed Terminating with its container running.
#[tokio::test]
async fn deletion_update_reaches_a_running_worker() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (images, runtime) = (RecordingImages::new(), RecordingRuntime::new());
    let w = PodWorker::new(
        ctx(tmp.path(), images, runtime.clone()),
        pod("Always"),
        vec![],
    );
    let (tx, rx) = watch::channel(Some(pod("Always")));
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(w.run(rx, stop_rx));
    let started = tokio::time::timeout(Duration::from_secs(10), async {
        while runtime.running("c").is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(started.is_ok(), "container never started");
    let mut deleted = pod("Always");
    deleted.metadata.deletion_timestamp = Some(crate::time::now());
    deleted.metadata.deletion_grace_period_seconds = Some(30);
    tx.send(Some(deleted)).expect("worker listens");
    let stopped = tokio::time::timeout(Duration::from_secs(10), async {
        while !runtime
            .calls()
            .iter()
            .any(|c| matches!(c, RuntimeCall::Stop(..)))
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    assert!(stopped.is_ok(), "deletion never reached the worker");
    assert!(runtime.running("c").is_empty());
}

/// An eviction order stops the containers with the hard-eviction grace period, restarts
/// none (even with restartPolicy Always) and ends the pod Failed/Evicted with the
/// kubelet's DisruptionTarget condition.
#[tokio::test]
async fn eviction_order_fails_the_pod_without_restarts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (images, runtime) = (RecordingImages::new(), RecordingRuntime::new());
    let ctx = ctx(tmp.path(), images, runtime.clone());
    let mut w = PodWorker::new(ctx.clone(), pod("Always"), vec![]);
    drive(&mut w, 3).await;
    assert_eq!(runtime.running("c").len(), 1);
    let message =
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 10Mi. ";
    ctx.evictions.order("u1", message.to_string());
    drive(&mut w, 3).await;
    assert_eq!(w.state, State::Finished);
    assert!(runtime.running("c").is_empty(), "stopped and not restarted");
    assert!(runtime
        .calls()
        .iter()
        .any(|c| matches!(c, RuntimeCall::Stop(_, g) if *g == Duration::from_secs(1))));
    let status = w.build_status();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("Evicted"));
    assert_eq!(status.message.as_deref(), Some(message));
    let disruption = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget");
    assert_eq!(
        (disruption.status.as_str(), disruption.reason.as_deref()),
        ("True", Some("TerminationByKubelet"))
    );
    assert!(ctx.evictions.take("u1").is_none(), "the order was taken");
}
