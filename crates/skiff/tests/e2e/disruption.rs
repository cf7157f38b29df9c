//! Disruption and node lifecycle: PodDisruptionBudget status, `kubectl drain` honouring a
//! budget (one pod at a time, blocked with the 429 when the budget allows nothing),
//! cordon/uncordon, and a lost node whose pods are evicted after their tolerationSeconds
//! and replaced on another node.

use crate::harness::Cluster;

const READY: &str = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";

fn deployment(name: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "while true; do sleep 1; done"]
"#
    )
}

fn budget(name: &str, rule: &str) -> String {
    format!(
        r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
spec:
  {rule}
  selector:
    matchLabels: {{app: {name}}}
"#
    )
}

/// `expectedPods/currentHealthy/desiredHealthy/disruptionsAllowed reason`.
const PDB_STATUS: &str = "jsonpath={.status.expectedPods}/{.status.currentHealthy}/{.status.desiredHealthy}/{.status.disruptionsAllowed} {.status.conditions[?(@.type==\"DisruptionAllowed\")].reason}";

#[test]
fn budget_status_and_drain_on_one_node() {
    let c = Cluster::start_with_agent();
    let node = c.wait_node_ready();
    c.apply(&deployment("web"));
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    c.apply(&budget("web", "minAvailable: 2"));
    c.wait_for(
        "budget with no room",
        &["get", "pdb", "web", "-o", PDB_STATUS],
        "2/2/2/0 InsufficientPods",
    );
    let table = c.ok(&["get", "pdb", "web"]);
    assert!(
        table.contains("MIN AVAILABLE")
            && table.contains("MAX UNAVAILABLE")
            && table.contains("ALLOWED DISRUPTIONS"),
        "{table}"
    );
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(row.get(1..4), Some(&["2", "N/A", "0"][..]), "{table}");

    // The budget allows nothing: drain cordons, then keeps getting the 429 until it times out.
    let r = c.kubectl(&[
        "drain",
        &node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=7s",
    ]);
    assert!(!r.ok, "drain should block:\n{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains(&format!("node/{node} cordoned")),
        "{}",
        r.stdout
    );
    assert_eq!(
        c.ok(&["get", "node", &node, "-o", "jsonpath={.spec.unschedulable}"]),
        "true"
    );
    let nodes = c.ok(&["get", "nodes"]);
    assert!(nodes.contains("Ready,SchedulingDisabled"), "{nodes}");
    // Other taints may be there too (disk-pressure on a nearly full test machine).
    c.wait_for(
        "cordoned node tainted",
        &[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.spec.taints[?(@.key==\"node.kubernetes.io/unschedulable\")].effect}",
        ],
        "NoSchedule",
    );
    assert_eq!(
        c.ok(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].status.phase}"
        ]),
        "Running Running",
        "a blocked drain evicts nothing"
    );

    // A budget with room for one: the first pod goes, its replacement cannot be scheduled on
    // the cordoned node, so the second stays.
    c.apply(&budget("web", "maxUnavailable: \"50%\""));
    c.wait_for(
        "budget with room for one",
        &["get", "pdb", "web", "-o", PDB_STATUS],
        "2/2/1/1 SufficientPods",
    );
    assert_eq!(
        c.ok(&[
            "get",
            "pdb",
            "web",
            "-o",
            "jsonpath={.status.observedGeneration}/{.metadata.generation}"
        ]),
        "2/2"
    );
    let r = c.kubectl(&[
        "drain",
        &node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=8s",
    ]);
    assert!(!r.ok, "drain should block on the second pod");
    assert_eq!(r.stdout.matches(" evicted").count(), 1, "{}", r.stdout);
    c.wait_for(
        "one pod running, its replacement pending",
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ],
        "Running",
    );
    c.wait_for(
        "budget exhausted",
        &["get", "pdb", "web", "-o", PDB_STATUS],
        "2/1/1/0 InsufficientPods",
    );

    // Uncordon: the replacement runs, the budget has room again and the taint goes.
    c.ok(&["uncordon", &node]);
    c.wait_for(
        "cordon taint removed",
        &["get", "node", &node, "-o", "jsonpath={.spec.taints}"],
        "",
    );
    c.wait_for(
        "budget recovered",
        &["get", "pdb", "web", "-o", PDB_STATUS],
        "2/2/1/1 SufficientPods",
    );
}

