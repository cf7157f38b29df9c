//! Bodies shaped like the ones kubectl sends, checked against what the same object looks
//! like when kubectl prints it with `-o json` (Go encoding/json of the Go struct).

use serde_json::json;

use super::encoder::{envelope, object_meta, Enc};
use crate::decode;

fn container(name: &str, image: &str) -> Enc {
    // Non-pointer scalars gogo always writes: terminationMessagePath, imagePullPolicy,
    // stdin, tty; resources is a non-pointer struct written as an empty message.
    Enc::new()
        .str(1, name)
        .str(2, image)
        .msg(8, Enc::new())
        .str(13, "")
        .str(14, "")
        .boolean(16, false)
        .boolean(18, false)
}

fn pod_template(labels: &[(&str, &str)], containers: Vec<Enc>) -> Enc {
    let mut spec = Enc::new()
        .str(3, "")
        .str(6, "")
        .str(8, "")
        .boolean(11, false);
    for c in containers {
        spec = spec.msg(2, c);
    }
    Enc::new().msg(1, object_meta("", "", labels)).msg(2, spec)
}

fn label_selector(labels: &[(&str, &str)]) -> Enc {
    labels.iter().fold(Enc::new(), |m, (k, v)| m.entry(1, k, v))
}

#[test]
fn kubectl_style_bodies_decode_like_kubectl_json() {
    let cases: Vec<(&str, Vec<u8>, serde_json::Value)> = vec![
        (
            "configmap from literals",
            envelope(
                "v1",
                "ConfigMap",
                Enc::new()
                    .msg(1, object_meta("game", "default", &[]))
                    .entry(2, "lives", "3")
                    .entry(2, "enemies", "aliens"),
            ),
            json!({
                "kind": "ConfigMap", "apiVersion": "v1",
                "metadata": {"name": "game", "namespace": "default", "creationTimestamp": null},
                "data": {"enemies": "aliens", "lives": "3"}
            }),
        ),
        (
            "configmap binaryData and immutable false",
            envelope(
                "v1",
                "ConfigMap",
                Enc::new()
                    .msg(1, object_meta("bin", "", &[]))
                    .msg(3, Enc::new().str(1, "blob").bytes(2, &[0, 1, 2, 255]))
                    .boolean(4, false),
            ),
            json!({
                "kind": "ConfigMap", "apiVersion": "v1",
                "metadata": {"name": "bin", "creationTimestamp": null},
                "immutable": false,
                "binaryData": {"blob": "AAEC/w=="}
            }),
        ),
        (
            "secret generic",
            envelope(
                "v1",
                "Secret",
                Enc::new()
                    .msg(1, object_meta("db", "default", &[]))
                    .msg(2, Enc::new().str(1, "password").bytes(2, b"s3cr3t!"))
                    .msg(2, Enc::new().str(1, "user").bytes(2, b"admin"))
                    .str(3, "Opaque"),
            ),
            json!({
                "kind": "Secret", "apiVersion": "v1",
                "metadata": {"name": "db", "namespace": "default", "creationTimestamp": null},
                "data": {"password": "czNjcjN0IQ==", "user": "YWRtaW4="},
                "type": "Opaque"
            }),
        ),
        (
            "namespace",
            envelope(
                "v1",
                "Namespace",
                Enc::new()
                    .msg(1, object_meta("team-a", "", &[]))
                    .msg(2, Enc::new())
                    .msg(3, Enc::new().str(1, "")),
            ),
            json!({
                "kind": "Namespace", "apiVersion": "v1",
                "metadata": {"name": "team-a", "creationTimestamp": null},
                "spec": {},
                "status": {}
            }),
        ),
        (
            "deployment as kubectl create deployment --replicas=0",
            envelope(
                "apps/v1",
                "Deployment",
                Enc::new()
                    .msg(1, object_meta("web", "default", &[("app", "web")]))
                    .msg(
                        2,
                        Enc::new()
                            .int(1, 0)
                            .msg(2, label_selector(&[("app", "web")]))
                            .msg(
                                3,
                                pod_template(&[("app", "web")], vec![container("nginx", "nginx")]),
                            )
                            .msg(4, Enc::new().str(1, ""))
                            .int(5, 0)
                            .boolean(7, false),
                    )
                    .msg(
                        3,
                        Enc::new().int(1, 0).int(2, 0).int(3, 0).int(4, 0).int(5, 0),
                    ),
            ),
            json!({
                "kind": "Deployment", "apiVersion": "apps/v1",
                "metadata": {
                    "name": "web", "namespace": "default", "creationTimestamp": null,
                    "labels": {"app": "web"}
                },
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}
                    },
                    "strategy": {}
                },
                "status": {}
            }),
        ),
        (
            "deployment rolling update with IntOrString",
            envelope(
                "apps/v1",
                "Deployment",
                Enc::new().msg(1, object_meta("api", "", &[])).msg(
                    2,
                    Enc::new()
                        .int(1, 3)
                        .msg(2, label_selector(&[("app", "api")]))
                        .msg(
                            3,
                            pod_template(&[("app", "api")], vec![container("api", "api:v2")]),
                        )
                        .msg(
                            4,
                            Enc::new().str(1, "RollingUpdate").msg(
                                2,
                                Enc::new()
                                    .msg(1, Enc::new().int(1, 0).int(2, 0).str(3, ""))
                                    .msg(2, Enc::new().int(1, 1).int(2, 0).str(3, "25%")),
                            ),
                        ),
                ),
            ),
            json!({
                "kind": "Deployment", "apiVersion": "apps/v1",
                "metadata": {"name": "api", "creationTimestamp": null},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "api"}},
                    "template": {
                        "metadata": {"creationTimestamp": null, "labels": {"app": "api"}},
                        "spec": {"containers": [{"name": "api", "image": "api:v2", "resources": {}}]}
                    },
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}
                    }
                },
                "status": {}
            }),
        ),
        (
            "service with int and named targetPort",
            envelope(
                "v1",
                "Service",
                Enc::new()
                    .msg(1, object_meta("web", "", &[]))
                    .msg(
                        2,
                        Enc::new()
                            .msg(
                                1,
                                Enc::new()
                                    .str(1, "80-8080")
                                    .str(2, "TCP")
                                    .int(3, 80)
                                    .msg(4, Enc::new().int(1, 0).int(2, 8080).str(3, ""))
                                    .int(5, 0),
                            )
                            .msg(
                                1,
                                Enc::new()
                                    .str(1, "metrics")
                                    .str(2, "TCP")
                                    .int(3, 9090)
                                    .msg(4, Enc::new().int(1, 1).int(2, 0).str(3, "http-metrics"))
                                    .int(5, 0),
                            )
                            .entry(2, "app", "web")
                            .str(4, "ClusterIP"),
                    )
                    .msg(3, Enc::new().msg(1, Enc::new())),
            ),
            json!({
                "kind": "Service", "apiVersion": "v1",
                "metadata": {"name": "web", "creationTimestamp": null},
                "spec": {
                    "ports": [
                        {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                        {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "http-metrics"}
                    ],
                    "selector": {"app": "web"},
                    "type": "ClusterIP"
                },
                "status": {"loadBalancer": {}}
            }),
        ),
        (
            "auth can-i create pods",
            envelope(
                "authorization.k8s.io/v1",
                "SelfSubjectAccessReview",
                Enc::new()
                    .msg(1, object_meta("", "", &[]))
                    .msg(
                        2,
                        Enc::new().msg(
                            1,
                            Enc::new()
                                .str(1, "default")
                                .str(2, "create")
                                .str(3, "")
                                .str(4, "")
                                .str(5, "pods")
                                .str(6, "")
                                .str(7, ""),
                        ),
                    )
                    .msg(
                        3,
                        Enc::new()
                            .boolean(1, false)
                            .str(2, "")
                            .str(3, "")
                            .boolean(4, false),
                    ),
            ),
            json!({
                "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
                "status": {"allowed": false}
            }),
        ),
        (
            "auth can-i --list",
            envelope(
                "authorization.k8s.io/v1",
                "SelfSubjectRulesReview",
                Enc::new()
                    .msg(1, object_meta("", "", &[]))
                    .msg(2, Enc::new().str(1, "default"))
                    .msg(3, Enc::new().boolean(3, false).str(4, "")),
            ),
            json!({
                "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"namespace": "default"},
                "status": {"resourceRules": null, "nonResourceRules": null, "incomplete": false}
            }),
        ),
        (
            "create token with expiration",
            envelope(
                "authentication.k8s.io/v1",
                "TokenRequest",
                Enc::new()
                    .msg(1, object_meta("", "", &[]))
                    .msg(
                        2,
                        Enc::new()
                            .str(1, "https://kubernetes.default.svc")
                            .int(4, 3600),
                    )
                    .msg(3, Enc::new().str(1, "").msg(2, Enc::new())),
            ),
            json!({
                "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {
                    "audiences": ["https://kubernetes.default.svc"],
                    "expirationSeconds": 3600,
                    "boundObjectRef": null
                },
                "status": {"token": "", "expirationTimestamp": null}
            }),
        ),
        (
            "scale to zero omits replicas (non-pointer omitempty)",
            envelope(
                "autoscaling/v1",
                "Scale",
                Enc::new()
                    .msg(1, object_meta("web", "default", &[]))
                    .msg(2, Enc::new().int(1, 0))
                    .msg(3, Enc::new().int(1, 0).str(2, "")),
            ),
            json!({
                "kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
                "spec": {},
                "status": {"replicas": 0}
            }),
        ),
        (
            "delete options in a group version, pointer zero kept",
            envelope(
                "apps/v1",
                "DeleteOptions",
                Enc::new().int(1, 0).str(4, "Foreground"),
            ),
            json!({
                "kind": "DeleteOptions", "apiVersion": "apps/v1",
                "gracePeriodSeconds": 0,
                "propagationPolicy": "Foreground"
            }),
        ),
        (
            "eviction with embedded delete options",
            envelope(
                "policy/v1",
                "Eviction",
                Enc::new().msg(1, object_meta("web-1", "default", &[])).msg(
                    2,
                    Enc::new()
                        .msg(2, Enc::new().str(1, "uid-1"))
                        .boolean(3, false),
                ),
            ),
            json!({
                "kind": "Eviction", "apiVersion": "policy/v1",
                "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": null},
                "deleteOptions": {"preconditions": {"uid": "uid-1"}, "orphanDependents": false}
            }),
        ),
    ];
    for (name, body, want) in cases {
        let got = decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
    }
}
