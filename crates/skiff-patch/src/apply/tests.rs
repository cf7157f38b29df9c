use serde_json::{json, Value};

use super::*;
use crate::test_meta::PodMeta;

const T1: &str = "2025-01-01T00:00:00Z";
const T2: &str = "2025-01-02T00:00:00Z";

fn deployment(replicas: i64, labels: Value, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}},
    })
}

fn entries_of(obj: &Value) -> Vec<(String, String, Value)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_owned(),
                        e["operation"].as_str().unwrap_or("").to_owned(),
                        e["fieldsV1"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn apply(
    live: Option<&Value>,
    cfg: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, ApplyError> {
    server_side_apply(live, cfg, manager, force, "apps/v1", T2, &PodMeta)
}

/// A deployment created by `kubectl create` (Update by kubectl-client-side-apply).
fn created_by_update() -> Value {
    let mut obj = deployment(
        2,
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1"}]),
    );
    update_managed_fields(
        None,
        &mut obj,
        "kubectl-client-side-apply",
        "Update",
        "apps/v1",
        T1,
        &PodMeta,
    );
    obj
}

#[test]
fn create_by_apply_records_upstream_fields_v1() {
    let cfg = deployment(
        1,
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]),
    );
    let out = apply(None, &cfg, "kubectl", false).expect("create");
    let mf = &out["metadata"]["managedFields"];
    assert_eq!(mf.as_array().map(Vec::len), Some(1));
    assert_eq!(mf[0]["manager"], "kubectl");
    assert_eq!(mf[0]["operation"], "Apply");
    assert_eq!(mf[0]["apiVersion"], "apps/v1");
    assert_eq!(mf[0]["time"], T2);
    assert_eq!(mf[0]["fieldsType"], "FieldsV1");
    assert_eq!(
        mf[0]["fieldsV1"],
        json!({
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {},
                "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}})
    );
    assert_eq!(out["spec"]["replicas"], 1);
}

#[test]
fn conflicts_and_force() {
    let live = created_by_update();
    let cases = [
        // (applied replicas, force, expected conflicts, replicas owner after)
        (3, false, vec![".spec.replicas"], None),
        (
            2,
            false,
            vec![],
            Some(vec!["kubectl", "kubectl-client-side-apply"]),
        ),
        (3, true, vec![], Some(vec!["kubectl"])),
    ];
    for (replicas, force, want_conflicts, want_owners) in cases {
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                         "spec": {"replicas": replicas}});
        match (apply(Some(&live), &cfg, "kubectl", force), want_owners) {
            (Err(ApplyError::Conflicts(c)), None) => {
                let fields: Vec<&str> = c.iter().map(|c| c.field.as_str()).collect();
                assert_eq!(fields, want_conflicts);
                assert_eq!(c[0].manager, "kubectl-client-side-apply");
                assert_eq!(
                    c[0].cause_message(),
                    r#"conflict with "kubectl-client-side-apply" using apps/v1"#
                );
                assert_eq!(
                    ApplyError::Conflicts(c).to_string(),
                    r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
                );
            }
            (Ok(out), Some(owners)) => {
                assert_eq!(out["spec"]["replicas"], replicas);
                let mut got: Vec<String> = entries_of(&out)
                    .into_iter()
                    .filter(|(_, _, f)| f.pointer("/f:spec/f:replicas").is_some())
                    .map(|(m, _, _)| m)
                    .collect();
                got.sort();
                assert_eq!(got, owners, "replicas={replicas} force={force}");
            }
            (other, _) => panic!("replicas={replicas} force={force}: unexpected {other:?}"),
        }
    }
}

#[test]
fn reapply_prunes_fields_the_manager_dropped() {
    let first = deployment(
        1,
        json!({"app": "web", "tier": "fe"}),
        json!([{"name": "web", "image": "nginx"}, {"name": "side", "image": "busybox"}]),
    );
    let live = apply(None, &first, "kubectl", false).expect("create");
    let second = deployment(
        1,
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx"}]),
    );
    let out = apply(Some(&live), &second, "kubectl", false).expect("reapply");
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web", "image": "nginx"}])
    );
    let fields = &entries_of(&out)[0].2;
    assert!(fields.pointer("/f:metadata/f:labels/f:tier").is_none());
}

#[test]
fn prune_keeps_fields_another_manager_owns() {
    let first = deployment(
        1,
        json!({"app": "web", "tier": "fe"}),
        json!([{"name": "web", "image": "nginx"}]),
    );
    let live = apply(None, &first, "kubectl", false).expect("create");
    // A second applier also sets tier (same value: shared ownership).
    let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"tier": "fe"}}});
    let live = apply(Some(&live), &other, "helm", false).expect("shared apply");
    let second = deployment(
        1,
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx"}]),
    );
    let out = apply(Some(&live), &second, "kubectl", false).expect("reapply");
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "tier": "fe"})
    );
}

#[test]
fn update_takes_ownership_without_conflict() {
    let live = apply(
        None,
        &deployment(
            1,
            json!({"app": "web"}),
            json!([{"name": "web", "image": "nginx"}]),
        ),
        "kubectl",
        false,
    )
    .expect("create");
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    update_managed_fields(
        Some(&live),
        &mut scaled,
        "kubectl-scale",
        "Update",
        "apps/v1",
        T2,
        &PodMeta,
    );
    let entries = entries_of(&scaled);
    let owner_of_replicas: Vec<&str> = entries
        .iter()
        .filter(|(_, _, f)| f.pointer("/f:spec/f:replicas").is_some())
        .map(|(m, _, _)| m.as_str())
        .collect();
    assert_eq!(owner_of_replicas, ["kubectl-scale"]);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].2, json!({"f:spec": {"f:replicas": {}}}));
    // Re-applying the old replicas now conflicts with the updater.
    let err = apply(
        Some(&scaled),
        &deployment(
            1,
            json!({"app": "web"}),
            json!([{"name": "web", "image": "nginx"}]),
        ),
        "kubectl",
        false,
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas"#
    );
}

