//! apps/v1 and batch/v1 defaults.

use serde_json::{json, Value};

use super::pod::default_pod_spec;
use crate::json::{ensure_obj, set_default};

/// Defaults `template.spec` under `holder` (a workload spec or a job template spec).
pub(crate) fn default_template(holder: &mut Value) {
    if let Some(spec) = holder.get_mut("template").and_then(|t| t.get_mut("spec")) {
        default_pod_spec(spec);
    }
}

/// Deployment: replicas 1, RollingUpdate 25%/25%, history 10, deadline 600.
pub fn default_deployment(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    if let Some(strategy) = ensure_obj(spec, "strategy") {
        let ty = strategy.entry("type").or_insert(json!("RollingUpdate"));
        if ty.is_null() || ty.as_str() == Some("") {
            *ty = json!("RollingUpdate");
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = strategy.entry("rollingUpdate").or_insert(json!({}));
            if ru.is_null() {
                *ru = json!({});
            }
            set_default(ru, "maxUnavailable", json!("25%"));
            set_default(ru, "maxSurge", json!("25%"));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    default_template(spec);
}

/// ReplicaSet: replicas 1.
pub fn default_replica_set(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    default_template(spec);
}

/// StatefulSet: OrderedReady, RollingUpdate partition 0, Retain/Retain, replicas 1, history 10.
pub fn default_stateful_set(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(us) = ensure_obj(spec, "updateStrategy") {
        if us
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            us.insert("type".into(), json!("RollingUpdate"));
            if us.get("rollingUpdate").is_none_or(Value::is_null) {
                us.insert("rollingUpdate".into(), json!({}));
            }
        }
        if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(ru) = us.get_mut("rollingUpdate").filter(|r| r.is_object()) {
                set_default(ru, "partition", json!(0));
            }
        }
    }
    if let Some(p) = ensure_obj(spec, "persistentVolumeClaimRetentionPolicy") {
        for f in ["whenDeleted", "whenScaled"] {
            if p.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                p.insert(f.into(), json!("Retain"));
            }
        }
    }
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    if let Some(Value::Array(vcts)) = spec.get_mut("volumeClaimTemplates") {
        for pvc in vcts.iter_mut() {
            super::core::default_pvc(pvc);
        }
    }
    default_template(spec);
}

/// DaemonSet: RollingUpdate maxUnavailable 1 maxSurge 0, history 10.
pub fn default_daemon_set(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    if let Some(us) = ensure_obj(spec, "updateStrategy") {
        if us
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            us.insert("type".into(), json!("RollingUpdate"));
        }
        if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = us.entry("rollingUpdate").or_insert(json!({}));
            if ru.is_null() {
                *ru = json!({});
            }
            set_default(ru, "maxUnavailable", json!(1));
            set_default(ru, "maxSurge", json!(0));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    default_template(spec);
}

/// Job: completions/parallelism 1, backoffLimit 6, NonIndexed, suspend false,
/// podReplacementPolicy, and labels copied from the template when absent.
pub fn default_job(obj: &mut Value) {
    let template_labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(labels) = template_labels {
        if let Some(meta) = ensure_obj(obj, "metadata") {
            let empty = meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty());
            if empty {
                meta.insert("labels".into(), labels);
            }
        }
    }
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    default_job_spec(spec);
}

fn default_job_spec(spec: &mut Value) {
    let absent = |s: &Value, k: &str| s.get(k).is_none_or(Value::is_null);
    if absent(spec, "completions") && absent(spec, "parallelism") {
        set_default(spec, "completions", json!(1));
    }
    set_default(spec, "parallelism", json!(1));
    let per_index = !absent(spec, "backoffLimitPerIndex");
    set_default(
        spec,
        "backoffLimit",
        json!(if per_index { i64::from(i32::MAX) } else { 6 }),
    );
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    let has_failure_policy = !absent(spec, "podFailurePolicy");
    set_default(
        spec,
        "podReplacementPolicy",
        json!(if has_failure_policy {
            "Failed"
        } else {
            "TerminatingOrFailed"
        }),
    );
    if let Some(Value::Array(rules)) = spec
        .get_mut("podFailurePolicy")
        .and_then(|p| p.get_mut("rules"))
    {
        for r in rules.iter_mut() {
            if let Some(Value::Array(conds)) = r.get_mut("onPodConditions") {
                for c in conds.iter_mut() {
                    set_default(c, "status", json!("True"));
                }
            }
        }
    }
    default_template(spec);
}

/// CronJob: Allow, suspend false, history 3/1; the job template's pod spec defaults.
pub fn default_cron_job(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "concurrencyPolicy", json!("Allow"));
    set_default(spec, "suspend", json!(false));
    set_default(spec, "successfulJobsHistoryLimit", json!(3));
    set_default(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(jspec) = spec.get_mut("jobTemplate").and_then(|j| j.get_mut("spec")) {
        default_template(jspec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults() {
        let mut d = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}});
        default_deployment(&mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        let mut recreate = json!({"spec": {"strategy": {"type": "Recreate"}}});
        default_deployment(&mut recreate);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
        let mut partial =
            json!({"spec": {"replicas": 3, "strategy": {"rollingUpdate": {"maxSurge": 2}}}});
        default_deployment(&mut partial);
        assert_eq!(partial["spec"]["replicas"], 3);
        assert_eq!(
            partial["spec"]["strategy"]["rollingUpdate"],
            json!({"maxSurge": 2, "maxUnavailable": "25%"})
        );
    }

    #[test]
    fn statefulset_and_daemonset_defaults() {
        let mut s = json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}});
        default_stateful_set(&mut s);
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            s["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            s["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        let mut d = json!({"spec": {}});
        default_daemon_set(&mut d);
        assert_eq!(
            d["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        let mut ondelete = json!({"spec": {"updateStrategy": {"type": "OnDelete"}}});
        default_daemon_set(&mut ondelete);
        assert_eq!(
            ondelete["spec"]["updateStrategy"],
            json!({"type": "OnDelete"})
        );
    }

    #[test]
    fn job_defaults() {
        let mut j = json!({"spec": {"template": {"metadata": {"labels": {"app": "pi"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}}});
        default_job(&mut j);
        let spec = &j["spec"];
        assert_eq!(
            (
                spec["completions"].clone(),
                spec["parallelism"].clone(),
                spec["backoffLimit"].clone()
            ),
            (json!(1), json!(1), json!(6))
        );
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert!(spec.get("manualSelector").is_none());
        assert_eq!(j["metadata"]["labels"], json!({"app": "pi"}));
        let mut par = json!({"spec": {"parallelism": 3}});
        default_job(&mut par);
        assert!(
            par["spec"].get("completions").is_none(),
            "completions stay unset when parallelism is given"
        );
        let mut cj = json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}});
        default_cron_job(&mut cj);
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
        assert!(cj["spec"]["jobTemplate"]["spec"]
            .get("backoffLimit")
            .is_none());
    }
}
