//! Discovery, version, create generators and the many `get` output formats.

use crate::harness::Cluster;

#[test]
fn version_and_discovery_serve_kubectl() {
    let c = Cluster::start();
    let v = c.ok(&["version", "-o", "json"]);
    assert!(v.contains("\"minor\": \"33\""), "{v}");
    let res = c.ok(&["api-resources"]);
    for needle in [
        "deployments",
        "deploy",
        "apps/v1",
        "horizontalpodautoscalers",
        "customresourcedefinitions",
        "poddisruptionbudgets",
    ] {
        assert!(res.contains(needle), "api-resources lacks {needle}:\n{res}");
    }
    let versions = c.ok(&["api-versions"]);
    assert!(
        versions.contains("autoscaling/v2") && versions.contains("v1\n"),
        "{versions}"
    );
    let ns = c.ok(&["get", "namespaces", "-o", "name"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(&format!("namespace/{n}")), "{ns}");
    }
    let svc = c.ok(&[
        "get",
        "svc",
        "kubernetes",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    assert_eq!(svc, "10.43.0.1");
    let metrics = c.ok(&["get", "--raw", "/metrics"]);
    assert!(metrics.contains("apiserver_request_total"), "{metrics}");
}

#[test]
fn create_generators_send_protobuf_and_work() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "team-a"]);
    c.ok(&[
        "create",
        "configmap",
        "cfg",
        "-n",
        "team-a",
        "--from-literal=color=blue",
    ]);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "pw",
        "-n",
        "team-a",
        "--from-literal=password=s3cret",
    ]);
    c.ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        "team-a",
        "--image=nginx:1.27",
        "--replicas=3",
    ]);
    c.ok(&[
        "create",
        "service",
        "clusterip",
        "web",
        "-n",
        "team-a",
        "--tcp=80:8080",
    ]);
    let cm = c.get_json(&["configmap", "cfg", "-n", "team-a"]);
    assert_eq!(cm["data"]["color"], "blue");
    let s = c.get_json(&["secret", "pw", "-n", "team-a"]);
    assert_eq!(s["data"]["password"], "czNjcmV0");
    let d = c.get_json(&["deployment", "web", "-n", "team-a"]);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%",
        "defaults applied"
    );
    assert_eq!(d["metadata"]["generation"], 1);
    let svc = c.get_json(&["service", "web", "-n", "team-a"]);
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or("");
    assert!(ip.starts_with("10.43."), "cluster IP allocated: {svc}");
    let can = c.ok(&["auth", "can-i", "create", "pods"]);
    assert_eq!(can.trim(), "yes");
}

#[test]
fn get_output_formats() {
    let c = Cluster::start();
    c.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=2",
    ]);
    c.ok(&["create", "configmap", "a", "--from-literal=k=v"]);
    c.ok(&["label", "configmap", "a", "tier=front"]);
    let table = c.ok(&["get", "deployments"]);
    assert!(
        table.contains("READY") && table.contains("UP-TO-DATE") && table.contains("web"),
        "{table}"
    );
    let wide = c.ok(&["get", "deployments", "-o", "wide"]);
    assert!(
        wide.contains("IMAGES") && wide.contains("nginx:1.27"),
        "{wide}"
    );
    let yaml = c.ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("resourceVersion"),
        "{yaml}"
    );
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "name"]).trim(),
        "deployment.apps/web"
    );
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "2"
    );
    let cc = c.ok(&[
        "get",
        "deploy",
        "-o",
        "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas",
    ]);
    assert!(
        cc.contains("REPLICAS") && cc.contains("web") && cc.contains('2'),
        "{cc}"
    );
    let by_label = c.ok(&["get", "cm", "-l", "tier=front", "-o", "name"]);
    assert_eq!(by_label.trim(), "configmap/a");
    let set_based = c.ok(&["get", "cm", "-l", "tier in (front,back)", "-o", "name"]);
    assert_eq!(set_based.trim(), "configmap/a");
    let none = c.kubectl(&["get", "cm", "-l", "tier=back", "-o", "name"]);
    assert!(none.ok && none.stdout.trim().is_empty());
    let by_field = c.ok(&[
        "get",
        "cm",
        "--field-selector",
        "metadata.name=a",
        "-o",
        "name",
    ]);
    assert_eq!(by_field.trim(), "configmap/a");
    let all_ns = c.ok(&["get", "cm", "-A"]);
    assert!(
        all_ns.contains("NAMESPACE")
            && all_ns
                .lines()
                .any(|l| l.starts_with("default") && l.contains(" a ")),
        "{all_ns}"
    );
    let bad_field = c.fails(&["get", "cm", "--field-selector", "spec.nope=1"]);
    assert!(
        bad_field.contains("not supported") || bad_field.contains("not a known field selector"),
        "{bad_field}"
    );
    let describe = c.ok(&["describe", "deployment", "web"]);
    assert!(
        describe.contains("Name:")
            && describe.contains("web")
            && describe.contains("RollingUpdate"),
        "{describe}"
    );
    let explain = c.ok(&["explain", "deployment.spec.strategy"]);
    assert!(explain.contains("rollingUpdate"), "{explain}");
}

#[test]
fn list_pagination_uses_continue_tokens() {
    let c = Cluster::start();
    for i in 0..7 {
        c.ok(&[
            "create",
            "configmap",
            &format!("cm-{i}"),
            "--from-literal=i=x",
        ]);
    }
    let names = c.ok(&["get", "cm", "--chunk-size=2", "-o", "name"]);
    let count = names
        .lines()
        .filter(|l| l.starts_with("configmap/cm-"))
        .count();
    assert_eq!(count, 7, "{names}");
}
