//! apps/v1 workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet), ReplicationController
//! and PodTemplate (`pkg/apis/apps/validation`).

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{child, has, int_at, obj_at, sorted_map_value, str_or_empty};
use crate::names::validate_percent;
use crate::pod::validate_pod_template_spec;
use crate::selector::{
    map_selector_matches, selector_is_empty, selector_matches, validate_label_selector,
    validate_labels,
};

/// `must be greater than or equal to 0` on a present, negative integer field.
pub(crate) fn nonnegative(obj: &Value, field: &str, path: &str) -> Vec<FieldError> {
    match int_at(obj, field) {
        Some(n) if n < 0 => vec![FieldError::invalid(
            child(path, field),
            n,
            "must be greater than or equal to 0",
        )],
        _ => Vec::new(),
    }
}

/// Selector required, valid and non-empty; template labels must match it.
pub(crate) fn validate_selector_and_template(
    spec: &Value,
    path: &str,
    owner: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let sel_path = child(path, "selector");
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required(&sel_path, "")),
        Some(sel) => {
            errs.extend(validate_label_selector(sel, &sel_path));
            if selector_is_empty(sel) {
                errs.push(FieldError::invalid(
                    &sel_path,
                    sel.clone(),
                    format!("empty selector is invalid for {owner}"),
                ));
            }
        }
    }
    errs
}

