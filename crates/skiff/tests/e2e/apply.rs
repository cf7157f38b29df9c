//! Client-side apply, server-side apply with conflicts, and kustomize overlays.

use crate::harness::Cluster;

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
      - name: side
        image: busybox:1.36
"#;

#[test]
fn client_side_apply_creates_then_patches() {
    let c = Cluster::start();
    let out = c.apply(DEPLOY);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let again = c.apply(DEPLOY);
    assert!(again.contains("unchanged"), "{again}");
    let rv1 = c.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    // Drop the sidecar and change the image: kubectl sends a strategic merge patch with
    // $setElementOrder and a $patch: delete directive.
    let changed = DEPLOY
        .replace("nginx:1.27", "nginx:1.28")
        .replace("      - name: side\n        image: busybox:1.36\n", "");
    let out = c.apply(&changed);
    assert!(out.contains("configured"), "{out}");
    let d = c.get_json(&["deploy", "web"]);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(containers.len(), 1, "{d}");
    assert_eq!(containers[0]["image"], "nginx:1.28");
    assert_eq!(
        d["metadata"]["generation"], 2,
        "spec change bumps generation"
    );
    assert_ne!(
        d["metadata"]["resourceVersion"].as_str(),
        Some(rv1.as_str())
    );
    c.ok(&["annotate", "deploy", "web", "note=hello"]);
    let d = c.get_json(&["deploy", "web"]);
    assert_eq!(
        d["metadata"]["generation"], 2,
        "metadata change does not bump generation"
    );
}

#[test]
fn server_side_apply_conflicts_and_force() {
    let c = Cluster::start();
    let f = c.write("d.yaml", DEPLOY);
    let f = f.to_str().unwrap_or_default();
    c.ok(&["apply", "--server-side", "-f", f]);
    let d = c.get_json(&["deploy", "web", "--show-managed-fields"]);
    let managers: Vec<String> = d["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["manager"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(managers.contains(&"kubectl".to_string()), "{managers:?}");
    // Another manager changes replicas, so a re-apply of the old value conflicts.
    c.ok(&["scale", "deploy", "web", "--replicas=5"]);
    let conflict = c.fails(&["apply", "--server-side", "-f", f]);
    assert!(
        conflict.contains("conflict") && conflict.contains(".spec.replicas"),
        "{conflict}"
    );
    c.ok(&["apply", "--server-side", "--force-conflicts", "-f", f]);
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "2"
    );
}

#[test]
fn kustomize_base_and_overlay() {
    let c = Cluster::start();
    c.write(
        "base/kustomization.yaml",
        "resources:\n- deploy.yaml\n- cm.yaml\n",
    );
    c.write("base/deploy.yaml", DEPLOY);
    c.write(
        "base/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: base\n",
    );
    c.write(
        "overlay/kustomization.yaml",
        "resources:\n- ../base\nnamePrefix: prod-\ncommonLabels:\n  env: prod\npatches:\n- target:\n    kind: Deployment\n    name: web\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 4\n",
    );
    let dir = c.scratch().join("overlay");
    let out = c.ok(&["apply", "-k", dir.to_str().unwrap_or_default()]);
    assert!(out.contains("deployment.apps/prod-web created"), "{out}");
    let d = c.get_json(&["deploy", "prod-web"]);
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["metadata"]["labels"]["env"], "prod");
    assert_eq!(
        c.ok(&["get", "cm", "prod-settings", "-o", "jsonpath={.data.mode}"]),
        "base"
    );
}
