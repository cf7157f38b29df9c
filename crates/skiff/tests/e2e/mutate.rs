//! patch (three types), label, annotate, replace, edit, scale, and watches.

use crate::harness::Cluster;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn patch_types_label_annotate_replace_scale() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "web", "--image=nginx:1.27"]);
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}"#,
    ]);
    assert_eq!(
        c.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ]),
        "nginx:1.28"
    );
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"minReadySeconds":5}}"#,
    ]);
    assert_eq!(
        c.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.minReadySeconds}"
        ]),
        "5"
    );
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
    ]);
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );
    let bad = c.fails(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
    ]);
    assert!(bad.contains("test") || bad.contains("Invalid"), "{bad}");
    c.ok(&["label", "deploy", "web", "team=core"]);
    c.ok(&["annotate", "deploy", "web", "owner=alice"]);
    let d = c.get_json(&["deploy", "web"]);
    assert_eq!(d["metadata"]["labels"]["team"], "core");
    assert_eq!(d["metadata"]["annotations"]["owner"], "alice");
    c.ok(&["label", "deploy", "web", "team-"]);
    assert!(c.get_json(&["deploy", "web"])["metadata"]["labels"]
        .get("team")
        .is_none());
    // Stale resourceVersion → 409 Conflict.
    let stale = c.fails(&["label", "deploy", "web", "x=y", "--resource-version=1"]);
    assert!(
        stale.contains("Conflict") || stale.contains("modified"),
        "{stale}"
    );
    // replace with the current object.
    let mut obj = c.get_json(&["deploy", "web"]);
    obj["spec"]["replicas"] = serde_json::json!(1);
    let f = c.write("web.json", &obj.to_string());
    c.ok(&["replace", "-f", f.to_str().unwrap_or_default()]);
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "1"
    );
    // Replacing with the now-stale resourceVersion conflicts.
    let again = c.kubectl(&["replace", "-f", f.to_str().unwrap_or_default()]);
    assert!(
        !again.ok && again.stderr.contains("modified"),
        "{}",
        again.stderr
    );
    let out = c.ok(&["scale", "deploy", "web", "--replicas=4"]);
    assert!(out.contains("scaled"), "{out}");
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "4"
    );
    let scale = c.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
    ]);
    assert!(
        scale.contains("\"kind\":\"Scale\"") && scale.contains("app=web"),
        "{scale}"
    );
    // status is not writable through the main resource.
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"replicas":7}}"#,
    ]);
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.status.replicas}"]),
        ""
    );
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"replicas":7}}"#,
    ]);
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.status.replicas}"]),
        "7"
    );
}

#[test]
fn edit_uses_editor_and_patches() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "cfg", "--from-literal=color=blue"]);
    let editor = c.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/color: blue/color: green/' \"$1\"\n",
    );
    let _ = Command::new("chmod").arg("+x").arg(&editor).status();
    let r = c.kubectl_env(
        &["edit", "configmap", "cfg"],
        &[("KUBE_EDITOR", editor.to_str().unwrap_or_default())],
    );
    assert!(r.ok, "{} {}", r.stdout, r.stderr);
    assert_eq!(
        c.ok(&["get", "cm", "cfg", "-o", "jsonpath={.data.color}"]),
        "green"
    );
}

#[test]
fn get_watch_streams_changes() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "w1", "--from-literal=a=1"]);
    let mut child = Command::new("kubectl")
        .args(["get", "configmaps", "-w", "--request-timeout=20s"])
        .env("KUBECONFIG", c.data_dir().join("kubeconfig.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
                if line.contains(needle) {
                    return true;
                }
            }
        }
        false
    };
    assert!(wait_for("w1"), "initial list row");
    c.ok(&["create", "configmap", "w2", "--from-literal=a=1"]);
    assert!(wait_for("w2"), "watch event for the new object");
    let _ = child.kill();
    let _ = child.wait();
}
