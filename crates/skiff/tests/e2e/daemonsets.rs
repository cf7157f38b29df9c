//! DaemonSets driven with the real kubectl: one pod per eligible node (the server's runc node
//! and a node that joins later), node selection by labels and taints, rolling updates node by
//! node with ControllerRevisions, and `kubectl rollout status|history|undo`. Simulated nodes
//! stand in where only counts and ordering matter.

use crate::harness::{ChildGuard, Cluster};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn daemon_set(name: &str, extra_spec: &str, pod_spec: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
{extra_spec}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
{pod_spec}
      containers:
      - name: c
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "while true; do sleep 1; done"]
"#
    )
}

/// Live (not terminating) pods with label app=`app`: name → pod.
fn live_pods(c: &Cluster, app: &str) -> BTreeMap<String, Value> {
    let v = c.get_json(&["pods", "-l", &format!("app={app}")]);
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| Some((p["metadata"]["name"].as_str()?.to_string(), p.clone())))
        .collect()
}

fn label<'a>(p: &'a Value, key: &str) -> &'a str {
    p["metadata"]["labels"][key].as_str().unwrap_or("")
}

#[test]
fn daemonset_covers_the_server_node_and_a_newly_joined_node() {
    let c = Cluster::start_with_agent();
    let server_node = c.wait_node_ready();
    c.apply(&daemon_set("agent", "", ""));
    c.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);

    let pods = live_pods(&c, "agent");
    assert_eq!(pods.len(), 1, "{pods:?}");
    let (name, pod) = pods.iter().next().expect("one pod");
    assert!(name.starts_with("agent-"), "{name}");
    assert_eq!(pod["spec"]["nodeName"], server_node.as_str());
    assert_eq!(pod["status"]["phase"], "Running");
    let owner = &pod["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "DaemonSet");
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["blockOwnerDeletion"], true);
    assert_eq!(label(pod, "pod-template-generation"), "1");
    // Pinned to its node through the scheduler, as upstream does.
    assert_eq!(
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0]["matchFields"][0],
        serde_json::json!({"key": "metadata.name", "operator": "In", "values": [server_node]})
    );
    let tolerations = pod["spec"]["tolerations"].to_string();
    for t in [
        r#"{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists"}"#,
        r#"{"effect":"NoSchedule","key":"node.kubernetes.io/unschedulable","operator":"Exists"}"#,
    ] {
        assert!(tolerations.contains(t), "{tolerations}");
    }
    // The pod carries the bare hash of the set's only revision.
    let revs = c.get_json(&["controllerrevisions", "-l", "app=agent"]);
    let revs = revs["items"].as_array().expect("revisions");
    assert_eq!(revs.len(), 1);
    let hash = label(pod, "controller-revision-hash");
    assert!(!hash.is_empty());
    assert_eq!(
        revs[0]["metadata"]["name"],
        format!("agent-{hash}").as_str()
    );
    assert_eq!(revs[0]["revision"], 1);
    assert_eq!(
        c.ok(&[
            "get",
            "ds",
            "agent",
            "-o",
            "jsonpath={.metadata.annotations.deprecated\\.daemonset\\.template\\.generation}"
        ]),
        "1"
    );

    let _joined = c.join_agent("ds-joined");
    c.wait_for(
        "a daemon pod running on the joined node",
        &[
            "get",
            "pods",
            "-l",
            "app=agent",
            "--field-selector",
            "spec.nodeName=ds-joined",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ],
        "Running",
    );
    c.wait_for(
        "status counts both nodes",
        &[
            "get",
            "ds",
            "agent",
            "-o",
            "jsonpath={.status.desiredNumberScheduled}/{.status.currentNumberScheduled}/{.status.numberReady}/{.status.updatedNumberScheduled}/{.status.numberAvailable}",
        ],
        "2/2/2/2/2",
    );
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=agent,reason=SuccessfulCreate",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert_eq!(events.matches("Created pod: agent-").count(), 2, "{events}");
    c.ok(&["delete", "ds", "agent", "--timeout=60s"]);
    c.wait_for(
        "pods removed with their set",
        &["get", "pods", "-l", "app=agent", "-o", "name"],
        "",
    );
}

