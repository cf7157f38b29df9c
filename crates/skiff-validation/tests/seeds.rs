//! The seed manifests users apply first, run through the server's write path:
//! decode check → defaults → create validation. Fixtures are copies of
//! shared/fixtures/seeds.

use serde_json::Value;
use skiff_validation::{apply_defaults, check_decode, validate_create, FieldError};

fn docs(yaml: &str) -> Vec<Value> {
    // The fixtures separate documents with a bare `---` line.
    yaml.split("\n---")
        .filter_map(|doc| serde_yaml::from_str::<Value>(doc).ok())
        .filter(Value::is_object)
        .collect()
}

fn gvk(obj: &Value) -> (String, String, String) {
    let api_version = obj["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    (
        group.to_string(),
        version.to_string(),
        obj["kind"].as_str().unwrap_or("").to_string(),
    )
}

fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "StorageClass"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PriorityClass"
            | "CustomResourceDefinition"
    )
}

/// Runs the write path on every document and returns "Kind/name: error" lines.
fn admit(yaml: &str, expected_docs: usize) -> Vec<String> {
    let all = docs(yaml);
    assert_eq!(
        all.len(),
        expected_docs,
        "fixture did not parse into the expected documents"
    );
    let mut out = Vec::new();
    for mut obj in all {
        let (group, version, kind) = gvk(&obj);
        if let Some(msg) = check_decode(&group, &version, &kind, &obj) {
            out.push(format!("{kind}: 400 {msg}"));
            continue;
        }
        let namespaced = !cluster_scoped(&kind);
        // The server fills the request namespace in before validation.
        if namespaced && obj["metadata"].get("namespace").is_none() {
            obj["metadata"]["namespace"] = Value::from("default");
        }
        apply_defaults(&group, &version, &kind, &mut obj);
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        out.extend(
            validate_create(&group, &kind, namespaced, &obj)
                .iter()
                .map(|e: &FieldError| format!("{kind}/{name}: {e}")),
        );
    }
    out
}

#[test]
fn tutorial_manifests_are_accepted() {
    assert_eq!(
        admit(include_str!("fixtures/tutorial.yaml"), 7),
        Vec::<String>::new()
    );
}

#[test]
fn b2connect_manifests_are_accepted() {
    assert_eq!(
        admit(include_str!("fixtures/b2connect.yaml"), 7),
        Vec::<String>::new()
    );
}

#[test]
fn brownbear_manifests_match_upstream() {
    // kube-apiserver rejects a LimitRange listing the same type twice; so does Skiff.
    assert_eq!(
        admit(include_str!("fixtures/brownbear.yaml"), 8),
        vec!["LimitRange/brownbear-production-limits: spec.limits[1].type: Duplicate value: \"Container\"".to_string()]
    );
}

#[test]
fn bad_secret_is_refused_at_decode() {
    assert_eq!(
        admit(include_str!("fixtures/b2connect-bad-secret.yaml"), 1),
        vec!["Secret: 400 Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 0".to_string()]
    );
}

#[test]
fn defaulted_deployment_looks_like_kubectl_get() {
    let mut dep = docs(include_str!("fixtures/tutorial.yaml"))
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap_or(Value::Null);
    apply_defaults("apps", "v1", "Deployment", &mut dep);
    let spec = &dep["spec"];
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(spec["revisionHistoryLimit"], 10);
    let c = &spec["template"]["spec"]["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(
        spec["template"]["spec"]["schedulerName"],
        "default-scheduler"
    );
}
