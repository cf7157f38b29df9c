//! batch/v1 Job and CronJob validation (`pkg/apis/batch/validation`).

use serde_json::{Map, Value};

use crate::cron::parse_standard;
use crate::error::FieldError;
use crate::json::{arr_at, bool_at, child, has, index, int_at, str_at, str_or_empty};
use crate::names::validate_qualified_name;
use crate::pod::validate_pod_template_spec;
use crate::selector::validate_label_selector;
use crate::workloads::{nonnegative, template_matches_selector};

/// Label keys the Job registry adds to generated selectors and pod templates.
pub const JOB_NAME_LABELS: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];
/// Controller UID label keys (legacy and current).
pub const CONTROLLER_UID_LABELS: [&str; 2] =
    ["controller-uid", "batch.kubernetes.io/controller-uid"];

/// Fields of a JobSpec shared by Jobs and CronJob job templates.
fn validate_job_spec_common(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        errs.extend(nonnegative(spec, f, path));
    }
    errs.extend(validate_per_index_limits(spec, path));
    if let Some(mode) = spec.get("completionMode").and_then(Value::as_str) {
        if !matches!(mode, "NonIndexed" | "Indexed") {
            errs.push(FieldError::not_supported(
                child(path, "completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" && !has(spec, "completions") {
            errs.push(FieldError::required(
                child(path, "completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    let failure_policy = spec.get("podFailurePolicy").filter(|p| !p.is_null());
    if let Some(policy) = failure_policy {
        errs.extend(validate_pod_failure_policy(
            spec,
            policy,
            &child(path, "podFailurePolicy"),
        ));
    }
    if let Some(p) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if failure_policy.is_some() && p != "Failed" {
            errs.push(FieldError::not_supported(
                child(path, "podReplacementPolicy"),
                p,
                &["Failed"],
            ));
        } else if !matches!(p, "TerminatingOrFailed" | "Failed") {
            errs.push(FieldError::not_supported(
                child(path, "podReplacementPolicy"),
                p,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let tpath = child(path, "template");
    let null = Value::Null;
    let tmpl = spec.get("template").unwrap_or(&null);
    errs.extend(validate_pod_template_spec(tmpl, &tpath));
    let rp = tmpl
        .get("spec")
        .map(|s| str_or_empty(s, "restartPolicy"))
        .unwrap_or("");
    let rp_path = child(&tpath, "spec.restartPolicy");
    match rp {
        // The pod defaulting fills in Always, so both read as "not set" (as upstream).
        "" | "Always" => errs.push(FieldError::required(
            rp_path,
            r#"valid values: "OnFailure", "Never""#,
        )),
        "OnFailure" if failure_policy.is_some() => errs.push(FieldError::invalid(
            rp_path,
            rp,
            r#"only "Never" is supported when podFailurePolicy is specified"#,
        )),
        "OnFailure" | "Never" => {}
        _ => errs.push(FieldError::not_supported(
            rp_path,
            rp,
            &["OnFailure", "Never"],
        )),
    }
    errs
}

/// Completions above which backoffLimitPerIndex needs maxFailedIndexes (upstream's
/// completionsSoftLimit).
const COMPLETIONS_SOFT_LIMIT: i64 = 100_000;
/// Most failed indexes an Indexed Job may tolerate.
const MAX_FAILED_INDEXES: i64 = 100_000;
/// Limits when completions are above the soft limit and backoffLimitPerIndex is set.
const PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS: i64 = 10_000;
const MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS: i64 = 10_000;

/// backoffLimitPerIndex and maxFailedIndexes: Indexed Jobs only, and bounded.
fn validate_per_index_limits(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let per_index = int_at(spec, "backoffLimitPerIndex");
    let max_failed = int_at(spec, "maxFailedIndexes");
    let completions = int_at(spec, "completions");
    if max_failed.is_some() && per_index.is_none() {
        errs.push(FieldError::required(
            child(path, "backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    if str_or_empty(spec, "completionMode") != "Indexed" {
        for (f, v) in [
            ("backoffLimitPerIndex", per_index),
            ("maxFailedIndexes", max_failed),
        ] {
            if let Some(v) = v {
                errs.push(FieldError::invalid(
                    child(path, f),
                    v,
                    "requires indexed completion mode",
                ));
            }
        }
        return errs;
    }
    let max_failed_path = child(path, "maxFailedIndexes");
    if let (Some(c), Some(m)) = (completions, max_failed) {
        if m > c {
            errs.push(FieldError::invalid(
                &max_failed_path,
                m,
                "must be less than or equal to completions",
            ));
        }
    }
    if let Some(m) = max_failed.filter(|m| *m > MAX_FAILED_INDEXES) {
        errs.push(FieldError::invalid(
            &max_failed_path,
            m,
            format!("must be less than or equal to {MAX_FAILED_INDEXES}"),
        ));
    }
    if completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT) && per_index.is_some() {
        let high = format!(
            "when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        );
        if max_failed.is_none() {
            errs.push(FieldError::required(
                &max_failed_path,
                format!("must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"),
            ));
        }
        if let Some(p) =
            int_at(spec, "parallelism").filter(|p| *p > PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS)
        {
            errs.push(FieldError::invalid(
                child(path, "parallelism"),
                p,
                format!(
                    "must be less than or equal to {PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS} {high}"
                ),
            ));
        }
        if let Some(m) = max_failed.filter(|m| *m > MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS) {
            errs.push(FieldError::invalid(
                &max_failed_path,
                m,
                format!("must be less than or equal to {MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS} {high}"),
            ));
        }
    }
    errs
}

/// Most rules in a podFailurePolicy, values in onExitCodes, patterns in onPodConditions.
const MAX_POD_FAILURE_POLICY_RULES: usize = 20;
const MAX_EXIT_CODE_VALUES: usize = 255;
const MAX_POD_CONDITION_PATTERNS: usize = 20;
const POD_FAILURE_POLICY_ACTIONS: [&str; 4] = ["Count", "FailIndex", "FailJob", "Ignore"];

/// podFailurePolicy rules (upstream's validatePodFailurePolicy).
fn validate_pod_failure_policy(spec: &Value, policy: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let rules_path = child(path, "rules");
    let rules = arr_at(policy, "rules");
    if rules.len() > MAX_POD_FAILURE_POLICY_RULES {
        errs.push(FieldError::too_many(
            &rules_path,
            rules.len(),
            MAX_POD_FAILURE_POLICY_RULES,
        ));
    }
    let template_spec = spec.get("template").and_then(|t| t.get("spec"));
    let container_names: Vec<&str> = ["containers", "initContainers"]
        .iter()
        .flat_map(|k| template_spec.map(|s| arr_at(s, k)).unwrap_or(&[]))
        .filter_map(|c| str_at(c, "name"))
        .collect();
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = index(&rules_path, i);
        let action_path = child(&rule_path, "action");
        match str_or_empty(rule, "action") {
            "" => errs.push(FieldError::required(
                action_path,
                r#"valid values: ["Count" "FailIndex" "FailJob" "Ignore"]"#,
            )),
            "FailIndex" if !has(spec, "backoffLimitPerIndex") => errs.push(FieldError::invalid(
                action_path,
                "FailIndex",
                "requires the backoffLimitPerIndex to be set",
            )),
            a if !POD_FAILURE_POLICY_ACTIONS.contains(&a) => errs.push(FieldError::not_supported(
                action_path,
                a,
                &POD_FAILURE_POLICY_ACTIONS,
            )),
            _ => {}
        }
        let on_exit_codes = rule.get("onExitCodes").filter(|v| !v.is_null());
        let on_conditions = arr_at(rule, "onPodConditions");
        if let Some(req) = on_exit_codes {
            errs.extend(validate_on_exit_codes(
                req,
                &child(&rule_path, "onExitCodes"),
                &container_names,
            ));
        }
        if !on_conditions.is_empty() {
            errs.extend(validate_on_pod_conditions(
                on_conditions,
                &child(&rule_path, "onPodConditions"),
            ));
        }
        match (on_exit_codes.is_some(), !on_conditions.is_empty()) {
            (true, true) => errs.push(FieldError::invalid_omit_value(
                &rule_path,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            )),
            (false, false) => errs.push(FieldError::invalid_omit_value(
                &rule_path,
                "specifying one of OnExitCodes and OnPodConditions is required",
            )),
            _ => {}
        }
    }
    errs
}

fn validate_on_exit_codes(req: &Value, path: &str, containers: &[&str]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let operator = str_or_empty(req, "operator");
    let operator_path = child(path, "operator");
    match operator {
        "" => errs.push(FieldError::required(
            operator_path,
            r#"valid values: ["In" "NotIn"]"#,
        )),
        "In" | "NotIn" => {}
        other => errs.push(FieldError::not_supported(
            operator_path,
            other,
            &["In", "NotIn"],
        )),
    }
    if let Some(name) = str_at(req, "containerName") {
        if !containers.contains(&name) {
            errs.push(FieldError::invalid(
                child(path, "containerName"),
                name,
                "must be one of the container or initContainer names in the pod template",
            ));
        }
    }
    let values_path = child(path, "values");
    let values: Vec<i64> = arr_at(req, "values")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    if values.is_empty() {
        errs.push(FieldError::invalid(
            &values_path,
            Value::Array(Vec::new()),
            "at least one value is required",
        ));
    } else if values.len() > MAX_EXIT_CODE_VALUES {
        errs.push(FieldError::too_many(
            &values_path,
            values.len(),
            MAX_EXIT_CODE_VALUES,
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (j, v) in values.iter().enumerate() {
        let value_path = index(&values_path, j);
        if operator == "In" && *v == 0 {
            errs.push(FieldError::invalid(
                &value_path,
                0,
                "must not be 0 for the In operator",
            ));
        }
        if !seen.insert(*v) {
            errs.push(FieldError::duplicate(&value_path, *v));
        }
    }
    if values.windows(2).any(|w| w[0] > w[1]) {
        errs.push(FieldError::invalid(
            &values_path,
            Value::from(values.clone()),
            "must be ordered",
        ));
    }
    errs
}

fn validate_on_pod_conditions(patterns: &[Value], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if patterns.len() > MAX_POD_CONDITION_PATTERNS {
        errs.push(FieldError::too_many(
            path,
            patterns.len(),
            MAX_POD_CONDITION_PATTERNS,
        ));
    }
    for (j, pattern) in patterns.iter().enumerate() {
        let pattern_path = index(path, j);
        let type_ = str_or_empty(pattern, "type");
        for msg in validate_qualified_name(type_) {
            errs.push(FieldError::invalid(
                child(&pattern_path, "type"),
                type_,
                msg,
            ));
        }
        let status_path = child(&pattern_path, "status");
        match str_or_empty(pattern, "status") {
            "" => errs.push(FieldError::required(
                status_path,
                r#"valid values: ["False" "True" "Unknown"]"#,
            )),
            "True" | "False" | "Unknown" => {}
            other => errs.push(FieldError::not_supported(
                status_path,
                other,
                &["False", "True", "Unknown"],
            )),
        }
    }
    errs
}

/// Job (selector required; the server generates it unless `manualSelector`).
pub fn validate_job(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            errs.extend(validate_label_selector(sel, "spec.selector"));
            errs.extend(template_matches_selector(
                spec,
                spec.get("template").unwrap_or(&null),
                "spec.template",
            ));
        }
    }
    errs.extend(validate_job_spec_common(spec, "spec"));
    errs
}

/// Job update: selector, completionMode and (unless suspended) template are immutable.
pub fn validate_job_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let (ns, os) = (
        new.get("spec").unwrap_or(&null),
        old.get("spec").unwrap_or(&null),
    );
    let mut errs = Vec::new();
    let elastic = str_or_empty(ns, "completionMode") == "Indexed"
        && ns.get("completions") == ns.get("parallelism")
        && os.get("completions") == os.get("parallelism");
    if ns.get("completions") != os.get("completions") && !elastic {
        errs.push(FieldError::immutable(
            "spec.completions",
            ns.get("completions").cloned().unwrap_or(Value::Null),
        ));
    }
    if ns.get("selector") != os.get("selector") {
        errs.push(FieldError::immutable(
            "spec.selector",
            ns.get("selector").cloned().unwrap_or(Value::Null),
        ));
    }
    // Upstream allows template changes only while the job is suspended (before it starts).
    if ns.get("template") != os.get("template") && bool_at(os, "suspend") != Some(true) {
        errs.push(FieldError::immutable(
            "spec.template",
            ns.get("template").cloned().unwrap_or(Value::Null),
        ));
    }
    for f in ["completionMode", "podFailurePolicy", "backoffLimitPerIndex"] {
        if ns.get(f) != os.get(f) {
            errs.push(FieldError::immutable(
                child("spec", f),
                ns.get(f).cloned().unwrap_or(Value::Null),
            ));
        }
    }
    errs
}

/// CronJob: name length, schedule, policies and the job template.
pub fn validate_cron_job(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let mut errs = Vec::new();
    let name = crate::meta::object_name(obj);
    // Job names get an 11-character suffix and must stay DNS-1035 label length.
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    let spec = obj.get("spec").unwrap_or(&null);
    let schedule = str_or_empty(spec, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else if schedule.contains("TZ") {
        errs.push(FieldError::invalid(
            "spec.schedule",
            schedule,
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ));
    } else if let Err(e) = parse_standard(schedule) {
        errs.push(FieldError::invalid(
            "spec.schedule",
            schedule,
            e.to_string(),
        ));
    }
    if let Some(tz) = spec.get("timeZone").and_then(Value::as_str) {
        let valid =
            !tz.is_empty() && !tz.contains(' ') && !tz.starts_with('/') && !tz.contains("..");
        if !valid {
            errs.push(FieldError::invalid(
                "spec.timeZone",
                tz,
                "unknown time zone",
            ));
        }
    }
    errs.extend(nonnegative(spec, "startingDeadlineSeconds", "spec"));
    match str_or_empty(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    errs.extend(nonnegative(spec, "successfulJobsHistoryLimit", "spec"));
    errs.extend(nonnegative(spec, "failedJobsHistoryLimit", "spec"));
    let jt = spec.get("jobTemplate").unwrap_or(&null);
    let jspec = jt.get("spec").unwrap_or(&null);
    errs.extend(validate_job_spec_common(jspec, "spec.jobTemplate.spec"));
    if let Some(sel) = jspec.get("selector").filter(|s| !s.is_null()) {
        errs.push(FieldError::invalid(
            "spec.jobTemplate.spec.selector",
            sel.clone(),
            "`selector` will be auto-generated",
        ));
    }
    if bool_at(jspec, "manualSelector") == Some(true) {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    errs
}

/// What the Job registry does before validation on create: unless `manualSelector`
/// is true, add job-name / controller-uid labels to the template and select on the
/// controller-uid. Needs `metadata.uid` to be set already.
pub fn generate_job_selector(obj: &mut Value) {
    let meta = obj.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(uid) = meta
        .and_then(|m| m.get("uid"))
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    let Some(spec) = obj.get_mut("spec") else {
        return;
    };
    if bool_at(spec, "manualSelector") == Some(true) {
        return;
    }
    if let Some(labels) = spec
        .get_mut("template")
        .and_then(|t| crate::json::ensure_obj(t, "metadata"))
        .map(|m| {
            m.entry("labels")
                .or_insert_with(|| Value::Object(Map::new()))
        })
    {
        if labels.is_null() {
            *labels = Value::Object(Map::new());
        }
        if let Some(l) = labels.as_object_mut() {
            for k in JOB_NAME_LABELS {
                l.entry(k).or_insert_with(|| Value::from(name.clone()));
            }
            for k in CONTROLLER_UID_LABELS {
                l.entry(k).or_insert_with(|| Value::from(uid.clone()));
            }
        }
    }
    if let Some(ml) = crate::json::ensure_obj(spec, "selector").and_then(|s| {
        let slot = s
            .entry("matchLabels")
            .or_insert_with(|| Value::Object(Map::new()));
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        slot.as_object_mut()
    }) {
        ml.entry(CONTROLLER_UID_LABELS[1])
            .or_insert_with(|| Value::from(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_spec(rp: &str) -> Value {
        json!({"restartPolicy": rp, "dnsPolicy": "ClusterFirst", "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]})
    }

    fn msgs(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn job_table() {
        let mut job = json!({"metadata": {"name": "pi", "namespace": "d", "uid": "u-1"}, "spec": {"template": {"spec": pod_spec("Never")}, "backoffLimit": 6}});
        assert_eq!(
            msgs(validate_job(&job)),
            vec!["spec.selector: Required value"]
        );
        generate_job_selector(&mut job);
        assert_eq!(
            job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u-1"
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["job-name"],
            "pi"
        );
        assert!(validate_job(&job).is_empty(), "{:?}", validate_job(&job));
        let mut bad = job.clone();
        bad["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        bad["spec"]["parallelism"] = json!(-1);
        assert_eq!(
            msgs(validate_job(&bad)),
            vec![
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
            ]
        );
        bad["spec"]["template"]["spec"]["restartPolicy"] = json!("Sometimes");
        bad["spec"]["parallelism"] = json!(1);
        assert_eq!(
            msgs(validate_job(&bad)),
            vec![
                // The pod template's own check, then the Job's (as upstream).
                "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"",
            ]
        );
        let mut upd = job.clone();
        upd["spec"]["template"]["spec"]["containers"][0]["image"] = json!("alpine");
        assert_eq!(validate_job_update(&upd, &job)[0].field, "spec.template");
    }

    fn indexed_job(extra: Value) -> Value {
        let mut job = json!({"metadata": {"name": "pi", "namespace": "d", "uid": "u-1"},
            "spec": {"completions": 5, "completionMode": "Indexed",
                     "template": {"spec": pod_spec("Never")}}});
        for (k, v) in extra.as_object().expect("object") {
            job["spec"][k] = v.clone();
        }
        generate_job_selector(&mut job);
        job
    }

    #[test]
    fn per_index_limits_need_indexed_jobs_and_stay_bounded() {
        assert!(msgs(validate_job(&indexed_job(
            json!({"backoffLimitPerIndex": 1, "maxFailedIndexes": 5})
        )))
        .is_empty());
        assert_eq!(
            msgs(validate_job(&indexed_job(json!({"maxFailedIndexes": 6})))),
            vec![
                "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
                "spec.maxFailedIndexes: Invalid value: 6: must be less than or equal to completions",
            ]
        );
        assert_eq!(
            msgs(validate_job(&indexed_job(
                json!({"completionMode": "NonIndexed", "backoffLimitPerIndex": -1})
            ))),
            vec![
                "spec.backoffLimitPerIndex: Invalid value: -1: must be greater than or equal to 0",
                "spec.backoffLimitPerIndex: Invalid value: -1: requires indexed completion mode",
            ]
        );
        assert_eq!(
            msgs(validate_job(&indexed_job(
                json!({"completions": 200000, "parallelism": 20000, "backoffLimitPerIndex": 1})
            ))),
            vec![
                "spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",
                "spec.parallelism: Invalid value: 20000: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
            ]
        );
    }

    #[test]
    fn pod_failure_policy_rules() {
        let policy = |rules: Value| indexed_job(json!({"podFailurePolicy": {"rules": rules}}));
        assert!(msgs(validate_job(&policy(json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In", "values": [1, 42]}}
        ]))))
        .is_empty());
        assert_eq!(
            msgs(validate_job(&policy(json!([
                {"action": "FailIndex", "onExitCodes": {"containerName": "x", "operator": "In", "values": [3, 0, 3]}},
                {"action": "Retry", "onExitCodes": {"operator": "Maybe", "values": []},
                 "onPodConditions": [{"type": "Ready", "status": "Perhaps"}]},
                {"action": "Count"}
            ])))),
            vec![
                "spec.podFailurePolicy.rules[0].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
                "spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: \"x\": must be one of the container or initContainer names in the pod template",
                "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
                "spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 3",
                "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [3,0,3]: must be ordered",
                "spec.podFailurePolicy.rules[1].action: Unsupported value: \"Retry\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"",
                "spec.podFailurePolicy.rules[1].onExitCodes.operator: Unsupported value: \"Maybe\": supported values: \"In\", \"NotIn\"",
                "spec.podFailurePolicy.rules[1].onExitCodes.values: Invalid value: []: at least one value is required",
                "spec.podFailurePolicy.rules[1].onPodConditions[0].status: Unsupported value: \"Perhaps\": supported values: \"False\", \"True\", \"Unknown\"",
                "spec.podFailurePolicy.rules[1]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
                "spec.podFailurePolicy.rules[2]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
            ]
        );
        let mut on_failure = policy(json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
        ]));
        on_failure["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
        on_failure["spec"]["podReplacementPolicy"] = json!("TerminatingOrFailed");
        assert_eq!(
            msgs(validate_job(&on_failure)),
            vec![
                "spec.podReplacementPolicy: Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\"",
                "spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified",
            ]
        );
    }

    #[test]
    fn cron_job_table() {
        let cj = |schedule: &str| json!({"metadata": {"name": "c"}, "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "jobTemplate": {"spec": {"template": {"spec": pod_spec("OnFailure")}}}}});
        assert!(validate_cron_job(&cj("*/1 * * * *")).is_empty());
        assert_eq!(msgs(validate_cron_job(&cj("bogus"))), vec!["spec.schedule: Invalid value: \"bogus\": expected exactly 5 fields, found 1: [bogus]"]);
        assert_eq!(msgs(validate_cron_job(&cj("TZ=UTC 0 * * * *"))), vec!["spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"]);
        assert_eq!(
            msgs(validate_cron_job(&cj(""))),
            vec!["spec.schedule: Required value"]
        );
        let mut long = cj("@daily");
        long["metadata"]["name"] = json!("a".repeat(53));
        assert_eq!(
            validate_cron_job(&long)[0].detail,
            "must be no more than 52 characters"
        );
    }
}
