//! HorizontalPodAutoscaler (autoscaling/v1 and v2) and PodDisruptionBudget validation.

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, child, index, int_at, str_or_empty};
use crate::names::validate_path_segment_name;
use crate::quantity::Quantity;
use crate::selector::validate_label_selector;
use crate::workloads::{not_more_than_100_percent, positive_int_or_percent};

const METRIC_TYPES: &[&str] = &[
    "Object",
    "Pods",
    "Resource",
    "External",
    "ContainerResource",
];
const MAX_STABILIZATION_WINDOW: i64 = 3600;
const MAX_PERIOD_SECONDS: i64 = 1800;

/// HPA spec (either API version; v2-only fields are checked when present).
pub fn validate_hpa(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    let min = int_at(spec, "minReplicas");
    let max = int_at(spec, "maxReplicas").unwrap_or(0);
    if let Some(m) = min {
        if m < 1 {
            errs.push(FieldError::invalid(
                "spec.minReplicas",
                m,
                "must be greater than or equal to 1",
            ));
        }
    }
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    // Upstream stops at the first failing section: reference, then metrics, then behavior.
    let target = spec.get("scaleTargetRef").unwrap_or(&null);
    let mut ref_errs = Vec::new();
    for f in ["kind", "name"] {
        let v = str_or_empty(target, f);
        let p = child("spec.scaleTargetRef", f);
        if v.is_empty() {
            ref_errs.push(FieldError::required(p, ""));
        } else {
            for msg in validate_path_segment_name(v) {
                ref_errs.push(FieldError::invalid(&p, v, msg));
            }
        }
    }
    if !ref_errs.is_empty() {
        errs.extend(ref_errs);
        return errs;
    }
    if let Some(pct) = int_at(spec, "targetCPUUtilizationPercentage") {
        if pct < 1 {
            errs.push(FieldError::invalid(
                "spec.targetCPUUtilizationPercentage",
                pct,
                "must be greater than 0",
            ));
        }
    }
    let metric_errs: Vec<FieldError> = arr_at(spec, "metrics")
        .iter()
        .enumerate()
        .flat_map(|(i, m)| validate_metric(m, &index("spec.metrics", i)))
        .collect();
    if !metric_errs.is_empty() {
        errs.extend(metric_errs);
        return errs;
    }
    if let Some(b) = spec.get("behavior").filter(|b| !b.is_null()) {
        for dir in ["scaleUp", "scaleDown"] {
            if let Some(rules) = b.get(dir).filter(|r| !r.is_null()) {
                errs.extend(validate_scaling_rules(rules, &child("spec.behavior", dir)));
            }
        }
    }
    errs
}

fn validate_metric(m: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ty = str_or_empty(m, "type");
    if ty.is_empty() {
        errs.push(FieldError::required(
            child(path, "type"),
            "must specify a metric source type",
        ));
        return errs;
    }
    if !METRIC_TYPES.contains(&ty) {
        errs.push(FieldError::not_supported(
            child(path, "type"),
            ty,
            METRIC_TYPES,
        ));
        return errs;
    }
    let field = match ty {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        _ => "containerResource",
    };
    let Some(src) = m.get(field).filter(|s| !s.is_null()) else {
        errs.push(FieldError::required(
            child(path, field),
            "must populate information for the given metric source",
        ));
        return errs;
    };
    let sp = child(path, field);
    let null = Value::Null;
    let tgt = src.get("target").unwrap_or(&null);
    let tp = child(&sp, "target");
    match str_or_empty(tgt, "type") {
        "" => errs.push(FieldError::required(
            child(&tp, "type"),
            "must specify a metric target type",
        )),
        "Utilization" | "Value" | "AverageValue" => {}
        other => errs.push(FieldError::invalid(
            child(&tp, "type"),
            other,
            "must be either Utilization, Value, or AverageValue",
        )),
    }
    for q in ["value", "averageValue"] {
        if let Some(v) = tgt.get(q).filter(|v| !v.is_null()) {
            let positive = Quantity::from_json(v).is_ok_and(|q| !q.is_negative() && !q.is_zero());
            if !positive {
                errs.push(FieldError::invalid(
                    child(&tp, q),
                    v.clone(),
                    "must be positive",
                ));
            }
        }
    }
    if let Some(u) = int_at(tgt, "averageUtilization") {
        if u < 1 {
            errs.push(FieldError::invalid(
                child(&tp, "averageUtilization"),
                u,
                "must be greater than 0",
            ));
        }
    }
    if matches!(ty, "Resource" | "ContainerResource") {
        if str_or_empty(src, "name").is_empty() {
            errs.push(FieldError::required(
                child(&sp, "name"),
                "must specify a resource name",
            ));
        }
        if ty == "ContainerResource" && str_or_empty(src, "container").is_empty() {
            errs.push(FieldError::required(
                child(&sp, "container"),
                "must specify a container",
            ));
        }
        let (has_u, has_v) = (
            tgt.get("averageUtilization").is_some_and(|v| !v.is_null()),
            tgt.get("averageValue").is_some_and(|v| !v.is_null()),
        );
        if !has_u && !has_v {
            errs.push(FieldError::required(
                child(&tp, "averageUtilization"),
                "must set either a target raw value or a target utilization",
            ));
        }
        if has_u && has_v {
            errs.push(FieldError::forbidden(
                child(&tp, "averageValue"),
                "may not set both a target raw value and a target utilization",
            ));
        }
    } else if str_or_empty(src.get("metric").unwrap_or(&null), "name").is_empty() {
        errs.push(FieldError::required(
            child(&sp, "metric.name"),
            "must specify a metric name",
        ));
    }
    errs
}

