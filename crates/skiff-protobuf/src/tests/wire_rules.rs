//! Protobuf wire rules and Go JSON special forms, each checked in isolation.

use serde_json::{json, Value};

use super::encoder::{envelope, object_meta, Enc};
use crate::message::decode_message;
use crate::tables::MESSAGES;
use crate::{decode, supports};

fn decode_ok(body: &[u8]) -> Value {
    decode(body).unwrap_or_else(|e| panic!("decode failed: {e}"))
}

fn pod(spec: Enc) -> Vec<u8> {
    envelope("v1", "Pod", Enc::new().msg(2, spec))
}

/// The JSON of a Pod with only `spec` extras set (metadata and status left at zero).
fn pod_json(spec_extra: Value) -> Value {
    let mut spec = json!({"containers": null});
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), spec_extra) {
        spec.extend(extra);
    }
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": {}
    })
}

#[test]
fn wire_rules_follow_protobuf_and_go_json() {
    let groups = |e: Enc| e.int(4, 1).int(4, 2).int(4, 3);
    let packed = Enc::new().bytes(4, &[1, 2, 3]);
    let cases: Vec<(&str, Vec<u8>, Value)> = vec![
        (
            "unpacked repeated int64",
            pod(Enc::new().msg(14, groups(Enc::new()))),
            pod_json(json!({"securityContext": {"supplementalGroups": [1, 2, 3]}})),
        ),
        (
            "packed repeated int64",
            pod(Enc::new().msg(14, packed)),
            pod_json(json!({"securityContext": {"supplementalGroups": [1, 2, 3]}})),
        ),
        (
            "pointer message present but empty is emitted",
            pod(Enc::new().msg(14, Enc::new())),
            pod_json(json!({"securityContext": {}})),
        ),
        (
            "inline VolumeSource and LocalObjectReference",
            pod(Enc::new().msg(
                1,
                Enc::new().str(1, "cfg").msg(
                    2,
                    Enc::new().msg(19, Enc::new().msg(1, Enc::new().str(1, "game")).int(3, 420)),
                ),
            )),
            pod_json(
                json!({"volumes": [{"name": "cfg", "configMap": {"name": "game", "defaultMode": 420}}]}),
            ),
        ),
        (
            "unknown fields of every wire type are skipped",
            envelope(
                "v1",
                "ConfigMap",
                Enc::new()
                    .int(90, 7)
                    .str(91, "x")
                    .raw(&[0xd9, 0x05, 1, 2, 3, 4, 5, 6, 7, 8]) // field 91, fixed64
                    .raw(&[0xe5, 0x05, 1, 2, 3, 4]) // field 92, fixed32
                    .raw(&[0xeb, 0x05, 0x08, 0x01, 0xec, 0x05]) // field 93, group
                    .msg(1, object_meta("x", "", &[])),
            ),
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x", "creationTimestamp": null}}),
        ),
        (
            "last scalar wins and repeated messages merge",
            envelope(
                "apps/v1",
                "Deployment",
                Enc::new()
                    .msg(1, Enc::new().str(1, "old"))
                    .msg(1, Enc::new().str(1, "new"))
                    .msg(2, Enc::new().int(1, 2))
                    .msg(2, Enc::new().boolean(7, true)),
            ),
            json!({
                "kind": "Deployment", "apiVersion": "apps/v1",
                "metadata": {"name": "new", "creationTimestamp": null},
                "spec": {
                    "replicas": 2,
                    "selector": null,
                    "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": null}},
                    "strategy": {},
                    "paused": true
                },
                "status": {}
            }),
        ),
        (
            "negative int32 uses a ten byte varint",
            envelope(
                "autoscaling/v1",
                "Scale",
                Enc::new().msg(2, Enc::new().int(1, -1)),
            ),
            json!({
                "kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"replicas": -1},
                "status": {"replicas": 0}
            }),
        ),
        (
            "times: nanos dropped, explicit zero time is null, MicroTime keeps micros",
            envelope(
                "coordination.k8s.io/v1",
                "Lease",
                Enc::new()
                    .msg(
                        1,
                        Enc::new()
                            .str(1, "l")
                            .msg(8, Enc::new().int(1, 1_704_164_645).int(2, 999))
                            .msg(9, Enc::new().int(1, -62_135_596_800)),
                    )
                    .msg(
                        2,
                        Enc::new()
                            .msg(3, Enc::new().int(1, 1_704_164_645).int(2, 123_456_789))
                            .msg(4, Enc::new().int(1, 0)),
                    ),
            ),
            json!({
                "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"name": "l", "creationTimestamp": "2024-01-02T03:04:05Z", "deletionTimestamp": null},
                "spec": {"acquireTime": "2024-01-02T03:04:05.123456Z", "renewTime": "1970-01-01T00:00:00.000000Z"}
            }),
        ),
        (
            "quantities in a ResourceList map",
            envelope(
                "v1",
                "ResourceQuota",
                Enc::new().msg(
                    2,
                    Enc::new()
                        .msg(1, Enc::new().str(1, "pods").msg(2, Enc::new().str(1, "10")))
                        .msg(
                            1,
                            Enc::new().str(1, "cpu").msg(2, Enc::new().str(1, "500m")),
                        )
                        .msg(1, Enc::new().str(1, "memory").msg(2, Enc::new())),
                ),
            ),
            json!({
                "kind": "ResourceQuota", "apiVersion": "v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"hard": {"cpu": "500m", "memory": "0", "pods": "10"}},
                "status": {}
            }),
        ),
        (
            "extra values are plain string arrays",
            envelope(
                "authorization.k8s.io/v1",
                "SubjectAccessReview",
                Enc::new().msg(
                    2,
                    Enc::new()
                        .str(3, "alice")
                        .msg(
                            5,
                            Enc::new()
                                .str(1, "scopes")
                                .msg(2, Enc::new().str(1, "a").str(1, "b")),
                        )
                        .msg(5, Enc::new().str(1, "empty").msg(2, Enc::new())),
                ),
            ),
            json!({
                "kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"user": "alice", "extra": {"empty": [], "scopes": ["a", "b"]}},
                "status": {"allowed": false}
            }),
        ),
        (
            "raw extensions: JSON, nested protobuf, and empty",
            envelope(
                "v1",
                "List",
                Enc::new()
                    .msg(
                        2,
                        Enc::new().bytes(1, br#"{"kind":"Pod","apiVersion":"v1"}"#),
                    )
                    .msg(
                        2,
                        Enc::new().bytes(
                            1,
                            &envelope(
                                "v1",
                                "Namespace",
                                Enc::new().msg(1, object_meta("n", "", &[])),
                            ),
                        ),
                    )
                    .msg(2, Enc::new()),
            ),
            json!({
                "kind": "List", "apiVersion": "v1",
                "metadata": {},
                "items": [
                    {"kind": "Pod", "apiVersion": "v1"},
                    {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "n", "creationTimestamp": null}, "spec": {}, "status": {}},
                    null
                ]
            }),
        ),
        (
            "managedFields fieldsV1 is embedded JSON",
            envelope(
                "v1",
                "ConfigMap",
                Enc::new().msg(
                    1,
                    Enc::new().str(1, "m").msg(
                        17,
                        Enc::new()
                            .str(1, "kubectl")
                            .str(2, "Update")
                            .str(6, "FieldsV1")
                            .msg(7, Enc::new().bytes(1, br#"{"f:data":{".":{}}}"#)),
                    ),
                ),
            ),
            json!({
                "kind": "ConfigMap", "apiVersion": "v1",
                "metadata": {
                    "name": "m", "creationTimestamp": null,
                    "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}}}}]
                }
            }),
        ),
    ];
    for (name, body, want) in cases {
        assert_eq!(decode_ok(&body), want, "{name}");
    }
}