#[test]
fn drain_moves_pods_one_at_a_time_and_a_lost_node_loses_its_pods() {
    let c = Cluster::start_with_agent_args(&[
        // Agents renew their Lease every 10 s (as the kubelet does): the grace period
        // must leave room for one late renewal.
        "--node-monitor-grace-period=15s",
        "--node-monitor-period=1s",
        "--default-not-ready-toleration-seconds=2",
        "--default-unreachable-toleration-seconds=2",
    ]);
    let server = c.wait_node_ready();
    let mut agent = c.join_agent("lost-1");
    c.wait_for(
        "joined node ready",
        &["get", "node", "lost-1", "-o", READY],
        "True",
    );

    // Everything lands on the joined node while the server's node is cordoned.
    c.ok(&["cordon", &server]);
    c.apply(&deployment("web"));
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let on_nodes = "jsonpath={range .items[*]}{.spec.nodeName} {end}";
    assert_eq!(
        c.ok(&["get", "pods", "-l", "app=web", "-o", on_nodes])
            .trim(),
        "lost-1 lost-1"
    );
    // DefaultTolerationSeconds admission, with the server's flags.
    assert_eq!(
        c.ok(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].spec.tolerations[*].key}={.items[0].spec.tolerations[*].tolerationSeconds}"
        ]),
        "node.kubernetes.io/not-ready node.kubernetes.io/unreachable=2 2"
    );
    c.apply(&budget("web", "minAvailable: 1"));
    c.wait_for(
        "budget",
        &["get", "pdb", "web", "-o", PDB_STATUS],
        "2/2/1/1 SufficientPods",
    );
    c.ok(&["uncordon", &server]);

    // Drain: the first eviction uses the budget; the second waits (429) until the first
    // pod's replacement is ready on the other node.
    let r = c.kubectl(&[
        "drain",
        "lost-1",
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=45s",
    ]);
    assert!(
        r.ok,
        "drain failed:\n{}\n{}\n{}\n{}",
        r.stdout,
        r.stderr,
        c.kubectl(&["get", "pods", "-o", "wide"]).stdout,
        c.kubectl(&["get", "pdb", "web", "-o", "yaml"]).stdout
    );
    assert!(
        r.stderr
            .contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "the second eviction should have waited for the budget:\n{}",
        r.stderr
    );
    assert_eq!(r.stdout.matches(" evicted").count(), 2, "{}", r.stdout);
    assert!(r.stdout.contains("node/lost-1 drained"), "{}", r.stdout);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert_eq!(
        c.ok(&["get", "pods", "-l", "app=web", "-o", on_nodes])
            .trim(),
        format!("{server} {server}")
    );

    // Node loss: pods of another Deployment on the joined node, then its agent dies.
    c.ok(&["uncordon", "lost-1"]);
    c.ok(&["cordon", &server]);
    c.apply(&deployment("victim"));
    c.ok(&["rollout", "status", "deployment/victim", "--timeout=60s"]);
    let victims = c.ok(&["get", "pods", "-l", "app=victim", "-o", on_nodes]);
    assert_eq!(victims.trim(), "lost-1 lost-1");
    c.ok(&["uncordon", &server]);
    agent.kill();
    c.wait_for(
        "lost node Unknown",
        &[
            "get",
            "node",
            "lost-1",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}/{.status.conditions[?(@.type==\"Ready\")].reason}",
        ],
        "Unknown/NodeStatusUnknown",
    );
    let message = c.ok(&[
        "get",
        "node",
        "lost-1",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].message}",
    ]);
    assert_eq!(message, "Kubelet stopped posting node status.");
    c.wait_for(
        "unreachable taints",
        &[
            "get",
            "node",
            "lost-1",
            "-o",
            "jsonpath={range .spec.taints[*]}{.key}:{.effect} {end}",
        ],
        "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute",
    );
    let nodes = c.ok(&["get", "nodes"]);
    assert!(nodes.contains("NotReady"), "{nodes}");
    // After tolerationSeconds the pods are deleted (they stay Terminating: their node cannot
    // confirm) and the ReplicaSet replaces them on the server's node.
    c.wait_for(
        "replacements on the server's node",
        &[
            "get",
            "pods",
            "-l",
            "app=victim",
            "--field-selector",
            &format!("spec.nodeName={server},status.phase=Running"),
            "-o",
            "jsonpath={range .items[*]}{.status.phase} {end}",
        ],
        "Running Running",
    );
    let lost = c.ok(&[
        "get",
        "pods",
        "-l",
        "app=victim",
        "--field-selector=spec.nodeName=lost-1",
        "-o",
        "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"DisruptionTarget\")].reason} {end}",
    ]);
    assert_eq!(
        lost.trim(),
        "DeletionByTaintManager DeletionByTaintManager",
        "the lost node's pods are marked for deletion"
    );
    let deleting = c.ok(&[
        "get",
        "pods",
        "-l",
        "app=victim",
        "--field-selector=spec.nodeName=lost-1",
        "-o",
        "jsonpath={range .items[*]}{.metadata.deletionTimestamp} {end}",
    ]);
    assert_eq!(deleting.split_whitespace().count(), 2, "{deleting}");
    let events = c.ok(&[
        "get",
        "events",
        "-o",
        "jsonpath={range .items[?(@.reason==\"TaintManagerEviction\")]}{.message}{\"\\n\"}{end}",
    ]);
    assert_eq!(
        events
            .matches("Marking for deletion Pod default/victim-")
            .count(),
        2,
        "{events}"
    );
    let not_ready = c.ok(&[
        "get",
        "events",
        "-o",
        "jsonpath={range .items[?(@.reason==\"NodeNotReady\")]}{.involvedObject.kind}:{.message}{\"\\n\"}{end}",
    ]);
    assert!(
        not_ready.contains("Node:Node lost-1 status is now: NodeNotReady"),
        "{not_ready}"
    );
    assert_eq!(
        not_ready.matches("Pod:Node is not ready").count(),
        2,
        "the lost node's pods were marked not ready first:\n{not_ready}"
    );
    c.ok(&["rollout", "status", "deployment/victim", "--timeout=30s"]);
}

