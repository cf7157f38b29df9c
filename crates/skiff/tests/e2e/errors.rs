//! Bad input gets the Status error upstream gives, and nothing is written.

use crate::harness::{seed, Cluster};

#[test]
fn bad_input_is_refused_with_status_errors() {
    let c = Cluster::start();
    // Strict field validation: unknown field.
    let r = c.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {k: v}\nbogus: 1\n",
    );
    assert!(
        !r.ok && r.stderr.contains("unknown field \"bogus\""),
        "{}",
        r.stderr
    );
    // Invalid name.
    let r = c.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n",
    );
    assert!(
        !r.ok && r.stderr.contains("Invalid") && r.stderr.contains("metadata.name"),
        "{}",
        r.stderr
    );
    // Missing required field (selector) on a Deployment.
    let r = c.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: i}]\n",
    );
    assert!(!r.ok && r.stderr.contains("spec.selector"), "{}", r.stderr);
    // Type error.
    let r = c.kubectl_stdin(
        &["create", "-f", "-", "--validate=false"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata: 5\n",
    );
    assert!(!r.ok && r.stderr.contains("BadRequest"), "{}", r.stderr);
    // Immutable selector.
    c.ok(&["create", "deployment", "web", "--image=nginx"]);
    let r = c.kubectl(&["patch", "deploy", "web", "--type", "merge", "-p", r#"{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}"#]);
    assert!(!r.ok && r.stderr.contains("immutable"), "{}", r.stderr);
    // Immutable clusterIP.
    c.ok(&["create", "service", "clusterip", "svc", "--tcp=80:80"]);
    let r = c.kubectl(&[
        "patch",
        "svc",
        "svc",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"clusterIP":"10.43.99.99","clusterIPs":["10.43.99.99"]}}"#,
    ]);
    assert!(
        !r.ok
            && r.stderr.contains("spec.clusterIPs[0]")
            && r.stderr.contains("may not change once set"),
        "{}",
        r.stderr
    );
    // Already exists.
    let r = c.kubectl(&["create", "deployment", "web", "--image=nginx"]);
    assert!(
        !r.ok && r.stderr.contains("deployments.apps \"web\" already exists"),
        "{}",
        r.stderr
    );
    // Not found.
    let r = c.kubectl(&["get", "deploy", "ghost"]);
    assert!(
        !r.ok && r.stderr.contains("NotFound") && r.stderr.contains("\"ghost\" not found"),
        "{}",
        r.stderr
    );
    // The seed Secret with invalid base64 is refused, and nothing is stored.
    let r = c.kubectl(&[
        "apply",
        "-f",
        seed("b2connect-bad-secret.yaml")
            .to_str()
            .unwrap_or_default(),
    ]);
    assert!(!r.ok && r.stderr.contains("illegal base64"), "{}", r.stderr);
    let secrets = c.ok(&["get", "secrets", "-A", "-o", "name"]);
    assert!(secrets.trim().is_empty(), "nothing written: {secrets}");
}

#[test]
fn raw_api_errors_carry_status_bodies() {
    let c = Cluster::start();
    // Wrong kind for the URL.
    let f = c.write(
        "svc.json",
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}"#,
    );
    let r = c.kubectl(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
        "-f",
        f.to_str().unwrap_or_default(),
    ]);
    assert!(!r.ok && r.stderr.contains("does not match"), "{}", r.stderr);
    // Malformed JSON.
    let f = c.write("bad.json", "{\"apiVersion\":");
    let r = c.kubectl(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
        "-f",
        f.to_str().unwrap_or_default(),
    ]);
    assert!(
        !r.ok && r.stderr.contains("BadRequest") || r.stderr.contains("decoding"),
        "{}",
        r.stderr
    );
    // Oversize body: 4 MiB.
    let big = format!("{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"k\":\"{}\"}}}}", "x".repeat(4 << 20));
    let f = c.write("big.json", &big);
    let r = c.kubectl(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
        "-f",
        f.to_str().unwrap_or_default(),
    ]);
    assert!(
        !r.ok && (r.stderr.contains("too large") || r.stderr.contains("RequestEntityTooLarge")),
        "{}",
        r.stderr
    );
    assert!(!c.kubectl(&["get", "cm", "big"]).ok);
    // Anonymous requests are refused.
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            &format!("https://127.0.0.1:{}/api/v1/namespaces", c.port),
        ])
        .output();
    if let Ok(o) = out {
        let body = String::from_utf8_lossy(&o.stdout);
        assert!(body.contains("Unauthorized"), "{body}");
    }
}
