//! Pods bound to a recording-runtime agent: lifecycle, restarts, pull failures, config errors.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use kube::api::{DeleteParams, ListParams};
use kube::Api;
use serde_json::json;
use skiff_agent::recording::RuntimeCall;

use crate::fixture::{create_pod, get_pod, wait_for, Agent, Cluster};

fn field(pod: &Pod, pointer: &str) -> serde_json::Value {
    serde_json::to_value(pod)
        .ok()
        .and_then(|v| v.pointer(pointer).cloned())
        .unwrap_or(serde_json::Value::Null)
}

fn condition(pod: &Pod, type_: &str) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_runs_ready_and_deletion_completes() {
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    let agent = Agent::start(&client, "node-a");

    // The node registers with capacity, conditions and a lease.
    let nodes: Api<Node> = Api::all(client.clone());
    let node = wait_for(20, "node Ready", || {
        let nodes = nodes.clone();
        async move {
            let n = nodes.get_opt("node-a").await.ok()??;
            let ready = n
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            ready.then_some(n)
        }
    })
    .await;
    let status = node.status.clone().unwrap_or_default();
    assert!(status
        .capacity
        .as_ref()
        .is_some_and(|c| c.contains_key("cpu") && c.contains_key("memory")));
    assert_eq!(
        status
            .capacity
            .as_ref()
            .and_then(|c| c.get("pods"))
            .map(|q| q.0.as_str()),
        Some("110")
    );
    assert_eq!(
        status
            .node_info
            .as_ref()
            .map(|i| i.kubelet_version.as_str()),
        Some("v1.33.0-skiff")
    );
    assert_eq!(
        node.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/hostname"))
            .map(String::as_str),
        Some("node-a")
    );
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    wait_for(10, "lease", || {
        let leases = leases.clone();
        async move { leases.get_opt("node-a").await.ok().flatten() }
    })
    .await;

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"greeting": "hello"}}))
            .expect("cm");
    cms.create(&Default::default(), &cm)
        .await
        .expect("create cm");

    create_pod(
        &client,
        json!({
            "metadata": {"name": "web"},
            "spec": {
                "nodeName": "node-a",
                "terminationGracePeriodSeconds": 3,
                "containers": [{
                    "name": "c", "image": "busybox:1.36",
                    "command": ["sh", "-c"], "args": ["echo $(GREETING)"],
                    "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}}],
                    "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "64Mi"}},
                    "volumeMounts": [{"name": "conf", "mountPath": "/etc/conf"}]
                }],
                "volumes": [{"name": "conf", "configMap": {"name": "cfg"}}]
            }
        }),
    )
    .await;
    let pod = wait_for(20, "pod Running and Ready", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "web").await?;
            let running = p.status.as_ref()?.phase.as_deref() == Some("Running");
            (running && condition(&p, "Ready").as_deref() == Some("True")).then_some(p)
        }
    })
    .await;
    assert!(
        field(&pod, "/status/containerStatuses/0/state/running/startedAt").is_string(),
        "{:?}",
        pod.status
    );
    assert_eq!(
        field(&pod, "/status/containerStatuses/0/ready"),
        json!(true)
    );
    assert_eq!(field(&pod, "/status/qosClass"), json!("Burstable"));
    assert!(field(&pod, "/status/podIP")
        .as_str()
        .is_some_and(|ip| ip.starts_with("10.42.")));
    assert_eq!(field(&pod, "/status/hostIP"), json!("127.0.0.1"));
    assert_eq!(condition(&pod, "Initialized").as_deref(), Some("True"));
    assert_eq!(condition(&pod, "ContainersReady").as_deref(), Some("True"));

    let created = agent.runtime.created();
    let cfg = created.first().expect("a container was created");
    assert_eq!(cfg.command, vec!["sh", "-c", "echo hello"]);
    assert!(cfg.env.contains(&"GREETING=hello".to_string()));
    assert_eq!(cfg.resources.cpu_shares, Some(256));
    assert_eq!(cfg.resources.memory_limit, Some(64 << 20));
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    assert_eq!(cfg.cgroup_parent, format!("/skiff/burstable/pod{uid}"));
    let conf = cfg
        .mounts
        .iter()
        .find(|m| m.destination == "/etc/conf")
        .expect("configmap mount");
    assert_eq!(
        std::fs::read_to_string(conf.source.join("greeting")).expect("volume file"),
        "hello"
    );

    // A ConfigMap change reaches the volume (atomic ..data swap).
    let patch = json!({"data": {"greeting": "hi again"}});
    cms.patch("cfg", &Default::default(), &kube::api::Patch::Merge(&patch))
        .await
        .expect("patch cm");
    let source = conf.source.clone();
    wait_for(30, "configmap volume refresh", || {
        let source = source.clone();
        async move {
            (std::fs::read_to_string(source.join("greeting")).ok()? == "hi again").then_some(())
        }
    })
    .await;

    // Events as upstream words them.
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let reasons = wait_for(10, "Started event", || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await.ok()?;
            let reasons: Vec<String> = list.items.iter().filter_map(|e| e.reason.clone()).collect();
            reasons.contains(&"Started".to_string()).then_some(reasons)
        }
    })
    .await;
    for r in ["Pulling", "Pulled", "Created", "Started"] {
        assert!(
            reasons.contains(&r.to_string()),
            "missing {r} in {reasons:?}"
        );
    }

    // Graceful deletion: containers stopped, sandbox removed, object gone.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for(20, "pod object gone", || {
        let client = client.clone();
        async move { get_pod(&client, "web").await.is_none().then_some(()) }
    })
    .await;
    let calls = agent.runtime.calls();
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, RuntimeCall::Stop(_, g) if g.as_secs() <= 3)),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, RuntimeCall::RemoveSandbox(_))),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_restart_pull_failure_and_config_errors() {
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    let agent = Agent::start(&client, "node-b");
    agent
        .images
        .fail("registry.local/missing:1", "manifest unknown");
    let mut root = skiff_cri::ImageConfig {
        cmd: vec!["/app".into()],
        ..Default::default()
    };
    root.user = String::new();
    agent.images.set_config("rootimage:1", root);

    create_pod(&client, json!({"metadata": {"name": "crash"}, "spec": {"nodeName": "node-b", "containers": [{"name": "c", "image": "busybox:1.36"}]}})).await;
    create_pod(&client, json!({"metadata": {"name": "nopull"}, "spec": {"nodeName": "node-b", "containers": [{"name": "c", "image": "registry.local/missing:1"}]}})).await;
    create_pod(&client, json!({"metadata": {"name": "nonroot"}, "spec": {"nodeName": "node-b", "securityContext": {"runAsNonRoot": true}, "containers": [{"name": "c", "image": "rootimage:1"}]}})).await;
    create_pod(&client, json!({"metadata": {"name": "job"}, "spec": {"nodeName": "node-b", "restartPolicy": "Never", "containers": [{"name": "once", "image": "busybox:1.36"}]}})).await;

    // A crash is restarted (immediately the first time) with restartCount and lastState.
    wait_for(20, "crash running", || {
        let client = client.clone();
        async move {
            (field(&get_pod(&client, "crash").await?, "/status/phase") == json!("Running"))
                .then_some(())
        }
    })
    .await;
    agent.runtime.exit_container("c", 1, false);
    let pod = wait_for(20, "restartCount 1", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "crash").await?;
            let running = field(&p, "/status/containerStatuses/0/state/running").is_object();
            (field(&p, "/status/containerStatuses/0/restartCount") == json!(1) && running)
                .then_some(p)
        }
    })
    .await;
    assert_eq!(
        field(
            &pod,
            "/status/containerStatuses/0/lastState/terminated/exitCode"
        ),
        json!(1)
    );
    assert_eq!(
        field(
            &pod,
            "/status/containerStatuses/0/lastState/terminated/reason"
        ),
        json!("Error")
    );
    // The second crash backs off: CrashLoopBackOff.
    agent.runtime.exit_container("c", 137, true);
    let pod = wait_for(20, "CrashLoopBackOff", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "crash").await?;
            (field(&p, "/status/containerStatuses/0/state/waiting/reason")
                == json!("CrashLoopBackOff"))
            .then_some(p)
        }
    })
    .await;
    assert_eq!(
        field(
            &pod,
            "/status/containerStatuses/0/lastState/terminated/reason"
        ),
        json!("OOMKilled")
    );
    assert_eq!(
        field(&pod, "/status/containerStatuses/0/restartCount"),
        json!(2)
    );
    assert!(
        field(&pod, "/status/containerStatuses/0/state/waiting/message")
            .as_str()
            .is_some_and(
                |m| m.starts_with("back-off 10s restarting failed container=c pod=crash_default(")
            )
    );

    // Pull failure: ErrImagePull with the registry's reason, then ImagePullBackOff.
    let pod = wait_for(20, "ErrImagePull", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "nopull").await?;
            let reason = field(&p, "/status/containerStatuses/0/state/waiting/reason");
            (reason == json!("ErrImagePull") || reason == json!("ImagePullBackOff")).then_some(p)
        }
    })
    .await;
    let msg = field(&pod, "/status/containerStatuses/0/state/waiting/message");
    assert!(
        msg.as_str().is_some_and(|m| m.contains("manifest unknown")),
        "{msg}"
    );
    assert_eq!(field(&pod, "/status/phase"), json!("Pending"));
    wait_for(20, "ImagePullBackOff", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "nopull").await?;
            (field(&p, "/status/containerStatuses/0/state/waiting/reason")
                == json!("ImagePullBackOff"))
            .then_some(())
        }
    })
    .await;

    // runAsNonRoot with a root image is refused with upstream's reason and message.
    let pod = wait_for(20, "CreateContainerConfigError", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "nonroot").await?;
            (field(&p, "/status/containerStatuses/0/state/waiting/reason")
                == json!("CreateContainerConfigError"))
            .then_some(p)
        }
    })
    .await;
    assert_eq!(
        field(&pod, "/status/containerStatuses/0/state/waiting/message"),
        json!("container has runAsNonRoot and image will run as root")
    );

    // restartPolicy Never + exit 0 → Succeeded with a Completed terminated state.
    wait_for(20, "job running", || {
        let runtime = agent.runtime.clone();
        async move { (!runtime.running("once").is_empty()).then_some(()) }
    })
    .await;
    agent.runtime.exit_container("once", 0, false);
    let pod = wait_for(20, "Succeeded", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "job").await?;
            (field(&p, "/status/phase") == json!("Succeeded")).then_some(p)
        }
    })
    .await;
    assert_eq!(
        field(&pod, "/status/containerStatuses/0/state/terminated/reason"),
        json!("Completed")
    );
    assert_eq!(condition(&pod, "Ready").as_deref(), Some("False"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_agent_adopts_running_containers() {
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    let agent = Agent::start(&client, "node-c");
    create_pod(&client, json!({"metadata": {"name": "keep"}, "spec": {"nodeName": "node-c", "containers": [{"name": "c", "image": "busybox:1.36"}]}})).await;
    create_pod(&client, json!({"metadata": {"name": "gone"}, "spec": {"nodeName": "node-c", "containers": [{"name": "g", "image": "busybox:1.36"}]}})).await;
    wait_for(20, "both running", || {
        let runtime = agent.runtime.clone();
        async move { (runtime.running("c").len() == 1 && runtime.running("g").len() == 1).then_some(()) }
    })
    .await;
    let (images, runtime, dir) = agent.stop().await;
    let before = runtime.running("c");
    // While the agent is down, one pod is force-deleted.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.delete(
        "gone",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .expect("delete");
    let created_before = runtime.created().len();

    let agent = Agent::start_with(&client, "node-c", images, runtime.clone(), dir);
    wait_for(20, "orphan removed", || {
        let runtime = runtime.clone();
        async move { runtime.running("g").is_empty().then_some(()) }
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        runtime.running("c"),
        before,
        "the surviving container was not adopted"
    );
    assert_eq!(
        runtime.created().len(),
        created_before,
        "the restarted agent created containers"
    );
    let pod = get_pod(&client, "keep").await.expect("pod");
    assert_eq!(field(&pod, "/status/phase"), json!("Running"));
    drop(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_restart_and_gate_readiness() {
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    let agent = Agent::start(&client, "node-d");
    agent.runtime.set_exec_exit("live-check", 1);
    agent.runtime.set_exec_exit("ready-check", 1);
    create_pod(
        &client,
        json!({"metadata": {"name": "probed"}, "spec": {"nodeName": "node-d", "terminationGracePeriodSeconds": 1, "containers": [
            {"name": "live", "image": "busybox:1.36",
             "livenessProbe": {"exec": {"command": ["live-check"]}, "periodSeconds": 1, "failureThreshold": 2}},
            {"name": "ready", "image": "busybox:1.36",
             "readinessProbe": {"exec": {"command": ["ready-check"]}, "periodSeconds": 1}}
        ]}}),
    )
    .await;
    // Liveness failures restart the container.
    let pod = wait_for(30, "liveness restart", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "probed").await?;
            let n = field(&p, "/status/containerStatuses/0/restartCount").as_i64()?;
            (n >= 1).then_some(p)
        }
    })
    .await;
    assert_eq!(condition(&pod, "Ready").as_deref(), Some("False"));
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default()).await.expect("events");
    let messages: Vec<String> = list
        .items
        .iter()
        .filter_map(|e| e.message.clone())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("Liveness probe failed: command exited with status 1")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m == "Container live failed liveness probe, will be restarted"),
        "{messages:?}"
    );
    // Readiness passing (and liveness healthy) makes the pod Ready.
    agent.runtime.set_exec_exit("live-check", 0);
    agent.runtime.set_exec_exit("ready-check", 0);
    wait_for(30, "Ready", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "probed").await?;
            (condition(&p, "Ready").as_deref() == Some("True")).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_run_in_order_before_app_containers() {
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    let agent = Agent::start(&client, "node-e");
    create_pod(
        &client,
        json!({"metadata": {"name": "inits"}, "spec": {"nodeName": "node-e",
            "initContainers": [{"name": "first", "image": "busybox:1.36"}, {"name": "second", "image": "busybox:1.36"}],
            "containers": [{"name": "app", "image": "busybox:1.36"}]}}),
    )
    .await;
    for name in ["first", "second"] {
        wait_for(20, name, || {
            let runtime = agent.runtime.clone();
            async move { (!runtime.running(name).is_empty()).then_some(()) }
        })
        .await;
        let p = get_pod(&client, "inits").await.expect("pod");
        assert_eq!(field(&p, "/status/phase"), json!("Pending"));
        assert_eq!(condition(&p, "Initialized").as_deref(), Some("False"));
        assert!(
            agent.runtime.running("app").is_empty(),
            "app started before init {name} finished"
        );
        agent.runtime.exit_container(name, 0, false);
    }
    let pod = wait_for(20, "Running after inits", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "inits").await?;
            (field(&p, "/status/phase") == json!("Running")
                && condition(&p, "Ready").as_deref() == Some("True"))
            .then_some(p)
        }
    })
    .await;
    assert_eq!(condition(&pod, "Initialized").as_deref(), Some("True"));
    assert_eq!(
        field(
            &pod,
            "/status/initContainerStatuses/1/state/terminated/reason"
        ),
        json!("Completed")
    );
    let order: Vec<String> = agent
        .runtime
        .created()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(order, vec!["first", "second", "app"]);
}
