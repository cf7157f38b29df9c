//! Pods run for real: scheduled onto the embedded node, started with runc from an image
//! imported offline, logs relayed through the API server.

use crate::harness::Cluster;

fn wait_for(c: &Cluster, what: &str, args: &[&str], want: &str) {
    c.wait_for(what, args, want)
}

/// Wait until the embedded agent's Node is Ready; returns its name.
fn wait_node_ready(c: &Cluster) -> String {
    c.wait_node_ready()
}

#[test]
fn busybox_pod_runs_and_logs_show_its_output() {
    let c = Cluster::start_with_agent();
    let node = wait_node_ready(&c);
    c.ok(&[
        "run",
        "hello",
        "--image=busybox:1.36",
        "--image-pull-policy=IfNotPresent",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo hello from skiff; echo second line",
    ]);
    wait_for(
        &c,
        "pod completes",
        &["get", "pod", "hello", "-o", "jsonpath={.status.phase}"],
        "Succeeded",
    );
    assert_eq!(
        c.ok(&["get", "pod", "hello", "-o", "jsonpath={.spec.nodeName}"]),
        node
    );
    let logs = c.ok(&["logs", "hello"]);
    assert_eq!(logs, "hello from skiff\nsecond line\n");
    let stamped = c.ok(&["logs", "hello", "--timestamps", "--tail=1"]);
    assert!(
        stamped.ends_with(" second line\n") && stamped.starts_with("20"),
        "{stamped}"
    );
    let reason = c.ok(&[
        "get",
        "pod",
        "hello",
        "-o",
        "jsonpath={.status.containerStatuses[0].state.terminated.reason}",
    ]);
    assert_eq!(reason, "Completed");

    // A failing container reports its exit code and reason.
    c.ok(&[
        "run",
        "fails",
        "--image=busybox:1.36",
        "--image-pull-policy=IfNotPresent",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo going down >&2; exit 3",
    ]);
    wait_for(
        &c,
        "pod fails",
        &["get", "pod", "fails", "-o", "jsonpath={.status.phase}"],
        "Failed",
    );
    let code = c.ok(&[
        "get",
        "pod",
        "fails",
        "-o",
        "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}",
    ]);
    assert_eq!(code, "3");
    assert_eq!(c.ok(&["logs", "fails"]), "going down\n");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=hello",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    for reason in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(events.contains(reason), "event {reason} missing: {events}");
    }
}

#[test]
fn unschedulable_pod_reports_why() {
    let c = Cluster::start_with_agent();
    wait_node_ready(&c);
    c.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: greedy}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n    imagePullPolicy: IfNotPresent\n    resources: {requests: {cpu: \"5000\"}}\n",
    );
    wait_for(
        &c,
        "unschedulable",
        &[
            "get",
            "pod",
            "greedy",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}",
        ],
        "Unschedulable",
    );
    let msg = c.ok(&[
        "get",
        "pod",
        "greedy",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].message}",
    ]);
    assert!(
        msg.contains("0/1 nodes are available") && msg.contains("Insufficient cpu"),
        "{msg}"
    );
}

