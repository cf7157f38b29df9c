//! Probes on a real node: a failing liveness probe restarts the container (with upstream's
//! events), readiness gates the pod's Ready condition both ways.

use crate::harness::Cluster;
use std::time::{Duration, Instant};

fn ready_node(c: &Cluster) {
    c.wait_node_ready();
}

#[test]
fn failing_liveness_probe_restarts_the_container() {
    let c = Cluster::start_with_agent();
    ready_node(&c);
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 2
"#,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = c.ok(&[
            "get",
            "pod",
            "live",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ]);
        if n.trim().parse::<u32>().unwrap_or(0) >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no restart after liveness failures:\n{}",
            c.ok(&["describe", "pod", "live"])
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=live",
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ]);
    assert!(
        events.contains("Unhealthy: Liveness probe failed"),
        "{events}"
    );
    assert!(
        events.contains("Container app failed liveness probe, will be restarted"),
        "{events}"
    );
    // The previous instance was killed by the agent, not by exiting on its own.
    let last = c.ok(&[
        "get",
        "pod",
        "live",
        "-o",
        "jsonpath={.status.containerStatuses[0].lastState.terminated.reason}",
    ]);
    assert!(!last.is_empty(), "lastState.terminated recorded");
    c.ok(&["delete", "pod", "live", "--grace-period=1"]);
}

#[test]
fn readiness_probe_gates_the_ready_condition() {
    let c = Cluster::start_with_agent();
    ready_node(&c);
    // Not ready for 4 s, ready for 8 s, then not ready again; never restarted.
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: gated}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 4; touch /tmp/ready; sleep 8; rm /tmp/ready; sleep 600"]
    readinessProbe:
      exec: {command: ["cat", "/tmp/ready"]}
      periodSeconds: 1
      failureThreshold: 1
"#,
    );
    let cond = |c: &Cluster| {
        c.ok(&[
            "get",
            "pod",
            "gated",
            "-o",
            "jsonpath={.status.phase}/{.status.conditions[?(@.type==\"Ready\")].status}/{.status.containerStatuses[0].ready}",
        ])
    };
    let mut seen = Vec::<String>::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let now = cond(&c).trim().to_string();
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if seen.windows(3).any(|w| {
            w == [
                "Running/False/false",
                "Running/True/true",
                "Running/False/false",
            ]
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        seen.windows(3).any(|w| w
            == [
                "Running/False/false",
                "Running/True/true",
                "Running/False/false"
            ]),
        "Ready should go False → True → False while Running; saw {seen:?}"
    );
    assert_eq!(
        c.ok(&[
            "get",
            "pod",
            "gated",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ]),
        "0",
        "readiness failures never restart"
    );
    c.ok(&["delete", "pod", "gated", "--grace-period=1"]);
}
