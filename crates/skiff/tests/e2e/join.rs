//! Nodes join with the server's token: `skiff agent --server URL --token T` gets its own
//! certificates, runs pods, serves their logs through the API server, and keeps them running
//! across its own restart.

use crate::harness::Cluster;

const READY: &str = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";

#[test]
fn joined_agent_runs_pods_serves_logs_and_survives_restart() {
    let c = Cluster::start_scheduler_only();
    let mut agent = c.join_agent("joined-1");
    c.wait_for(
        "joined node ready",
        &["get", "node", "joined-1", "-o", READY],
        "True",
    );
    // The agent authenticates as its node identity, not with the admin's credentials.
    let kubeconfig =
        std::fs::read_to_string(agent.data.join("credentials/kubeconfig.yaml")).expect("creds");
    assert!(kubeconfig.contains("client-certificate:"), "{kubeconfig}");
    let crt = agent.data.join("credentials/client.crt");
    let subject = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(&crt)
        .output();
    if let Ok(out) = subject {
        if out.status.success() {
            let subject = String::from_utf8_lossy(&out.stdout);
            assert!(
                subject.contains("system:node:joined-1") && subject.contains("system:nodes"),
                "{subject}"
            );
        }
    }

    c.ok(&[
        "run",
        "ticker",
        "--image=busybox:1.36",
        "--image-pull-policy=IfNotPresent",
        "--restart=Always",
        "--overrides",
        r#"{"spec":{"nodeSelector":{"kubernetes.io/hostname":"joined-1"}}}"#,
        "--",
        "sh",
        "-c",
        "echo started; while true; do sleep 1; done",
    ]);
    c.wait_for(
        "pod running on the joined node",
        &[
            "get",
            "pod",
            "ticker",
            "-o",
            "jsonpath={.status.phase}/{.spec.nodeName}",
        ],
        "Running/joined-1",
    );
    // Logs travel API server → agent HTTPS with the certificate the agent got at join.
    c.wait_for(
        "logs through the joined agent",
        &["logs", "ticker"],
        "started",
    );
    let started = c.ok(&[
        "get",
        "pod",
        "ticker",
        "-o",
        "jsonpath={.status.containerStatuses[0].state.running.startedAt}",
    ]);

    let issued = std::fs::read_to_string(&crt).expect("client cert");
    agent.kill();
    agent.start();
    c.wait_for(
        "node ready after agent restart",
        &["get", "node", "joined-1", "-o", READY],
        "True",
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    // Adopted, not restarted: same start time, no restarts, the output printed once.
    assert_eq!(
        c.ok(&[
            "get",
            "pod",
            "ticker",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.running.startedAt}",
        ]),
        started
    );
    assert_eq!(
        c.ok(&[
            "get",
            "pod",
            "ticker",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ]),
        "0"
    );
    assert_eq!(c.ok(&["logs", "ticker"]).trim(), "started");
    assert_eq!(
        std::fs::read_to_string(&crt).expect("client cert"),
        issued,
        "a restarted agent reuses its credentials instead of joining again:\n{}",
        agent.log()
    );
    c.ok(&["delete", "pod", "ticker", "--grace-period=1"]);
}

#[test]
fn a_token_for_another_cluster_is_refused() {
    let c = Cluster::start_scheduler_only();
    let token = c.join_token();
    let (_, secret) = token.split_once("::").expect("token shape");
    let forged = format!("K10{}::{secret}", "0".repeat(64));
    let dir = c.scratch().join("forged");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "agent",
            "--server",
            &format!("https://127.0.0.1:{}", c.port),
        ])
        .args(["--token", &forged, "--node-name", "forged", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("skiff agent");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not match the join token's hash"),
        "{err}"
    );

    // The right CA but a wrong secret: the server answers 401 and nothing is written.
    let (hash, _) = token.split_once("::").expect("token shape");
    let wrong = format!("{hash}::server:not-the-secret");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "agent",
            "--server",
            &format!("https://127.0.0.1:{}", c.port),
        ])
        .args(["--token", &wrong, "--node-name", "wrong", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("skiff agent");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unauthorized") || err.contains("401"), "{err}");
    assert!(!dir.join("credentials/kubeconfig.yaml").exists());
    assert!(c.ok(&["get", "nodes", "-o", "name"]).trim().is_empty());
}
