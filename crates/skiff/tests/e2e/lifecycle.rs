//! Deletion (cascade modes, finalizers, namespaces), wait, and durability across restarts.

use crate::harness::Cluster;

const OWNER_AND_CHILD: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: owner}
data: {a: "1"}
"#;

fn child_of(c: &Cluster, name: &str) {
    let uid = c.ok(&["get", "cm", "owner", "-o", "jsonpath={.metadata.uid}"]);
    let child = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: owner\n    uid: {uid}\ndata: {{b: \"2\"}}\n"
    );
    c.apply(&child);
}

#[test]
fn delete_cascade_modes_match_upstream() {
    let c = Cluster::start();
    // background: the dependent goes too.
    c.apply(OWNER_AND_CHILD);
    child_of(&c, "dep-bg");
    c.ok(&["delete", "cm", "owner", "--cascade=background"]);
    c.ok(&["wait", "--for=delete", "cm/dep-bg", "--timeout=20s"]);
    // orphan: the dependent stays, without the ownerReference.
    c.apply(OWNER_AND_CHILD);
    child_of(&c, "dep-orphan");
    c.ok(&["delete", "cm", "owner", "--cascade=orphan"]);
    assert!(!c.kubectl(&["get", "cm", "owner"]).ok);
    let dep = c.get_json(&["cm", "dep-orphan"]);
    assert!(dep["metadata"].get("ownerReferences").is_none(), "{dep}");
    // foreground: the owner waits for its dependents, then goes.
    c.apply(OWNER_AND_CHILD);
    child_of(&c, "dep-fg");
    c.ok(&[
        "delete",
        "cm",
        "owner",
        "--cascade=foreground",
        "--timeout=30s",
    ]);
    assert!(!c.kubectl(&["get", "cm", "dep-fg"]).ok);
    assert!(!c.kubectl(&["get", "cm", "owner"]).ok);
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let c = Cluster::start();
    c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n");
    c.ok(&["delete", "cm", "held", "--wait=false"]);
    let obj = c.get_json(&["cm", "held"]);
    assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj}");
    c.ok(&[
        "patch",
        "cm",
        "held",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    c.ok(&["wait", "--for=delete", "cm/held", "--timeout=20s"]);
}

#[test]
fn namespace_deletion_removes_contents() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "scratch"]);
    c.ok(&["create", "configmap", "x", "-n", "scratch"]);
    c.ok(&[
        "create",
        "deployment",
        "d",
        "-n",
        "scratch",
        "--image=nginx",
    ]);
    c.ok(&["delete", "namespace", "scratch", "--timeout=30s"]);
    assert!(!c.kubectl(&["get", "namespace", "scratch"]).ok);
    let left = c.ok(&["get", "cm,deploy", "-A", "-o", "name"]);
    assert!(
        !left.contains("configmap/x") && !left.contains("deployment.apps/d"),
        "{left}"
    );
    let refused = c.fails(&["create", "configmap", "y", "-n", "nowhere"]);
    assert!(refused.contains("not found"), "{refused}");
}

#[test]
fn wait_for_condition_on_status() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "web", "--image=nginx"]);
    let status = r#"{"status":{"observedGeneration":1,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"ok"}]}}"#;
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        status,
    ]);
    let out = c.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=20s",
    ]);
    assert!(out.contains("condition met"), "{out}");
}

#[test]
fn state_survives_restart_and_kill() {
    let mut c = Cluster::start();
    c.ok(&[
        "create",
        "configmap",
        "before-restart",
        "--from-literal=a=1",
    ]);
    c.restart();
    assert_eq!(
        c.ok(&["get", "cm", "before-restart", "-o", "jsonpath={.data.a}"]),
        "1"
    );
    for i in 0..20 {
        c.ok(&[
            "create",
            "configmap",
            &format!("acked-{i}"),
            "--from-literal=a=1",
        ]);
    }
    let rv_before: i64 = c
        .ok(&[
            "get",
            "cm",
            "acked-19",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .unwrap_or(0);
    c.stop("KILL");
    c.start_again();
    for i in 0..20 {
        c.ok(&["get", "cm", &format!("acked-{i}")]);
    }
    c.ok(&["create", "configmap", "after-crash"]);
    let rv_after: i64 = c
        .ok(&[
            "get",
            "cm",
            "after-crash",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .unwrap_or(0);
    assert!(
        rv_after > rv_before,
        "revisions keep increasing across a crash: {rv_before} → {rv_after}"
    );
}

#[test]
fn sigterm_drains_watches_and_closes_the_store() {
    let mut c = Cluster::start();
    c.ok(&["create", "configmap", "kept", "--from-literal=a=1"]);
    let mut watch = std::process::Command::new("kubectl")
        .args(["get", "configmaps", "-w"])
        .env("KUBECONFIG", c.data_dir().join("kubeconfig.yaml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    std::thread::sleep(std::time::Duration::from_millis(500));
    c.signal("TERM");
    let code = c.wait_exit(std::time::Duration::from_secs(15));
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(
        code,
        Some(0),
        "graceful exit despite an open watch:\n{}",
        c.log()
    );
    assert!(c.log().contains("store closed"), "{}", c.log());
    c.start_again();
    assert_eq!(
        c.ok(&["get", "cm", "kept", "-o", "jsonpath={.data.a}"]),
        "1"
    );
}
