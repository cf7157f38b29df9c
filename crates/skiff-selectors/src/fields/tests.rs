//! Field selector behaviour, with upstream apimachinery and the kube-apiserver
//! registries (field-label conversions, GetAttrs) as the oracle.

use serde_json::{json, Value};

use super::{field_value, FieldOp, FieldSelector};
use crate::SelectorError;

fn parse(s: &str) -> FieldSelector {
    FieldSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn parse_prints_canonical_form() {
    let cases = [
        ("", ""),
        (",", ""),
        ("=", ""),
        ("metadata.name=x", "metadata.name=x"),
        ("metadata.name==x", "metadata.name=x"),
        ("status.phase!=Succeeded", "status.phase!=Succeeded"),
        // Terms sorted by their raw text.
        ("b=2,a=1", "a=1,b=2"),
        (",a=b,", "a=b"),
        ("a=", "a="),
        ("a!=", "a!="),
        // Escapes round-trip.
        (r"a=b\,c", r"a=b\,c"),
        (r"a=b\=c\\d", r"a=b\=c\\d"),
        ("x=a b", "x=a b"),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input).to_string(), want, "input {input:?}");
    }
}

#[test]
fn parse_unescapes_values() {
    let cases = [
        (r"a=b\,c", "a", FieldOp::Equals, "b,c"),
        (r"a!=b\=c", "a", FieldOp::NotEquals, "b=c"),
        (r"a==\\", "a", FieldOp::Equals, r"\"),
        ("a=!b", "a", FieldOp::Equals, "!b"),
        // The first operator wins and the left side has no escaping.
        ("a!b=c", "a!b", FieldOp::Equals, "c"),
        ("=x", "", FieldOp::Equals, "x"),
    ];
    for (input, field, op, value) in cases {
        let sel = parse(input);
        let [t] = sel.terms() else {
            panic!("{input:?}: expected one term, got {:?}", sel.terms());
        };
        assert_eq!(
            (t.field.as_str(), t.op, t.value.as_str()),
            (field, op, value),
            "{input:?}"
        );
    }
}

#[test]
fn parse_errors_match_upstream_text() {
    let cases = [
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        (
            "a=b=c",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "a=b,c=d,e",
            "invalid selector: 'a=b,c=d,e'; can't understand 'e'",
        ),
        (
            r"a=\x",
            r"invalid field selector: invalid escape sequence: \x",
        ),
        (
            r"a=b\",
            r"invalid field selector: invalid escape sequence: \",
        ),
        (
            "a=!=b",
            "invalid field selector: unescaped character in value: 61",
        ),
    ];
    for (input, want) in cases {
        match FieldSelector::parse(input) {
            Err(SelectorError::FieldSelector { message }) => assert_eq!(message, want, "{input:?}"),
            other => panic!("{input:?}: expected a field selector error, got {other:?}"),
        }
    }
}

#[test]
fn validate_for_resources() {
    let not_known = |f: &str| {
        format!(
            "\"{f}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        )
    };
    let cases: Vec<(&str, &str, &str, Result<(), String>)> = vec![
        ("", "pods", "metadata.name=a,metadata.namespace=b", Ok(())),
        ("", "pods", "spec.nodeName=n,status.phase!=Succeeded", Ok(())),
        ("", "pods", "spec.host=n,spec.hostNetwork=true,status.podIPs=x", Ok(())),
        ("", "pods", "spec.restartPolicy=Always,spec.schedulerName=s", Ok(())),
        ("", "pods", "spec.serviceAccountName=s,status.podIP=1.2.3.4", Ok(())),
        ("", "pods", "status.nominatedNodeName=n", Ok(())),
        ("", "pods", "foo=bar", Err("field label not supported: foo".into())),
        // The first unsupported field in sorted order is reported.
        ("", "pods", "zz=1,aa=2", Err("field label not supported: aa".into())),
        ("", "nodes", "spec.unschedulable=false,metadata.name=n", Ok(())),
        (
            "",
            "nodes",
            "metadata.namespace=x",
            Err("field label not supported: metadata.namespace".into()),
        ),
        ("", "namespaces", "status.phase=Active", Ok(())),
        ("", "secrets", "type=Opaque,metadata.namespace=d", Ok(())),
        ("", "services", "spec.clusterIP=None,spec.type=NodePort", Ok(())),
        ("", "replicationcontrollers", "status.replicas=1", Ok(())),
        (
            "",
            "events",
            "involvedObject.kind=Pod,involvedObject.name=p,involvedObject.namespace=d,involvedObject.uid=u",
            Ok(()),
        ),
        (
            "",
            "events",
            "involvedObject.apiVersion=v1,involvedObject.resourceVersion=1,involvedObject.fieldPath=f",
            Ok(()),
        ),
        ("", "events", "reason=r,reportingComponent=c,source=s,type=Normal", Ok(())),
        (
            "",
            "events",
            "regarding.name=p",
            Err("field label not supported: regarding.name".into()),
        ),
        ("events.k8s.io", "events", "regarding.name=p,regarding.kind=Pod", Ok(())),
        ("events.k8s.io", "events", "reportingController=c,type=Warning", Ok(())),
        (
            "events.k8s.io",
            "events",
            "involvedObject.name=p",
            Err("field label not supported: involvedObject.name".into()),
        ),
        ("batch", "jobs", "status.successful=1", Ok(())),
        (
            "batch",
            "jobs",
            "status.active=1",
            Err("field label \"status.active\" not supported for batchv1.Job".into()),
        ),
        ("certificates.k8s.io", "certificatesigningrequests", "spec.signerName=x", Ok(())),
        // apps/v1 ReplicaSets register no conversion: status.replicas is rejected.
        ("apps", "replicasets", "status.replicas=0", Err(not_known("status.replicas"))),
        ("apps", "deployments", "metadata.name=d,metadata.namespace=n", Ok(())),
        ("", "configmaps", "data.x=1", Err(not_known("data.x"))),
        ("rbac.authorization.k8s.io", "clusterroles", "metadata.namespace=", Ok(())),
        ("", "pods", "", Ok(())),
    ];
    for (group, resource, sel, want) in cases {
        let got = parse(sel).validate_for(group, resource);
        match (&got, &want) {
            (Ok(()), Ok(())) => {}
            (Err(SelectorError::UnsupportedField { message, .. }), Err(w)) => {
                assert_eq!(message, w, "{group}/{resource} {sel:?}")
            }
            _ => panic!("{group}/{resource} {sel:?}: got {got:?}, want {want:?}"),
        }
    }
}

fn pod() -> Value {
    json!({
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {
            "nodeName": "node-a",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default"
        },
        "status": {"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}, {"ip": "fd00::5"}]}
    })
}

fn core_event() -> Value {
    json!({
        "metadata": {"name": "web-1.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"},
        "reason": "Scheduled",
        "reportingComponent": "default-scheduler",
        "type": "Normal"
    })
}

fn events_v1_event() -> Value {
    json!({
        "metadata": {"name": "web-1.17b", "namespace": "default"},
        "regarding": {"kind": "Pod", "name": "web-1", "namespace": "default"},
        "reason": "Pulled",
        "reportingController": "kubelet",
        "deprecatedSource": {"component": "kubelet-legacy"},
        "type": "Normal"
    })
}

#[test]
fn matches_objects() {
    let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
    let cases: Vec<(&str, &str, Value, &str, bool)> = vec![
        ("", "pods", pod(), "metadata.name=web-1", true),
        ("", "pods", pod(), "metadata.name=web-2", false),
        (
            "",
            "pods",
            pod(),
            "metadata.namespace=default,spec.nodeName=node-a",
            true,
        ),
        ("", "pods", pod(), "spec.host=node-a", true),
        (
            "",
            "pods",
            pod(),
            "status.phase!=Succeeded,status.phase!=Failed",
            true,
        ),
        ("", "pods", pod(), "status.phase=Pending", false),
        ("", "pods", pod(), "spec.hostNetwork=false", true),
        ("", "pods", pod(), "status.podIP=10.42.0.5", true),
        // Accepted but never exposed upstream: reads as "".
        ("", "pods", pod(), "status.podIPs=10.42.0.5", false),
        ("", "pods", pod(), "status.podIPs=", true),
        ("", "pods", pod(), "status.nominatedNodeName=", true),
        (
            "",
            "pods",
            json!({"metadata": {"name": "p"}}),
            "spec.nodeName=",
            true,
        ),
        (
            "",
            "events",
            core_event(),
            "involvedObject.name=web-1,involvedObject.kind=Pod",
            true,
        ),
        ("", "events", core_event(), "involvedObject.uid=u2", false),
        ("", "events", core_event(), "source=default-scheduler", true),
        (
            "events.k8s.io",
            "events",
            events_v1_event(),
            "regarding.name=web-1",
            true,
        ),
        (
            "events.k8s.io",
            "events",
            events_v1_event(),
            "reportingController=kubelet",
            true,
        ),
        (
            "events.k8s.io",
            "events",
            core_event(),
            "regarding.kind=Pod,reason=Scheduled",
            true,
        ),
        (
            "",
            "events",
            events_v1_event(),
            "involvedObject.name=web-1",
            true,
        ),
        ("", "nodes", node.clone(), "spec.unschedulable=true", true),
        ("", "nodes", node, "metadata.name!=n1", false),
        (
            "",
            "secrets",
            json!({"type": "kubernetes.io/tls"}),
            "type=kubernetes.io/tls",
            true,
        ),
        (
            "",
            "services",
            json!({"spec": {"clusterIP": "None"}}),
            "spec.clusterIP!=None",
            false,
        ),
        (
            "batch",
            "jobs",
            json!({"status": {"succeeded": 3}}),
            "status.successful=3",
            true,
        ),
        (
            "batch",
            "jobs",
            json!({"status": {}}),
            "status.successful=0",
            true,
        ),
        ("", "pods", pod(), "", true),
    ];
    for (group, resource, obj, sel, want) in cases {
        assert_eq!(
            parse(sel).matches(group, resource, &obj),
            want,
            "{group}/{resource} {sel:?}"
        );
    }
}

#[test]
fn field_values() {
    let rs = json!({"metadata": {"name": "rs", "namespace": "d"}, "status": {"replicas": 2}});
    let csr =
        json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}});
    let ns = json!({"metadata": {"name": "kube-system"}, "status": {"phase": "Active"}});
    let legacy_ip = json!({"status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.2"}]}});
    let no_source = json!({"reportingComponent": "ctrl"});
    let cases: Vec<(&str, &str, Value, &str, Option<&str>)> = vec![
        ("", "pods", pod(), "spec.nodeName", Some("node-a")),
        ("", "pods", pod(), "spec.host", Some("node-a")),
        ("", "pods", pod(), "spec.restartPolicy", Some("Always")),
        (
            "",
            "pods",
            pod(),
            "spec.schedulerName",
            Some("default-scheduler"),
        ),
        (
            "",
            "pods",
            pod(),
            "spec.serviceAccountName",
            Some("default"),
        ),
        ("", "pods", pod(), "spec.hostNetwork", Some("false")),
        (
            "",
            "pods",
            json!({"spec": {"hostNetwork": true}}),
            "spec.hostNetwork",
            Some("true"),
        ),
        ("", "pods", pod(), "status.phase", Some("Running")),
        ("", "pods", pod(), "status.podIP", Some("10.42.0.5")),
        ("", "pods", legacy_ip, "status.podIP", Some("10.0.0.1")),
        ("", "pods", pod(), "status.podIPs", Some("")),
        ("", "pods", pod(), "status.nominatedNodeName", Some("")),
        ("", "pods", pod(), "metadata.namespace", Some("default")),
        ("", "pods", pod(), "spec.containers", None),
        (
            "",
            "events",
            core_event(),
            "involvedObject.namespace",
            Some("default"),
        ),
        (
            "",
            "events",
            core_event(),
            "involvedObject.apiVersion",
            Some(""),
        ),
        (
            "",
            "events",
            core_event(),
            "reportingComponent",
            Some("default-scheduler"),
        ),
        ("", "events", no_source, "source", Some("ctrl")),
        (
            "events.k8s.io",
            "events",
            events_v1_event(),
            "regarding.kind",
            Some("Pod"),
        ),
        (
            "events.k8s.io",
            "events",
            events_v1_event(),
            "source",
            Some("kubelet-legacy"),
        ),
        (
            "",
            "nodes",
            json!({"metadata": {"name": "n"}}),
            "spec.unschedulable",
            Some("false"),
        ),
        (
            "",
            "nodes",
            json!({"metadata": {"name": "n"}}),
            "metadata.namespace",
            Some(""),
        ),
        ("", "namespaces", ns, "status.phase", Some("Active")),
        (
            "",
            "secrets",
            json!({"type": "Opaque"}),
            "type",
            Some("Opaque"),
        ),
        (
            "",
            "services",
            json!({"spec": {"type": "NodePort"}}),
            "spec.type",
            Some("NodePort"),
        ),
        (
            "",
            "replicationcontrollers",
            json!({}),
            "status.replicas",
            Some("0"),
        ),
        (
            "apps",
            "replicasets",
            rs.clone(),
            "status.replicas",
            Some("2"),
        ),
        ("apps", "replicasets", rs, "metadata.name", Some("rs")),
        (
            "batch",
            "jobs",
            json!({"status": {"succeeded": 1}}),
            "status.successful",
            Some("1"),
        ),
        (
            "certificates.k8s.io",
            "certificatesigningrequests",
            csr,
            "spec.signerName",
            Some("kubernetes.io/kubelet-serving"),
        ),
        (
            "",
            "configmaps",
            json!({"metadata": {"name": "c"}}),
            "metadata.name",
            Some("c"),
        ),
        (
            "",
            "configmaps",
            json!({"data": {"x": "1"}}),
            "data.x",
            None,
        ),
        (
            "apps",
            "deployments",
            json!({"status": {"replicas": 1}}),
            "status.replicas",
            None,
        ),
    ];
    for (group, resource, obj, field, want) in cases {
        assert_eq!(
            field_value(group, resource, &obj, field).as_deref(),
            want,
            "{group}/{resource} {field}"
        );
    }
}