/// Losing most of a zone looks like a network partition: upstream's node lifecycle stops
/// starting evictions there. Three of four nodes go silent at once; they turn Unknown and
/// get the unreachable NoSchedule taint, but (beyond at most one caught in a pass before
/// the others) no NoExecute taint, which at the normal rate of one node per 10 s would
/// have reached all three.
#[test]
fn a_mostly_lost_zone_stops_evicting() {
    let c = Cluster::start_with_agent_args(&[
        "--node-monitor-grace-period=15s",
        "--node-monitor-period=1s",
    ]);
    c.wait_node_ready();
    let sims = c.simulated_nodes(3);
    let sim_names = "jsonpath={range .items[?(@.metadata.labels.skiff\\.dev/simulated)]}{.metadata.name}:{.status.conditions[?(@.type==\"Ready\")].status} {end}";
    c.wait_for(
        "simulated nodes ready",
        &["get", "nodes", "-o", sim_names],
        "sim-0:True sim-1:True sim-2:True",
    );
    drop(sims);
    c.wait_for(
        "simulated nodes lost",
        &["get", "nodes", "-o", sim_names],
        "sim-0:Unknown sim-1:Unknown sim-2:Unknown",
    );
    // Long enough for the normal rate to have tainted all three.
    std::thread::sleep(std::time::Duration::from_secs(25));
    let taints = c.ok(&[
        "get",
        "nodes",
        "-l",
        "skiff.dev/simulated=true",
        "-o",
        "jsonpath={range .items[*]}{.spec.taints[*].effect};{end}",
    ]);
    let per_node: Vec<&str> = taints.split(';').filter(|t| !t.is_empty()).collect();
    assert_eq!(per_node.len(), 3, "{taints}");
    assert!(
        per_node.iter().all(|t| t.contains("NoSchedule")),
        "{taints}"
    );
    let evicting = per_node.iter().filter(|t| t.contains("NoExecute")).count();
    assert!(evicting <= 1, "{taints}");
    let metrics = c.ok(&["get", "--raw", "/metrics"]);
    for line in [
        "node_collector_zone_size{zone=\"\"} 4",
        "node_collector_unhealthy_nodes_in_zone{zone=\"\"} 3",
        "node_collector_zone_health{zone=\"\"} 25",
        &format!("node_collector_evictions_total{{zone=\"\"}} {evicting}"),
    ] {
        assert!(metrics.contains(line), "{line} missing");
    }
}