#[test]
fn disk_pressure_taints_the_node_and_refuses_new_pods() {
    // Every filesystem has less than 100% free: the node must report DiskPressure.
    let c = Cluster::start_with_agent_args(&["--eviction-hard", "nodefs.available<100%"]);
    let node = wait_node_ready(&c);
    let pressure = "jsonpath={.status.conditions[?(@.type==\"DiskPressure\")].status}";
    wait_for(
        &c,
        "DiskPressure",
        &["get", "node", &node, "-o", pressure],
        "True",
    );
    wait_for(
        &c,
        "the disk-pressure taint",
        &["get", "node", &node, "-o", "jsonpath={.spec.taints[*].key}"],
        "node.kubernetes.io/disk-pressure",
    );
    let reason = c.ok(&[
        "get",
        "node",
        &node,
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"DiskPressure\")].reason}",
    ]);
    assert_eq!(reason, "KubeletHasDiskPressure");
    c.ok(&["run", "late", "--image=busybox:1.36", "--", "sleep", "60"]);
    let scheduled = |field: &str| {
        format!("jsonpath={{.status.conditions[?(@.type==\"PodScheduled\")].{field}}}")
    };
    wait_for(
        &c,
        "the pod unschedulable",
        &["get", "pod", "late", "-o", &scheduled("reason")],
        "Unschedulable",
    );
    let msg = c.ok(&["get", "pod", "late", "-o", &scheduled("message")]);
    assert!(
        msg.contains("untolerated taint {node.kubernetes.io/disk-pressure: }"),
        "{msg}"
    );

    // Under disk pressure the node's admission refuses every new pod that is not critical,
    // even one tolerating the taint; a critical pod runs, and is never evicted.
    c.apply(&pressure_pod(
        "critical",
        "kube-system",
        "disk-pressure",
        "  priorityClassName: system-node-critical\n",
    ));
    c.apply(&pressure_pod("refused", "default", "disk-pressure", ""));
    let refused = wait_evicted(&c, "refused");
    assert_eq!(
        refused["status"]["message"], "Pod was rejected: The node had condition: [DiskPressure]. ",
        "{refused}"
    );
    assert!(disruption_target(&refused).is_null(), "{refused}");
    let critical_phase = [
        "get",
        "pod",
        "critical",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.status.phase}",
    ];
    wait_for(&c, "the critical pod running", &critical_phase, "Running");
    // A whole eviction interval later it still runs.
    std::thread::sleep(std::time::Duration::from_secs(11));
    assert_eq!(c.ok(&critical_phase), "Running");
}

/// A pod tolerating the `<taint>` NoSchedule taint, sleeping; `extra` goes into its spec.
fn pressure_pod(name: &str, ns: &str, taint: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{extra}  terminationGracePeriodSeconds: 1\n  tolerations: [{{key: node.kubernetes.io/{taint}, operator: Exists, effect: NoSchedule}}]\n  containers:\n  - {{name: main, image: busybox:1.36, command: [sleep, \"600\"]}}\n"
    )
}

/// Wait until the node ended pod `name` with reason Evicted; returns the pod, checked
/// Failed, with an Evicted event.
fn wait_evicted(c: &Cluster, name: &str) -> serde_json::Value {
    wait_for(
        c,
        "the pod evicted",
        &["get", "pod", name, "-o", "jsonpath={.status.reason}"],
        "Evicted",
    );
    let pod = c.get_json(&["pod", name]);
    assert_eq!(pod["status"]["phase"], "Failed", "{pod}");
    let selector = format!("involvedObject.name={name}");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        &selector,
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(events.contains("Evicted"), "{events}");
    pod
}

fn disruption_target(pod: &serde_json::Value) -> serde_json::Value {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "DisruptionTarget")
        .cloned()
        .unwrap_or_default()
}

/// Under memory pressure the node admits pods that are not BestEffort (or tolerate the
/// memory-pressure taint) and then its eviction manager evicts running pods, one per
/// interval, with the kubelet's message and a DisruptionTarget condition; a BestEffort pod
/// bound straight to the node is refused.
#[test]
fn memory_pressure_evicts_running_pods_and_refuses_best_effort_ones() {
    let c = Cluster::start_with_agent_args(&["--eviction-hard", "memory.available<100%"]);
    let node = wait_node_ready(&c);
    wait_for(
        &c,
        "MemoryPressure",
        &[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"MemoryPressure\")].status}",
        ],
        "True",
    );
    c.apply(
        &pressure_pod("burstable", "default", "memory-pressure", "").replace(
            "command: [sleep, \"600\"]}",
            "command: [sleep, \"600\"], resources: {requests: {memory: 1Ki}}}",
        ),
    );
    c.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: best-effort}}\nspec:\n  nodeName: {node}\n  containers:\n  - {{name: main, image: busybox:1.36, command: [sleep, \"600\"]}}\n"
    ));
    let refused = wait_evicted(&c, "best-effort");
    assert_eq!(
        refused["status"]["message"],
        "Pod was rejected: The node had condition: [MemoryPressure]. "
    );
    let evicted = wait_evicted(&c, "burstable");
    let message = evicted["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("The node was low on resource: memory. Threshold quantity: "),
        "{message}"
    );
    let disruption = disruption_target(&evicted);
    assert_eq!(
        (&disruption["status"], &disruption["reason"]),
        (&"True".into(), &"TerminationByKubelet".into()),
        "{evicted}"
    );
}

