//! Container features on a real node: grpc and httpGet probes dialled inside the pod's
//! network namespace, postStart hooks, and container log rotation.

use crate::harness::Cluster;
use std::time::{Duration, Instant};

fn ready_node(c: &Cluster) {
    c.wait_node_ready();
}

fn events(c: &Cluster, pod: &str) -> String {
    c.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={pod}"),
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ])
}

fn restart_count(c: &Cluster, pod: &str) -> u32 {
    c.ok(&[
        "get",
        "pod",
        pod,
        "-o",
        "jsonpath={.status.containerStatuses[0].restartCount}",
    ])
    .trim()
    .parse()
    .unwrap_or(0)
}

/// Poll until `f` holds (60 s), else fail with `describe pod`.
fn wait_until(c: &Cluster, pod: &str, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(
            Instant::now() < deadline,
            "{what}:\n{}\n{}",
            c.ok(&["describe", "pod", pod]),
            events(c, pod)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn failing_grpc_liveness_probe_restarts_the_container() {
    let c = Cluster::start_with_agent();
    ready_node(&c);
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: grpc}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sleep", "600"]
    livenessProbe:
      grpc: {port: 9555}
      periodSeconds: 1
      failureThreshold: 2
"#,
    );
    wait_until(
        &c,
        "grpc",
        "no restart after grpc liveness failures",
        || restart_count(&c, "grpc") >= 1,
    );
    let ev = events(&c, "grpc");
    assert!(
        ev.contains("Unhealthy: Liveness probe failed: timeout: failed to connect service \"")
            && ev.contains(":9555\" within 1s: context deadline exceeded"),
        "{ev}"
    );
    assert!(
        ev.contains("Killing: Container app failed liveness probe, will be restarted"),
        "{ev}"
    );
}

#[test]
fn http_readiness_probe_reaches_a_server_inside_the_pod_network() {
    let c = Cluster::start_with_agent();
    ready_node(&c);
    // httpd listens only inside the pod's own network namespace; /ready appears after 8 s.
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && httpd -p 8080 -h /www && sleep 8 && echo ok > /www/ready && sleep 600"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /ready, port: http}
      periodSeconds: 1
"#,
    );
    let ready = || {
        c.ok(&[
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.status.phase}/{.status.conditions[?(@.type==\"Ready\")].status}",
        ])
    };
    wait_until(&c, "web", "pod never ran", || {
        ready().starts_with("Running/")
    });
    assert_eq!(ready(), "Running/False", "ready before /ready exists");
    wait_until(&c, "web", "readiness never passed", || {
        ready() == "Running/True"
    });
    let ev = events(&c, "web");
    // The 404s were seen from inside the pod (the server was reachable, the page not yet).
    assert!(
        ev.contains("Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 404"),
        "{ev}"
    );
}

#[test]
fn post_start_hook_completes_before_the_container_is_running() {
    let c = Cluster::start_with_agent();
    ready_node(&c);
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sleep", "600"]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "sleep 3; echo hooked > /tmp/hook"]}
"#,
    );
    wait_until(&c, "hooked", "pod never ran", || {
        c.ok(&["get", "pod", "hooked", "-o", "jsonpath={.status.phase}"]) == "Running"
    });
    // Running only after the hook: its file is there at once.
    assert_eq!(
        c.ok(&["exec", "hooked", "--", "cat", "/tmp/hook"]).trim(),
        "hooked"
    );
}

#[test]
fn failing_post_start_hook_kills_and_restarts_the_container() {
    let c = Cluster::start_with_agent();
    ready_node(&c);
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: badhook}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sleep", "600"]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "exit 3"]}
"#,
    );
    wait_until(&c, "badhook", "no restart after a failed postStart", || {
        restart_count(&c, "badhook") >= 1
    });
    let ev = events(&c, "badhook");
    assert!(
        ev.contains("FailedPostStartHook: PostStartHook failed"),
        "{ev}"
    );
    assert!(ev.contains("Killing: FailedPostStartHook"), "{ev}");
    // Never reported running: the hook failed before it could count as started.
    let phase = c.ok(&["get", "pod", "badhook", "-o", "jsonpath={.status.phase}"]);
    assert_ne!(phase, "Succeeded");
}

#[test]
fn container_logs_rotate_without_losing_lines() {
    let c = Cluster::start_with_agent();
    ready_node(&c);
    // ~70 MB of numbered 1 KiB lines: enough for more rotations (10Mi each) than are kept.
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "pad=$(printf '%01000d' 0); i=0; while [ $i -lt 70000 ]; do echo \"line-$i $pad\"; i=$((i+1)); done; echo done; sleep 600"]
"#,
    );
    wait_until(&c, "chatty", "chatty container never finished", || {
        c.kubectl(&["logs", "chatty", "--tail=1"]).stdout.trim() == "done"
    });
    let tail = c.ok(&["logs", "chatty", "--tail=2"]);
    assert!(tail.starts_with("line-69999 "), "{tail:.80}");
    let logs = c.data_dir().join("agent").join("logs");
    let pod_dir = std::fs::read_dir(&logs)
        .expect("logs dir")
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("default_chatty_")
        })
        .expect("pod log dir")
        .path()
        .join("app");
    let mut rotated: Vec<_> = std::fs::read_dir(&pod_dir)
        .expect("container log dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("0.log."))
        .collect();
    rotated.sort();
    assert_eq!(rotated.len(), 4, "containerLogMaxFiles=5: {rotated:?}");
    // Oldest rotated file first, the live one last: the numbers run without a gap.
    let mut next: Option<u64> = None;
    for name in rotated.iter().map(String::as_str).chain(["0.log"]) {
        let path = pod_dir.join(name);
        let size = std::fs::metadata(&path).expect("size").len();
        assert!(size <= 10 * 1024 * 1024, "{name} has {size} bytes");
        let text = std::fs::read_to_string(&path).expect("read log");
        for line in text.lines() {
            let msg = line.splitn(4, ' ').nth(3).unwrap_or_default();
            let Some(n) = msg
                .strip_prefix("line-")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if let Some(want) = next {
                assert_eq!(n, want, "gap in {name}");
            }
            next = Some(n + 1);
        }
    }
    assert_eq!(next, Some(70000));
}