#[test]
fn exact_name() {
    let cases = [
        ("metadata.name=foo", Some("foo")),
        ("metadata.name==foo", Some("foo")),
        ("metadata.name=foo,status.phase=Running", Some("foo")),
        ("status.phase=Running,metadata.name=foo", Some("foo")),
        ("metadata.name!=foo", None),
        ("metadata.namespace=foo", None),
        (r"metadata.name=a\,b", Some("a,b")),
        ("", None),
    ];
    for (sel, want) in cases {
        assert_eq!(parse(sel).exact_name(), want, "{sel:?}");
    }
    assert_eq!(
        parse("spec.nodeName=n,metadata.name=x").requires_exact_match("spec.nodeName"),
        Some("n")
    );
}

#[test]
fn everything_is_empty() {
    assert!(FieldSelector::everything().is_empty());
    assert!(parse("").is_empty());
    assert!(!parse("a=b").is_empty());
}

#[test]
fn custom_resources() {
    let obj = json!({
        "metadata": {"name": "shirt", "namespace": "shop"},
        "spec": {"color": "blue", "size": 3, "onSale": true, "tags": ["a"]}
    });
    let selectable = [".spec.color", ".spec.size", "spec.onSale", ".spec.tags"];
    let cases: Vec<(&str, bool, Result<(), &str>, bool)> = vec![
        // (selector, cluster_scoped, validation, matches)
        ("spec.color=blue", false, Ok(()), true),
        ("spec.color!=blue", false, Ok(()), false),
        ("spec.size=3,spec.onSale=true", false, Ok(()), true),
        (
            "metadata.name=shirt,metadata.namespace=shop",
            false,
            Ok(()),
            true,
        ),
        // Lists are not selectable values: they read as "".
        ("spec.tags=", false, Ok(()), true),
        (
            "metadata.namespace=shop",
            true,
            Err("field label not supported: metadata.namespace"),
            true,
        ),
        (
            "spec.weight=1",
            false,
            Err("field label not supported: spec.weight"),
            false,
        ),
    ];
    for (sel, cluster_scoped, want_valid, want_match) in cases {
        let s = parse(sel);
        match (
            s.validate_for_custom(cluster_scoped, &selectable),
            want_valid,
        ) {
            (Ok(()), Ok(())) => {}
            (Err(SelectorError::UnsupportedField { message, .. }), Err(w)) => {
                assert_eq!(message, w, "{sel:?}")
            }
            (got, want) => panic!("{sel:?}: got {got:?}, want {want:?}"),
        }
        assert_eq!(s.matches_custom(&obj), want_match, "{sel:?}");
    }
    assert_eq!(super::custom_field_value(&obj, "spec.size"), "3");
    assert_eq!(super::custom_field_value(&obj, "spec.missing"), "");
}