#[test]
fn simulated_nodes_run_scheduled_pods() {
    let c = Cluster::start_scheduler_only();
    let _agent = c.simulated_nodes(3);
    for i in 0..6 {
        c.apply(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, labels: {{app: sim}}}}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n    resources: {{requests: {{cpu: \"1\"}}}}\n"
        ));
    }
    wait_for(
        &c,
        "all simulated pods running",
        &[
            "get",
            "pods",
            "-l",
            "app=sim",
            "--field-selector",
            "status.phase=Running",
            "-o",
            "name",
        ],
        "pod/p0\npod/p1\npod/p2\npod/p3\npod/p4\npod/p5",
    );
    let nodes = c.ok(&[
        "get",
        "pods",
        "-l",
        "app=sim",
        "-o",
        "jsonpath={.items[*].spec.nodeName}",
    ]);
    let distinct: std::collections::BTreeSet<&str> = nodes.split_whitespace().collect();
    assert_eq!(
        distinct.len(),
        3,
        "least-allocated scoring spreads pods over all nodes: {nodes}"
    );
    c.ok(&["delete", "pods", "-l", "app=sim", "--timeout=30s"]);
}

#[test]
fn config_volumes_limits_and_security_are_enforced() {
    let c = Cluster::start_with_agent();
    wait_node_ready(&c);
    c.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=color=blue",
    ]);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=s3cret",
    ]);
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo color=$COLOR; cat /etc/creds/password; echo; cat /etc/settings/color"]
    env:
    - name: COLOR
      valueFrom: {configMapKeyRef: {name: settings, key: color}}
    volumeMounts:
    - {name: creds, mountPath: /etc/creds, readOnly: true}
    - {name: settings, mountPath: /etc/settings}
  volumes:
  - name: creds
    secret: {secretName: creds}
  - name: settings
    configMap: {name: settings}
"#,
    );
    wait_for(
        &c,
        "reader completes",
        &["get", "pod", "reader", "-o", "jsonpath={.status.phase}"],
        "Succeeded",
    );
    assert_eq!(c.ok(&["logs", "reader"]), "color=blue\ns3cret\nblue\n");

    // A container over its memory limit is OOMKilled and restarted.
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  containers:
  - name: c
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "x=$(head -c 64m /dev/zero | tr '\\0' a); sleep 1"]
    resources: {limits: {memory: 16Mi}}
"#,
    );
    wait_for(
        &c,
        "OOMKilled",
        &[
            "get",
            "pod",
            "hog",
            "-o",
            "jsonpath={.status.containerStatuses[0].lastState.terminated.reason}",
        ],
        "OOMKilled",
    );
    let restarts: u32 = c
        .ok(&[
            "get",
            "pod",
            "hog",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ])
        .parse()
        .unwrap_or(0);
    assert!(restarts >= 1, "restarted after the OOM kill");

    // runAsNonRoot with an image that runs as root is refused with a clear reason.
    c.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: rootless}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: c, image: "busybox:1.36", imagePullPolicy: IfNotPresent, command: ["true"]}
"#,
    );
    wait_for(
        &c,
        "refused",
        &[
            "get",
            "pod",
            "rootless",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.waiting.reason}",
        ],
        "CreateContainerConfigError",
    );
    let msg = c.ok(&[
        "get",
        "pod",
        "rootless",
        "-o",
        "jsonpath={.status.containerStatuses[0].state.waiting.message}",
    ]);
    assert!(
        msg.contains("runAsNonRoot") && msg.contains("root"),
        "{msg}"
    );
    c.ok(&[
        "delete",
        "pod",
        "hog",
        "rootless",
        "--grace-period=1",
        "--timeout=60s",
    ]);
}