fn validate_scaling_rules(rules: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(w) = int_at(rules, "stabilizationWindowSeconds") {
        let p = child(path, "stabilizationWindowSeconds");
        if w < 0 {
            errs.push(FieldError::invalid(
                &p,
                w,
                "must be greater than or equal to zero",
            ));
        }
        if w > MAX_STABILIZATION_WINDOW {
            errs.push(FieldError::invalid(
                &p,
                w,
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW}"),
            ));
        }
    }
    if let Some(sp) = rules.get("selectPolicy").and_then(Value::as_str) {
        if !matches!(sp, "Max" | "Min" | "Disabled") {
            errs.push(FieldError::not_supported(
                child(path, "selectPolicy"),
                sp,
                &["Max", "Min", "Disabled"],
            ));
        }
    }
    let policies = arr_at(rules, "policies");
    let pp = child(path, "policies");
    if policies.is_empty() {
        errs.push(FieldError::required(
            &pp,
            "must specify at least one Policy",
        ));
    }
    for (i, p) in policies.iter().enumerate() {
        let ip = index(&pp, i);
        let ty = str_or_empty(p, "type");
        if !matches!(ty, "Pods" | "Percent") {
            errs.push(FieldError::not_supported(
                child(&ip, "type"),
                ty,
                &["Pods", "Percent"],
            ));
        }
        let v = int_at(p, "value").unwrap_or(0);
        if v <= 0 {
            errs.push(FieldError::invalid(
                child(&ip, "value"),
                v,
                "must be greater than zero",
            ));
        }
        let period = int_at(p, "periodSeconds").unwrap_or(0);
        if period <= 0 {
            errs.push(FieldError::invalid(
                child(&ip, "periodSeconds"),
                period,
                "must be greater than zero",
            ));
        }
        if period > MAX_PERIOD_SECONDS {
            errs.push(FieldError::invalid(
                child(&ip, "periodSeconds"),
                period,
                format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
    errs
}

/// PodDisruptionBudget spec.
pub fn validate_pdb(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    let (min, max) = (
        spec.get("minAvailable").filter(|v| !v.is_null()),
        spec.get("maxUnavailable").filter(|v| !v.is_null()),
    );
    if min.is_some() && max.is_some() {
        errs.push(FieldError::invalid(
            "spec",
            spec.clone(),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (field, v) in [("minAvailable", min), ("maxUnavailable", max)] {
        let p = child("spec", field);
        errs.extend(positive_int_or_percent(v, &p));
        errs.extend(not_more_than_100_percent(v, &p));
    }
    if let Some(sel) = spec.get("selector").filter(|s| !s.is_null()) {
        errs.extend(validate_label_selector(sel, "spec.selector"));
    }
    if let Some(p) = spec
        .get("unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
    {
        if !matches!(p, "AlwaysAllow" | "IfHealthyBudget") {
            errs.push(FieldError::not_supported(
                "spec.unhealthyPodEvictionPolicy",
                p,
                &["AlwaysAllow", "IfHealthyBudget"],
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn hpa(spec: Value) -> Value {
        json!({"spec": spec})
    }

    #[test]
    fn hpa_table() {
        let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"});
        let cpu = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]);
        let cases = [
            (hpa(json!({"scaleTargetRef": target, "minReplicas": 2, "maxReplicas": 10, "metrics": cpu})), vec![]),
            (hpa(json!({"scaleTargetRef": target, "minReplicas": 5, "maxReplicas": 2})), vec!["spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]),
            (hpa(json!({"scaleTargetRef": target, "minReplicas": 0, "maxReplicas": 0})), vec![
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
            ]),
            (hpa(json!({"scaleTargetRef": {"kind": "Deployment"}, "maxReplicas": 3})), vec!["spec.scaleTargetRef.name: Required value"]),
            (hpa(json!({"scaleTargetRef": target, "maxReplicas": 3, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]})), vec![
                "spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization",
            ]),
            (hpa(json!({"scaleTargetRef": target, "maxReplicas": 3, "behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 60}]}}})), vec![
                "spec.behavior.scaleDown.policies[0].value: Invalid value: 0: must be greater than zero",
            ]),
        ];
        for (obj, want) in cases {
            assert_eq!(msgs(validate_hpa(&obj)), want, "{obj}");
        }
    }

    #[test]
    fn pdb_table() {
        let cases = [
            (
                json!({"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}}),
                vec![],
            ),
            (
                json!({"spec": {"minAvailable": "150%"}}),
                vec!["spec.minAvailable: Invalid value: \"150%\": must not be greater than 100%"],
            ),
            (
                json!({"spec": {"maxUnavailable": -1}}),
                vec!["spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"],
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(msgs(validate_pdb(&obj)), want, "{obj}");
        }
        let both = json!({"spec": {"minAvailable": 1, "maxUnavailable": 1}});
        assert_eq!(
            validate_pdb(&both)[0].detail,
            "minAvailable and maxUnavailable cannot be both set"
        );
    }
}
