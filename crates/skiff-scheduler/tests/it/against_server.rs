//! The scheduler against a real `skiff server`: Node objects posted by hand (no agent),
//! pods created with kube-rs, outcomes read back through the API.

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{json, Value};
use skiff_clientcompat::SkiffServer;
use skiff_scheduler::{run, SchedulerConfig};
use std::time::Duration;

/// Generous bound for any wait on the server.
const WAIT: Duration = Duration::from_secs(30);
/// The server may embed its own scheduler and a node agent: the test's pods name this
/// scheduler and select the test's nodes by [`POOL`] so neither interferes.
const SCHEDULER: &str = "skiff-scheduler-it";
/// Label on the test's nodes.
const POOL: &str = "skiff.dev/scheduler-it";

struct Fixture {
    _server: SkiffServer,
    client: Client,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<Result<(), skiff_scheduler::SchedulerError>>>,
}

impl Fixture {
    async fn start() -> Fixture {
        // RUST_LOG=skiff_scheduler=debug shows the scheduler's decisions on failure.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let server =
            SkiffServer::start().unwrap_or_else(|e| panic!("cannot start skiff server: {e}"));
        let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path())
            .unwrap_or_else(|e| panic!("reading kubeconfig: {e}"));
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("kubeconfig: {e}"));
        let client = Client::try_from(config).unwrap_or_else(|e| panic!("client: {e}"));
        let (stop, _) = tokio::sync::watch::channel(false);
        let mut f = Fixture {
            _server: server,
            client,
            stop,
            task: None,
        };
        f.wait_ready().await;
        f
    }

    async fn wait_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            let req = http::Request::get("/readyz")
                .body(Vec::new())
                .expect("static request");
            if self.client.request_text(req).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server never became ready");
    }

    fn start_scheduler(&mut self) {
        let rx = self.stop.subscribe();
        let cfg = SchedulerConfig {
            scheduler_name: SCHEDULER.into(),
            ..Default::default()
        };
        self.task = Some(tokio::spawn(run(self.client.clone(), cfg, rx)));
    }

    async fn stop_scheduler(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let res = tokio::time::timeout(WAIT, t).await;
            let res = res.unwrap_or_else(|_| panic!("scheduler did not stop"));
            res.unwrap_or_else(|e| panic!("scheduler task panicked: {e}"))
                .unwrap_or_else(|e| panic!("scheduler failed: {e}"));
        }
    }

    async fn node(&self, name: &str, cpu: &str, mut labels: Value, taints: Value) {
        labels[POOL] = json!("yes");
        let nodes: Api<Node> = Api::all(self.client.clone());
        let status = json!({
            "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}]
        });
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints},
            "status": status,
        }))
        .unwrap_or_else(|e| panic!("node json: {e}"));
        nodes
            .create(&PostParams::default(), &node)
            .await
            .unwrap_or_else(|e| panic!("create node {name}: {e}"));
        // Status may be dropped on create (as for most resources); set it explicitly.
        nodes
            .patch_status(
                name,
                &Default::default(),
                &kube::api::Patch::Merge(json!({"status": status})),
            )
            .await
            .unwrap_or_else(|e| panic!("node status {name}: {e}"));
    }

    async fn pod(&self, name: &str, cpu: &str, extra_spec: Value) {
        let mut spec = json!({
            "schedulerName": SCHEDULER,
            "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]
        });
        if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
            for (k, v) in extra {
                s.insert(k.clone(), v.clone());
            }
        }
        spec["nodeSelector"][POOL] = json!("yes");
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec,
        }))
        .unwrap_or_else(|e| panic!("pod json: {e}"));
        Api::<Pod>::namespaced(self.client.clone(), "default")
            .create(&PostParams::default(), &pod)
            .await
            .unwrap_or_else(|e| panic!("create pod {name}: {e}"));
    }

    /// Poll until `check` returns Some, or fail with the last state seen.
    async fn until<T>(&self, what: &str, mut check: impl AsyncFnMut() -> (Option<T>, String)) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            let (got, seen) = check().await;
            if let Some(v) = got {
                return v;
            }
            last = seen;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}; last seen: {last}");
    }

    async fn node_of(&self, pod: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        self.until(&format!("{pod} to be bound"), async || {
            match pods.get(pod).await {
                Ok(p) => {
                    let n = p.spec.as_ref().and_then(|s| s.node_name.clone());
                    (n, format!("{:?}", p.status.and_then(|s| s.conditions)))
                }
                Err(e) => (None, e.to_string()),
            }
        })
        .await
    }

    async fn events_for(&self, pod: &str, reason: &str) -> Vec<String> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let list = events
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("list events: {e}"));
        list.items
            .into_iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some(pod)
                    && e.reason.as_deref() == Some(reason)
            })
            .filter_map(|e| e.message)
            .collect()
    }
}

