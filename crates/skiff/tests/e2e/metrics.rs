//! `kubectl top` and the metrics.k8s.io API: usage scraped from the agent's cgroups.

use crate::harness::Cluster;
use std::time::{Duration, Instant};

/// A pod that burns CPU under a limit, beside an idle container.
const BUSY_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: busy
  labels: {app: busy}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: spin
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while :; do :; done"]
    resources:
      requests: {cpu: 100m, memory: 16Mi}
      limits: {cpu: 200m, memory: 64Mi}
  - name: idle
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
"#;

/// Run kubectl until `accept` takes its stdout (about 60 s); returns what it returned.
fn poll<T>(c: &Cluster, args: &[&str], mut accept: impl FnMut(&str) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        let r = c.kubectl(args);
        if r.ok {
            if let Some(v) = accept(&r.stdout) {
                return v;
            }
        }
        last = format!("stdout: {}\nstderr: {}", r.stdout, r.stderr);
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = c.log();
    let from = (log.len().saturating_sub(4000)..log.len())
        .find(|&i| log.is_char_boundary(i))
        .unwrap_or(0);
    panic!(
        "kubectl {args:?} never gave what we wanted; last:\n{last}\nserver log tail:\n{}",
        &log[from..]
    );
}

/// `123m` → 123.
fn millicores(cell: &str) -> Option<u64> {
    cell.strip_suffix('m')?.parse().ok()
}

/// `12Mi` → 12.
fn mebibytes(cell: &str) -> Option<u64> {
    cell.strip_suffix("Mi")?.parse().ok()
}

#[test]
fn top_shows_cgroup_usage_of_pods_and_nodes() {
    let c = Cluster::start_with_agent();
    let node = format!("e2e-{}", c.port);
    c.wait_for(
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
    // The group is discoverable like an aggregated APIService.
    let resources = c.ok(&[
        "api-resources",
        "--api-group=metrics.k8s.io",
        "--no-headers",
    ]);
    let names: Vec<&str> = resources
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, vec!["nodes", "pods"], "{resources}");

    c.apply(BUSY_POD);
    c.wait_for(
        "pod running",
        &["get", "pod", "busy", "-o", "jsonpath={.status.phase}"],
        "Running",
    );

    // NAME CPU(cores) MEMORY(bytes), once two scrapes give a rate.
    let (cpu, mem) = poll(&c, &["top", "pod", "busy", "--no-headers"], |out| {
        let cells: Vec<&str> = out.split_whitespace().collect();
        match cells.as_slice() {
            ["busy", cpu, mem] => Some((millicores(cpu)?, mebibytes(mem)?)),
            _ => None,
        }
    });
    // The loop runs flat out under its 200m limit (two idle-ish containers add nothing).
    assert!(cpu > 0 && cpu <= 300, "cpu {cpu}m");
    assert!(mem < 64, "memory {mem}Mi");

    // Per container: the spinner has the CPU, the sleeper none to speak of.
    let out = c.ok(&["top", "pod", "busy", "--containers", "--no-headers"]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let spin = rows
        .iter()
        .find(|r| r.get(1) == Some(&"spin"))
        .unwrap_or_else(|| panic!("no spin row in {out}"));
    assert_eq!(spin[0], "busy");
    assert!(millicores(spin[2]).is_some_and(|m| m > 0), "{out}");
    assert!(mebibytes(spin[3]).is_some(), "{out}");
    let idle = rows
        .iter()
        .find(|r| r.get(1) == Some(&"idle"))
        .unwrap_or_else(|| panic!("no idle row in {out}"));
    assert!(millicores(idle[2]).is_some_and(|m| m < 50), "{out}");

    // Selectors and all namespaces.
    let out = c.ok(&["top", "pod", "-l", "app=busy", "--no-headers"]);
    assert!(out.starts_with("busy "), "{out}");
    let none = c.kubectl(&["top", "pod", "-l", "app=other"]);
    assert!(none.ok, "{}", none.stderr);
    assert!(
        none.stderr
            .contains("No resources found in default namespace."),
        "{}",
        none.stderr
    );
    let all = c.ok(&["top", "pod", "-A", "--no-headers"]);
    assert!(
        all.lines()
            .any(|l| l.starts_with("default ") && l.contains(" busy ")),
        "{all}"
    );

    // NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%, using the Node's allocatable.
    let row = poll(&c, &["top", "node", "--no-headers"], |out| {
        let cells: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        (cells.len() == 5 && cells[1] != "<unknown>").then_some(cells)
    });
    assert_eq!(row[0], node);
    assert!(millicores(&row[1]).is_some_and(|m| m > 0), "{row:?}");
    assert!(
        row[2]
            .strip_suffix('%')
            .and_then(|p| p.parse::<u64>().ok())
            .is_some(),
        "{row:?}"
    );
    assert!(mebibytes(&row[3]).is_some_and(|m| m > 0), "{row:?}");
    assert!(
        row[4]
            .strip_suffix('%')
            .and_then(|p| p.parse::<u64>().ok())
            .is_some(),
        "{row:?}"
    );

    // The raw API parses and carries metrics-server's fields.
    let raw = c.ok(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"]);
    let list: serde_json::Value = serde_json::from_str(&raw).expect("NodeMetricsList JSON");
    assert_eq!(list["kind"], "NodeMetricsList");
    assert_eq!(list["apiVersion"], "metrics.k8s.io/v1beta1");
    let item = &list["items"][0];
    assert_eq!(item["metadata"]["name"], node.as_str());
    assert!(
        item["usage"]["cpu"].as_str().is_some_and(|s| !s.is_empty()),
        "{raw}"
    );
    assert!(
        item["usage"]["memory"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{raw}"
    );
    assert!(
        item["window"].as_str().is_some_and(|s| s.ends_with('s')),
        "{raw}"
    );
    assert!(
        item["timestamp"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{raw}"
    );
    let raw = c.ok(&[
        "get",
        "--raw",
        "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy",
    ]);
    let pod: serde_json::Value = serde_json::from_str(&raw).expect("PodMetrics JSON");
    assert_eq!(pod["kind"], "PodMetrics");
    assert_eq!(pod["metadata"]["labels"]["app"], "busy");
    assert_eq!(pod["containers"].as_array().map(Vec::len), Some(2), "{raw}");

    // Unknown names are 404s worded as upstream.
    let err = c.fails(&["top", "pod", "nope"]);
    assert!(
        err.contains("podmetrics.metrics.k8s.io \"nope\" not found"),
        "{err}"
    );
    let err = c.fails(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/nope"]);
    assert!(
        err.contains("nodemetrics.metrics.k8s.io \"nope\" not found"),
        "{err}"
    );
}
