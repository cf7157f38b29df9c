//! batch/v1 Job and CronJob validation (`pkg/apis/batch/validation`).

use serde_json::{Map, Value};

use crate::cron::parse_standard;
use crate::error::FieldError;
use crate::json::{bool_at, child, has, str_or_empty};
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
    ] {
        errs.extend(nonnegative(spec, f, path));
    }
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
    if let Some(p) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if !matches!(p, "TerminatingOrFailed" | "Failed") {
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
    if !matches!(rp, "OnFailure" | "Never") {
        errs.push(FieldError::not_supported(
            child(&tpath, "spec.restartPolicy"),
            rp,
            &["OnFailure", "Never"],
        ));
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
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
            ]
        );
        let mut upd = job.clone();
        upd["spec"]["template"]["spec"]["containers"][0]["image"] = json!("alpine");
        assert_eq!(validate_job_update(&upd, &job)[0].field, "spec.template");
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