/// Checks a ReplicaSet-style template: labels match, restartPolicy Always, no deadline.
fn validate_replica_template(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let tpath = child(path, "template");
    let Some(tmpl) = spec.get("template").filter(|t| !t.is_null()) else {
        errs.push(FieldError::required(&tpath, ""));
        return errs;
    };
    errs.extend(template_matches_selector(spec, tmpl, &tpath));
    errs.extend(validate_pod_template_spec(tmpl, &tpath));
    let null = Value::Null;
    let pspec = tmpl.get("spec").unwrap_or(&null);
    let rp = str_or_empty(pspec, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            child(&tpath, "spec.restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if has(pspec, "activeDeadlineSeconds") {
        errs.push(FieldError::forbidden(
            child(&tpath, "spec.activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}

/// `` `selector` does not match template `labels` `` when a non-empty selector misses.
pub(crate) fn template_matches_selector(
    spec: &Value,
    tmpl: &Value,
    tpath: &str,
) -> Vec<FieldError> {
    let labels = tmpl.get("metadata").and_then(|m| m.get("labels"));
    match spec.get("selector") {
        Some(sel)
            if sel.is_object() && !selector_is_empty(sel) && !selector_matches(sel, labels) =>
        {
            vec![FieldError::invalid(
                child(tpath, "metadata.labels"),
                sorted_map_value(labels),
                "`selector` does not match template `labels`",
            )]
        }
        _ => Vec::new(),
    }
}

/// An IntOrString that must be a non-negative int or a percent.
pub(crate) fn positive_int_or_percent(v: Option<&Value>, path: &str) -> Vec<FieldError> {
    match v {
        Some(Value::String(s)) => validate_percent(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, s.as_str(), m))
            .collect(),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) if i < 0 => vec![FieldError::invalid(
                path,
                i,
                "must be greater than or equal to 0",
            )],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The integer value of an IntOrString (percent without the `%`); -1 when unparsable.
pub(crate) fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|d| d.parse().ok())
            .unwrap_or(-1),
        Some(other) => other.as_i64().unwrap_or(0),
        None => 0,
    }
}

pub(crate) fn not_more_than_100_percent(v: Option<&Value>, path: &str) -> Vec<FieldError> {
    match v {
        Some(Value::String(s)) if s.ends_with('%') && int_or_percent_value(v) > 100 => {
            vec![FieldError::invalid(
                path,
                s.as_str(),
                "must not be greater than 100%",
            )]
        }
        _ => Vec::new(),
    }
}

/// Deployment spec.
pub fn validate_deployment(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = nonnegative(spec, "replicas", "spec");
    errs.extend(validate_selector_and_template(spec, "spec", "deployment"));
    errs.extend(validate_replica_template(spec, "spec"));
    if let Some(strategy) = spec.get("strategy").filter(|s| !s.is_null()) {
        let sp = "spec.strategy";
        match str_or_empty(strategy, "type") {
            "Recreate" => {
                if has(strategy, "rollingUpdate") {
                    errs.push(FieldError::forbidden(
                        child(sp, "rollingUpdate"),
                        "may not be specified when strategy `type` is 'Recreate'",
                    ));
                }
            }
            "RollingUpdate" => match strategy.get("rollingUpdate").filter(|r| !r.is_null()) {
                None => errs.push(FieldError::required(
                    child(sp, "rollingUpdate"),
                    "this should be defaulted and never be nil",
                )),
                Some(ru) => {
                    let rp = child(sp, "rollingUpdate");
                    let mu_path = child(&rp, "maxUnavailable");
                    errs.extend(positive_int_or_percent(ru.get("maxUnavailable"), &mu_path));
                    errs.extend(positive_int_or_percent(
                        ru.get("maxSurge"),
                        &child(&rp, "maxSurge"),
                    ));
                    if int_or_percent_value(ru.get("maxUnavailable")) == 0
                        && int_or_percent_value(ru.get("maxSurge")) == 0
                    {
                        let bad = ru.get("maxUnavailable").cloned().unwrap_or(Value::from(0));
                        errs.push(FieldError::invalid(
                            &mu_path,
                            bad,
                            "may not be 0 when `maxSurge` is 0",
                        ));
                    }
                    errs.extend(not_more_than_100_percent(
                        ru.get("maxUnavailable"),
                        &mu_path,
                    ));
                }
            },
            _ => errs.push(FieldError::not_supported(
                sp,
                strategy.clone(),
                &["Recreate", "RollingUpdate"],
            )),
        }
    }
    errs.extend(nonnegative(spec, "revisionHistoryLimit", "spec"));
    errs.extend(nonnegative(spec, "minReadySeconds", "spec"));
    if let Some(pds) = int_at(spec, "progressDeadlineSeconds") {
        if pds < 0 {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than or equal to 0",
            ));
        } else if pds <= int_at(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// ReplicaSet spec.
pub fn validate_replica_set(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = nonnegative(spec, "replicas", "spec");
    errs.extend(nonnegative(spec, "minReadySeconds", "spec"));
    errs.extend(validate_selector_and_template(spec, "spec", "deployment"));
    errs.extend(validate_replica_template(spec, "spec"));
    errs
}

/// StatefulSet spec.
pub fn validate_stateful_set(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    match str_or_empty(spec, "podManagementPolicy") {
        "OrderedReady" | "Parallel" => {}
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.podManagementPolicy",
            other,
            &["OrderedReady", "Parallel"],
        )),
    }
    let us = spec.get("updateStrategy").unwrap_or(&null);
    match str_or_empty(us, "type") {
        "RollingUpdate" => {
            if let Some(ru) = us.get("rollingUpdate").filter(|r| !r.is_null()) {
                errs.extend(nonnegative(
                    ru,
                    "partition",
                    "spec.updateStrategy.rollingUpdate",
                ));
                if has(ru, "maxUnavailable") {
                    let p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                    errs.extend(positive_int_or_percent(ru.get("maxUnavailable"), p));
                    if int_or_percent_value(ru.get("maxUnavailable")) == 0 {
                        errs.push(FieldError::invalid(
                            p,
                            ru.get("maxUnavailable").cloned().unwrap_or(Value::Null),
                            "must be greater than 0",
                        ));
                    }
                    errs.extend(not_more_than_100_percent(ru.get("maxUnavailable"), p));
                }
            }
        }
        "OnDelete" => {
            if let Some(ru) = us.get("rollingUpdate").filter(|r| !r.is_null()) {
                errs.push(FieldError::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    ru.clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.updateStrategy",
            other,
            &["OnDelete", "RollingUpdate"],
        )),
    }
    if let Some(policy) = spec
        .get("persistentVolumeClaimRetentionPolicy")
        .filter(|p| !p.is_null())
    {
        for f in ["whenDeleted", "whenScaled"] {
            let v = str_or_empty(policy, f);
            if !matches!(v, "Retain" | "Delete") {
                errs.push(FieldError::not_supported(
                    child("spec.persistentVolumeClaimRetentionPolicy", f),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errs.extend(nonnegative(spec, "replicas", "spec"));
    errs.extend(nonnegative(spec, "minReadySeconds", "spec"));
    errs.extend(nonnegative(spec, "revisionHistoryLimit", "spec"));
    errs.extend(validate_selector_and_template(spec, "spec", "statefulset"));
    errs.extend(validate_replica_template(&with_claim_volumes(spec), "spec"));
    errs
}

/// The spec with a volume per volumeClaimTemplate added to its template, as the
/// controller adds them to each pod, so mounts of claim templates are not "Not found".
fn with_claim_volumes(spec: &Value) -> Value {
    let mut spec = spec.clone();
    let names: Vec<String> = spec
        .get("volumeClaimTemplates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/metadata/name").and_then(Value::as_str))
        .map(String::from)
        .collect();
    if names.is_empty() {
        return spec;
    }
    if let Some(pspec) = spec
        .pointer_mut("/template/spec")
        .and_then(Value::as_object_mut)
    {
        let vols = pspec
            .entry("volumes")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(vols) = vols.as_array_mut() {
            vols.retain(|v| {
                !names
                    .iter()
                    .any(|n| v.get("name").and_then(Value::as_str) == Some(n))
            });
            for n in names {
                vols.push(serde_json::json!({
                    "name": n,
                    "persistentVolumeClaim": {"claimName": n},
                }));
            }
        }
    }
    spec
}

/// DaemonSet spec.
pub fn validate_daemon_set(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = validate_selector_and_template(spec, "spec", "daemonset");
    errs.extend(validate_replica_template(spec, "spec"));
    errs.extend(nonnegative(spec, "minReadySeconds", "spec"));
    errs.extend(nonnegative(spec, "revisionHistoryLimit", "spec"));
    let us = spec.get("updateStrategy").unwrap_or(&null);
    match str_or_empty(us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            if let Some(ru) = us.get("rollingUpdate").filter(|r| !r.is_null()) {
                let rp = "spec.updateStrategy.rollingUpdate";
                let (mu, ms) = (ru.get("maxUnavailable"), ru.get("maxSurge"));
                errs.extend(positive_int_or_percent(mu, &child(rp, "maxUnavailable")));
                errs.extend(positive_int_or_percent(ms, &child(rp, "maxSurge")));
                errs.extend(not_more_than_100_percent(mu, &child(rp, "maxUnavailable")));
                errs.extend(not_more_than_100_percent(ms, &child(rp, "maxSurge")));
                let (has_u, has_s) = (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0);
                if has_u && has_s {
                    errs.push(FieldError::invalid(
                        child(rp, "maxSurge"),
                        ms.cloned().unwrap_or(Value::Null),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_u && !has_s {
                    errs.push(FieldError::required(
                        child(rp, "maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        }
        "" => errs.push(FieldError::required("spec.updateStrategy.type", "")),
        other => errs.push(FieldError::not_supported(
            "spec.updateStrategy.type",
            other,
            &["OnDelete", "RollingUpdate"],
        )),
    }
    errs
}

/// ReplicationController spec (map selector).
pub fn validate_replication_controller(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = nonnegative(spec, "replicas", "spec");
    errs.extend(nonnegative(spec, "minReadySeconds", "spec"));
    let sel = spec.get("selector");
    if obj_at(spec, "selector").is_none_or(|m| m.is_empty()) {
        errs.push(FieldError::required("spec.selector", ""));
    } else {
        errs.extend(validate_labels(sel, "spec.selector"));
    }
    match spec.get("template").filter(|t| !t.is_null()) {
        None => errs.push(FieldError::required("spec.template", "")),
        Some(tmpl) => {
            let labels = tmpl.get("metadata").and_then(|m| m.get("labels"));
            if obj_at(spec, "selector").is_some_and(|m| !m.is_empty())
                && !map_selector_matches(sel, labels)
            {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    sorted_map_value(labels),
                    "`selector` does not match template `labels`",
                ));
            }
            errs.extend(validate_pod_template_spec(tmpl, "spec.template"));
            let rp = tmpl
                .get("spec")
                .map(|s| str_or_empty(s, "restartPolicy"))
                .unwrap_or("");
            if rp != "Always" {
                errs.push(FieldError::not_supported(
                    "spec.template.spec.restartPolicy",
                    rp,
                    &["Always"],
                ));
            }
            if tmpl
                .get("spec")
                .is_some_and(|s| has(s, "activeDeadlineSeconds"))
            {
                errs.push(FieldError::forbidden(
                    "spec.template.spec.activeDeadlineSeconds",
                    "activeDeadlineSeconds in ReplicationController is not Supported",
                ));
            }
        }
    }
    errs
}

/// PodTemplate (`template` at the top level).
pub fn validate_pod_template(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    validate_pod_template_spec(obj.get("template").unwrap_or(&null), "template")
}

/// Update rules: selectors are immutable; StatefulSets only change a few spec fields.
pub fn validate_workload_update(kind: &str, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let (ns, os) = (
        new.get("spec").unwrap_or(&null),
        old.get("spec").unwrap_or(&null),
    );
    if matches!(
        kind,
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet"
    ) && ns.get("selector") != os.get("selector")
    {
        errs.push(FieldError::immutable(
            "spec.selector",
            ns.get("selector").cloned().unwrap_or(Value::Null),
        ));
    }
    if kind == "StatefulSet" {
        let strip = |s: &Value| {
            let mut s = s.clone();
            if let Some(m) = s.as_object_mut() {
                for k in [
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                    "selector",
                ] {
                    m.remove(k);
                }
            }
            s
        };
        if strip(ns) != strip(os) {
            errs.push(FieldError::forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "containers": [
                        {"name": "web", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}
                    ]}
                }
            }
        })
    }

    fn with(mut base: Value, ptr: &str, v: Value) -> Value {
        if let Some(slot) = base.pointer_mut(ptr) {
            *slot = v;
        }
        base
    }

    fn msgs(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn deployment_table() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (deployment(), vec![]),
            (with(deployment(), "/spec/replicas", json!(-1)), vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
            (
                with(deployment(), "/spec/selector", json!({"matchLabels": {"app": "other"}})),
                vec!["spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"],
            ),
            (with(deployment(), "/spec/selector", json!({})), vec!["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]),
            (
                with(deployment(), "/spec/strategy/rollingUpdate", json!({"maxSurge": 0, "maxUnavailable": 0})),
                vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"],
            ),
            (
                with(deployment(), "/spec/strategy/rollingUpdate/maxUnavailable", json!("150%")),
                vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"],
            ),
            (
                with(deployment(), "/spec/strategy/rollingUpdate/maxSurge", json!("x")),
                vec!["spec.strategy.rollingUpdate.maxSurge: Invalid value: \"x\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"],
            ),
            (
                with(deployment(), "/spec/strategy", json!({"type": "Recreate", "rollingUpdate": {}})),
                vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
            ),
            (
                with(deployment(), "/spec/template/spec/restartPolicy", json!("Never")),
                vec!["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""],
            ),
            (with(deployment(), "/spec/progressDeadlineSeconds", json!(0)), vec!["spec.progressDeadlineSeconds: Invalid value: 0: must be greater than minReadySeconds"]),
        ];
        for (obj, want) in cases {
            assert_eq!(msgs(validate_deployment(&obj)), want);
        }
        let mut no_sel = deployment();
        if let Some(spec) = no_sel["spec"].as_object_mut() {
            spec.remove("selector");
        }
        assert_eq!(
            msgs(validate_deployment(&no_sel)),
            vec!["spec.selector: Required value"]
        );
    }

    #[test]
    fn daemonset_rolling_update_rules() {
        let ds = |ru: Value| {
            let mut d = deployment();
            d["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": ru});
            d
        };
        assert!(validate_daemon_set(&ds(json!({"maxUnavailable": 1, "maxSurge": 0}))).is_empty());
        assert_eq!(msgs(validate_daemon_set(&ds(json!({"maxUnavailable": 0, "maxSurge": 0})))), vec!["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]);
        assert_eq!(msgs(validate_daemon_set(&ds(json!({"maxUnavailable": 1, "maxSurge": 1})))), vec!["spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"]);
    }

    #[test]
    fn statefulset_rules() {
        let mut ss = deployment();
        ss["spec"]["podManagementPolicy"] = json!("OrderedReady");
        ss["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
        assert!(validate_stateful_set(&ss).is_empty());
        ss["spec"]["podManagementPolicy"] = json!("Random");
        assert_eq!(msgs(validate_stateful_set(&ss)), vec!["spec.podManagementPolicy: Unsupported value: \"Random\": supported values: \"OrderedReady\", \"Parallel\""]);
        let old = ss.clone();
        let mut new = ss.clone();
        new["spec"]["serviceName"] = json!("other");
        assert_eq!(
            validate_workload_update("StatefulSet", &new, &old)[0].field,
            "spec"
        );
        let mut scaled = ss.clone();
        scaled["spec"]["replicas"] = json!(5);
        assert!(validate_workload_update("StatefulSet", &scaled, &old).is_empty());
    }

    #[test]
    fn statefulset_mounts_may_name_claim_templates() {
        let mut ss = deployment();
        ss["spec"]["podManagementPolicy"] = json!("OrderedReady");
        ss["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        ss["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "data", "mountPath": "/data"}]);
        assert_eq!(
            msgs(validate_stateful_set(&ss)),
            vec!["spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\""]
        );
        ss["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "data"}}]);
        assert!(validate_stateful_set(&ss).is_empty());
    }

    #[test]
    fn selector_immutable() {
        let old = deployment();
        let new = with(
            deployment(),
            "/spec/selector",
            json!({"matchLabels": {"app": "x"}}),
        );
        assert_eq!(msgs(validate_workload_update("Deployment", &new, &old)), vec!["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"x\"}}: field is immutable"]);
    }

    #[test]
    fn replication_controller() {
        let rc = json!({"spec": {"replicas": 1, "selector": {"app": "x"}, "template": {"metadata": {"labels": {"app": "y"}}, "spec": deployment()["spec"]["template"]["spec"].clone()}}});
        assert_eq!(msgs(validate_replication_controller(&rc)), vec!["spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`"]);
    }
}