impl Fixture {
    /// Upstream's message for the 3-cpu pod over the three test nodes; nodes the server
    /// registered itself (an embedded agent) fail the pool nodeSelector.
    async fn expected_big_message(&self) -> String {
        let all = Api::<Node>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("list nodes: {e}"))
            .items
            .len();
        let other = all - 3;
        if other == 0 {
            return "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.".into();
        }
        let mut filter = [
            format!("{other} node(s) didn't match Pod's node affinity/selector"),
            "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }".to_string(),
            "2 Insufficient cpu".to_string(),
        ];
        filter.sort();
        let mut post = [
            format!("{} Preemption is not helpful for scheduling", other + 1),
            "2 No preemption victims found for incoming pod".to_string(),
        ];
        post.sort();
        format!(
            "0/{all} nodes are available: {}. preemption: 0/{all} nodes are available: {}.",
            filter.join(", "),
            post.join(", ")
        )
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_reports_and_requeues_against_a_real_server() {
    let mut f = Fixture::start().await;
    f.node(
        "cp",
        "4",
        json!({"kubernetes.io/hostname": "cp", "node-role.kubernetes.io/control-plane": ""}),
        json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
    )
    .await;
    f.node(
        "w1",
        "2",
        json!({"kubernetes.io/hostname": "w1", "disk": "ssd"}),
        json!([]),
    )
    .await;
    f.node(
        "w2",
        "2",
        json!({"kubernetes.io/hostname": "w2"}),
        json!([]),
    )
    .await;
    f.start_scheduler();

    // nodeSelector picks the only ssd node.
    f.pod("ssd", "500m", json!({"nodeSelector": {"disk": "ssd"}}))
        .await;
    assert_eq!(f.node_of("ssd").await, "w1");
    let scheduled = f
        .until("the Scheduled event", async || {
            let ev = f.events_for("ssd", "Scheduled").await;
            (ev.first().cloned(), format!("{ev:?}"))
        })
        .await;
    assert_eq!(scheduled, "Successfully assigned default/ssd to w1");

    // A toleration opens the control-plane node, the only one with 3 free cpus.
    f.pod(
        "tolerant",
        "3",
        json!({"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]}),
    )
    .await;
    assert_eq!(f.node_of("tolerant").await, "cp");

    // Fits nowhere: the condition and the event carry upstream's message.
    f.pod("big", "3", json!({})).await;
    let want = f.expected_big_message().await;
    let want = want.as_str();
    let pods: Api<Pod> = Api::namespaced(f.client.clone(), "default");
    let cond = f
        .until("PodScheduled=False on big", async || {
            let p = pods.get("big").await;
            let c = p
                .ok()
                .and_then(|p| p.status)
                .and_then(|s| s.conditions)
                .unwrap_or_default();
            let found = c
                .iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .cloned();
            (found, format!("{c:?}"))
        })
        .await;
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(cond.message.as_deref(), Some(want));
    let failed = f
        .until("the FailedScheduling event", async || {
            let ev = f.events_for("big", "FailedScheduling").await;
            (ev.first().cloned(), format!("{ev:?}"))
        })
        .await;
    assert_eq!(failed, want);

    // A new node is a cluster event that requeues the unschedulable pod.
    f.node(
        "w3",
        "4",
        json!({"kubernetes.io/hostname": "w3"}),
        json!([]),
    )
    .await;
    assert_eq!(f.node_of("big").await, "w3");

    f.stop_scheduler().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preempts_lower_priority_pods_using_priority_classes() {
    let mut f = Fixture::start().await;
    let classes: Api<k8s_openapi::api::scheduling::v1::PriorityClass> = Api::all(f.client.clone());
    let high = serde_json::from_value(json!({
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "it-high"}, "value": 1000
    }))
    .unwrap_or_else(|e| panic!("priorityclass json: {e}"));
    classes
        .create(&PostParams::default(), &high)
        .await
        .unwrap_or_else(|e| panic!("create priorityclass: {e}"));
    f.node(
        "only",
        "2",
        json!({"kubernetes.io/hostname": "only"}),
        json!([]),
    )
    .await;
    f.start_scheduler();
    f.pod("low", "1500m", json!({})).await;
    assert_eq!(f.node_of("low").await, "only");

    // The API server does not resolve priorityClassName; the scheduler must, or "vip"
    // would have priority 0 and find no victims.
    f.pod("vip", "1", json!({"priorityClassName": "it-high"}))
        .await;
    let pods: Api<Pod> = Api::namespaced(f.client.clone(), "default");
    let nominated = f
        .until("vip to be nominated", async || {
            match pods.get("vip").await {
                Ok(p) => {
                    let s = p.status.unwrap_or_default();
                    (s.nominated_node_name.clone(), format!("{:?}", s.conditions))
                }
                Err(e) => (None, e.to_string()),
            }
        })
        .await;
    assert_eq!(nominated, "only");
    f.until("low to be deleted", async || match pods.get("low").await {
        Ok(p) => (
            p.metadata.deletion_timestamp.map(|_| ()),
            "still there".to_string(),
        ),
        Err(kube::Error::Api(s)) if s.code == 404 => (Some(()), String::new()),
        Err(e) => (None, e.to_string()),
    })
    .await;
    let preempted = f.events_for("low", "Preempted").await;
    assert_eq!(preempted.len(), 1, "{preempted:?}");
    f.stop_scheduler().await;
}