#[test]
fn go_field_order_is_kept() {
    // SubjectAccessReviewStatus declares `denied` (4) before `reason` (2) in Go.
    let body = envelope(
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        Enc::new().msg(
            3,
            Enc::new()
                .boolean(1, false)
                .str(2, "no rule")
                .boolean(4, true),
        ),
    );
    let status = &decode_ok(&body)["status"];
    let keys: Vec<&String> = status
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["allowed", "denied", "reason"]);
}

#[test]
fn duration_message_prints_go_duration() {
    let msg = MESSAGES
        .iter()
        .find(|m| m.name == "k8s.io.apimachinery.pkg.apis.meta.v1.Duration")
        .expect("Duration is in the table");
    let cases: &[(i64, &str)] = &[(0, "0s"), (90_000_000_000, "1m30s"), (1_500_000, "1.5ms")];
    for (nanos, want) in cases {
        let got = decode_message(msg, &Enc::new().int(1, *nanos).0, 0).ok();
        assert_eq!(got, Some(json!(want)), "{nanos}ns");
    }
}

#[test]
fn supports_known_kinds_only() {
    let cases = [
        ("v1", "ConfigMap", true),
        ("v1", "Secret", true),
        ("v1", "List", true),
        ("v1", "Status", true),
        ("apps/v1", "Deployment", true),
        ("batch/v1", "CronJob", true),
        ("autoscaling/v1", "Scale", true),
        ("autoscaling/v2", "HorizontalPodAutoscaler", true),
        ("policy/v1", "Eviction", true),
        ("authentication.k8s.io/v1", "TokenRequest", true),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview", true),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview", true),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", true),
        ("networking.k8s.io/v1", "Ingress", true),
        ("scheduling.k8s.io/v1", "PriorityClass", true),
        ("apps/v1", "DeleteOptions", true),
        ("meta.k8s.io/v1", "DeleteOptions", true),
        ("v1", "Deployment", false),
        ("apps/v1", "ConfigMap", false),
        ("extensions/v1beta1", "Deployment", false),
        ("v1", "configmap", false),
        ("", "", false),
    ];
    for (api_version, kind, want) in cases {
        assert_eq!(supports(api_version, kind), want, "{api_version} {kind}");
    }
}
