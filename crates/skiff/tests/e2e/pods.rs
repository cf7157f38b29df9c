//! Pods run for real: scheduled onto the embedded node, started with runc from an image
//! imported offline, logs relayed through the API server.

use crate::harness::Cluster;
use std::time::{Duration, Instant};

fn wait_for(c: &Cluster, what: &str, args: &[&str], want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        let r = c.kubectl(args);
        last = format!("{}{}", r.stdout, r.stderr);
        if r.ok && r.stdout.trim() == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!(
        "{what}: wanted {want:?}, last saw {last:?}\nserver log:\n{}",
        c.log()
    );
}

#[test]
fn busybox_pod_runs_and_logs_show_its_output() {
    let c = Cluster::start_with_agent();
    let node = format!("e2e-{}", c.port);
    wait_for(
        &c,
        "node ready",
        &[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
        "True",
    );
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
    let node = format!("e2e-{}", c.port);
    wait_for(
        &c,
        "node ready",
        &[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
        "True",
    );
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