/// Replay a `kubectl get -w --output-watch-events -o json` stream: after each event, the
/// number of nodes with a ready, non-terminating pod and the number of live pods.
fn replay(stream: &str) -> Vec<(usize, usize)> {
    let mut live: BTreeMap<String, Value> = BTreeMap::new();
    let mut steps = Vec::new();
    for ev in serde_json::Deserializer::from_str(stream).into_iter::<Value>() {
        let Ok(ev) = ev else { break };
        let pod = &ev["object"];
        let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
        if ev["type"] == "DELETED" || !pod["metadata"]["deletionTimestamp"].is_null() {
            live.remove(&name);
        } else {
            live.insert(name, pod.clone());
        }
        let ready_nodes: BTreeSet<&str> = live
            .values()
            .filter(|p| {
                p["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
            .filter_map(|p| p["spec"]["nodeName"].as_str())
            .collect();
        steps.push((ready_nodes.len(), live.len()));
    }
    steps
}

#[test]
fn daemonset_rolls_node_by_node_and_rollout_undo_goes_back() {
    let c = Cluster::start_scheduler_only();
    let _nodes = c.simulated_nodes(3);
    c.apply(&daemon_set(
        "roll",
        "  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}",
        "",
    ));
    c.ok(&["rollout", "status", "daemonset/roll", "--timeout=60s"]);
    let before = live_pods(&c, "roll");
    assert_eq!(before.len(), 3);
    let first_hash = label(
        before.values().next().expect("pod"),
        "controller-revision-hash",
    )
    .to_string();

    let mut watch = ChildGuard(
        Command::new("kubectl")
            .args([
                "get",
                "pods",
                "-l",
                "app=roll",
                "--watch",
                "--output-watch-events",
            ])
            .args(["-o", "json"])
            .env("KUBECONFIG", c.data_dir().join("kubeconfig.yaml"))
            .env("HOME", c.scratch())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl watch"),
    );
    // The watch lists the three ready pods first.
    std::thread::sleep(Duration::from_secs(1));
    c.ok(&["set", "image", "daemonset/roll", "c=busybox:1.37"]);
    c.ok(&["rollout", "status", "daemonset/roll", "--timeout=60s"]);
    std::thread::sleep(Duration::from_millis(500));
    let _ = watch.0.kill();
    let mut out = String::new();
    if let Some(mut s) = watch.0.stdout.take() {
        s.read_to_string(&mut out).expect("watch output");
    }
    let steps = replay(&out);
    let start = steps
        .iter()
        .position(|&(ready, _)| ready == 3)
        .expect("watch saw the three ready pods");
    for (i, &(ready, live)) in steps[start..].iter().enumerate() {
        assert!(
            ready >= 2,
            "maxUnavailable 1: only {ready} nodes ready at step {i}: {steps:?}"
        );
        assert!(
            live <= 3,
            "no surge allowed: {live} pods at step {i}: {steps:?}"
        );
    }

    let after = live_pods(&c, "roll");
    assert_eq!(after.len(), 3);
    let second_hash = label(
        after.values().next().expect("pod"),
        "controller-revision-hash",
    )
    .to_string();
    assert_ne!(first_hash, second_hash);
    for (name, p) in &after {
        assert!(!before.contains_key(name), "{name} was replaced");
        assert_eq!(p["spec"]["containers"][0]["image"], "busybox:1.37");
        assert_eq!(label(p, "controller-revision-hash"), second_hash);
        assert_eq!(label(p, "pod-template-generation"), "2");
    }
    let history = c.ok(&["rollout", "history", "daemonset/roll"]);
    assert!(
        history.contains("REVISION") && history.contains('1') && history.contains('2'),
        "{history}"
    );
    let rev1 = c.ok(&["rollout", "history", "daemonset/roll", "--revision=1"]);
    assert!(rev1.contains("busybox:1.36"), "{rev1}");

    let undo = c.ok(&["rollout", "undo", "daemonset/roll"]);
    assert!(undo.contains("rolled back"), "{undo}");
    c.ok(&["rollout", "status", "daemonset/roll", "--timeout=60s"]);
    let back = live_pods(&c, "roll");
    assert_eq!(back.len(), 3);
    for p in back.values() {
        assert_eq!(p["spec"]["containers"][0]["image"], "busybox:1.36");
        assert_eq!(label(p, "controller-revision-hash"), first_hash);
        assert_eq!(label(p, "pod-template-generation"), "3");
    }
    // The first revision was reused and renumbered after the second.
    assert_eq!(
        c.ok(&[
            "get",
            "controllerrevision",
            &format!("roll-{first_hash}"),
            "-o",
            "jsonpath={.revision}"
        ]),
        "3"
    );
    let s = c.get_json(&["ds", "roll"]);
    assert_eq!(
        s["status"]["observedGeneration"],
        s["metadata"]["generation"]
    );
    assert_eq!(s["status"]["updatedNumberScheduled"], 3);
    assert_eq!(s["status"]["numberUnavailable"], Value::Null);
}

#[test]
fn daemonset_follows_node_labels_and_taints() {
    let c = Cluster::start_scheduler_only();
    let _nodes = c.simulated_nodes(3);
    c.apply(&daemon_set("edge", "", "      nodeSelector: {role: edge}"));
    // No node matches: nothing desired, and the status says so for this generation.
    c.wait_for(
        "nothing desired",
        &[
            "get",
            "ds",
            "edge",
            "-o",
            "jsonpath={.status.observedGeneration}/{.status.desiredNumberScheduled}/{.status.currentNumberScheduled}",
        ],
        "1/0/0",
    );
    c.ok(&["rollout", "status", "daemonset/edge", "--timeout=10s"]);
    assert!(live_pods(&c, "edge").is_empty());

    c.ok(&["label", "node", "sim-1", "sim-2", "role=edge"]);
    let on_nodes = |c: &Cluster| -> Vec<String> {
        let mut v: Vec<String> = live_pods(c, "edge")
            .values()
            .filter_map(|p| p["spec"]["nodeName"].as_str().map(String::from))
            .collect();
        v.sort();
        v
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while on_nodes(&c) != ["sim-1", "sim-2"] && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(on_nodes(&c), ["sim-1", "sim-2"]);

    let on_sim2 = live_pods(&c, "edge")
        .into_iter()
        .find(|(_, p)| p["spec"]["nodeName"] == "sim-2")
        .map(|(name, _)| name)
        .expect("pod on sim-2");
    // A NoExecute taint the pods do not tolerate removes the pod from that node (the set or
    // taint eviction, whichever comes first); a label no longer matching removes the other.
    c.ok(&["taint", "node", "sim-1", "dedicated=db:NoExecute"]);
    c.ok(&["label", "node", "sim-2", "role-"]);
    c.wait_for(
        "pods gone from nodes that stopped qualifying",
        &["get", "pods", "-l", "app=edge", "-o", "name"],
        "",
    );
    c.wait_for(
        "status back to zero",
        &[
            "get",
            "ds",
            "edge",
            "-o",
            "jsonpath={.status.desiredNumberScheduled}/{.status.numberMisscheduled}",
        ],
        "0/0",
    );
    let deleted = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=edge,reason=SuccessfulDelete",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(
        deleted.contains(&format!("Deleted pod: {on_sim2}")),
        "{deleted}"
    );
}
