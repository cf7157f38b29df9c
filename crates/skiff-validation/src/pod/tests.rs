//! Table tests for PodSpec validation.

use super::*;
use serde_json::json;

fn good_spec() -> Value {
    json!({
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "volumes": [{"name": "data", "emptyDir": {}}],
        "containers": [{
            "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
            "terminationMessagePolicy": "File",
            "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
            "env": [{"name": "A", "value": "1"}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
            "livenessProbe": {"httpGet": {"port": 80, "scheme": "HTTP"}, "periodSeconds": 10, "successThreshold": 1}
        }]
    })
}

fn with(mut base: Value, ptr: &str, v: Value) -> Value {
    if let Some(slot) = base.pointer_mut(ptr) {
        *slot = v;
    }
    base
}

#[test]
fn pod_spec_table() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (good_spec(), vec![]),
        (with(good_spec(), "/containers", json!([])), vec!["spec.containers: Required value"]),
        (with(good_spec(), "/containers/0/image", json!("")), vec!["spec.containers[0].image: Required value"]),
        (with(good_spec(), "/containers/0/name", json!("Web_1")), vec!["spec.containers[0].name: Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
        (with(good_spec(), "/containers/0/ports/0/containerPort", json!(70000)), vec!["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
        (with(good_spec(), "/containers/0/ports/0/protocol", json!("HTTP")), vec!["spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""]),
        (with(good_spec(), "/containers/0/volumeMounts/0/name", json!("nope")), vec!["spec.containers[0].volumeMounts[0].name: Not found: \"nope\""]),
        (with(good_spec(), "/containers/0/resources/requests/cpu", json!("2")), vec!["spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"]),
        (with(good_spec(), "/restartPolicy", json!("Sometimes")), vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""]),
        (with(good_spec(), "/dnsPolicy", json!("Bogus")), vec!["spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""]),
        (with(good_spec(), "/containers/0/env/0/name", json!("A=B")), vec!["spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"]),
        (with(good_spec(), "/containers/0/livenessProbe/successThreshold", json!(2)), vec!["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]),
        (with(good_spec(), "/containers/0/livenessProbe", json!({"periodSeconds": -1})), vec!["spec.containers[0].livenessProbe: Required value: must specify a handler type", "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0"]),
        (with(good_spec(), "/volumes/0/name", json!("Data")), vec!["spec.volumes[0].name: Invalid value: \"Data\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')", "spec.containers[0].volumeMounts[0].name: Not found: \"data\""]),
        (with(good_spec(), "/containers/0/resources/limits/cpu", json!("-1")), vec![
            "spec.containers[0].resources.limits[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
            "spec.containers[0].resources.requests: Invalid value: \"100m\": must be less than or equal to cpu limit of -1",
        ]),
    ];
    for (spec, want) in cases {
        let got: Vec<String> = validate_pod_spec(&spec, "spec")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn duplicate_container_names_across_init() {
    let mut spec = good_spec();
    spec["initContainers"] = json!([{"name": "web", "image": "busybox", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]);
    let got: Vec<String> = validate_pod_spec(&spec, "spec")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        vec!["spec.initContainers[0].name: Duplicate value: \"web\""]
    );
}

#[test]
fn template_labels_path() {
    let t = json!({"metadata": {"labels": {"a": "-"}}, "spec": good_spec()});
    let got = validate_pod_template_spec(&t, "spec.template");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].field, "spec.template.labels");
}

#[test]
fn pod_update_only_images() {
    let old = json!({"spec": good_spec()});
    let new_image = with(old.clone(), "/spec/containers/0/image", json!("nginx:1.28"));
    assert!(validate_pod_spec_update(&new_image, &old).is_empty());
    let new_port = with(
        old.clone(),
        "/spec/containers/0/ports/0/containerPort",
        json!(81),
    );
    assert_eq!(validate_pod_spec_update(&new_port, &old)[0].field, "spec");
}