#[test]
fn update_on_create_owns_everything_but_identity_metadata() {
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "d", "uid": "u", "resourceVersion": "1", "creationTimestamp": "t",
                     "labels": {"a": "b"}},
        "data": {"k": "v"}});
    update_managed_fields(
        None,
        &mut obj,
        "kubectl-create",
        "Update",
        "v1",
        T1,
        &PodMeta,
    );
    let mf = &obj["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], "kubectl-create");
    assert_eq!(mf["operation"], "Update");
    assert_eq!(mf["time"], T1);
    assert_eq!(
        mf["fieldsV1"],
        json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:a": {}}}})
    );
    // A write that changes nothing tracked leaves managedFields untouched.
    let before = obj.clone();
    let mut same = obj.clone();
    same["metadata"]["resourceVersion"] = json!("2");
    update_managed_fields(
        Some(&before),
        &mut same,
        "other",
        "Update",
        "v1",
        T2,
        &PodMeta,
    );
    assert_eq!(
        same["metadata"]["managedFields"],
        before["metadata"]["managedFields"]
    );
}

#[test]
fn removed_fields_leave_every_owner() {
    let live = created_by_update();
    let mut edited = live.clone();
    if let Some(labels) = edited["metadata"]["labels"].as_object_mut() {
        labels.clear();
    }
    edited["spec"]["replicas"] = json!(4);
    update_managed_fields(
        Some(&live),
        &mut edited,
        "kubectl-edit",
        "Update",
        "apps/v1",
        T2,
        &PodMeta,
    );
    for (_, _, f) in entries_of(&edited) {
        assert!(f.pointer("/f:metadata/f:labels/f:app").is_none(), "{f}");
    }
}

#[test]
fn invalid_configurations() {
    let cases = [
        (
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}}),
            "duplicate entries",
        ),
        (
            json!({"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}),
            "omits all key fields",
        ),
        (
            json!({"metadata": {"managedFields": []}}),
            "metadata.managedFields must be nil",
        ),
        (json!([1]), "must be a JSON object"),
    ];
    for (cfg, want) in cases {
        match apply(None, &cfg, "kubectl", false) {
            Err(ApplyError::Invalid(msg)) => assert!(msg.contains(want), "{msg}"),
            other => panic!("{cfg}: unexpected {other:?}"),
        }
    }
}

#[test]
fn null_in_config_removes_the_field() {
    let live = apply(
        None,
        &deployment(3, json!({"app": "web"}), json!([{"name": "web"}])),
        "kubectl",
        false,
    )
    .expect("create");
    let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": null}});
    let out = apply(Some(&live), &cfg, "other", false).expect("null apply");
    assert!(out["spec"].get("replicas").is_none());
}

#[test]
fn multi_conflict_message_groups_by_manager() {
    let c = |m: &str, op: &str, f: &str| Conflict {
        manager: m.into(),
        operation: op.into(),
        api_version: "apps/v1".into(),
        subresource: String::new(),
        field: f.into(),
    };
    let msg = conflict_message(&[
        c("b", "Apply", ".spec.replicas"),
        c("a", "Update", ".spec.paused"),
        c("b", "Apply", ".spec.x"),
    ]);
    assert_eq!(msg, "Apply failed with 3 conflicts: conflicts with \"a\" using apps/v1:\n- .spec.paused\nconflicts with \"b\":\n- .spec.replicas\n- .spec.x");
}

#[test]
fn identical_reapply_keeps_time_and_object() {
    let cfg = deployment(
        1,
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx"}]),
    );
    let live =
        server_side_apply(None, &cfg, "kubectl", false, "apps/v1", T1, &PodMeta).expect("create");
    let again = server_side_apply(Some(&live), &cfg, "kubectl", false, "apps/v1", T2, &PodMeta)
        .expect("reapply");
    assert_eq!(again, live);
    assert_eq!(again["metadata"]["managedFields"][0]["time"], T1);
}

#[test]
fn forced_apply_takes_list_item_fields() {
    let live = created_by_update();
    let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}});
    let err = apply(Some(&live), &cfg, "kubectl", false).expect_err("image owned by the creator");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.template.spec.containers[name="web"].image"#
    );
    let out = apply(Some(&live), &cfg, "kubectl", true).expect("forced");
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web", "image": "nginx:2"}])
    );
    let image = "/f:spec/f:template/f:spec/f:containers/k:{\"name\":\"web\"}/f:image";
    let owners: Vec<String> = entries_of(&out)
        .into_iter()
        .filter(|(_, _, f)| f.pointer(image).is_some())
        .map(|(m, _, _)| m)
        .collect();
    assert_eq!(owners, ["kubectl"]);
    // The creator keeps the fields nobody took.
    let creator = entries_of(&out)
        .into_iter()
        .find(|(m, _, _)| m == "kubectl-client-side-apply");
    assert!(creator
        .is_some_and(|(_, op, f)| op == "Update" && f.pointer("/f:spec/f:replicas").is_some()));
}
