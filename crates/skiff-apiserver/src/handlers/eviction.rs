//! The rules of the pods/eviction subresource, without I/O: which pods a budget guards,
//! when a budget lets a pod go (and what it records), as upstream's EvictionREST decides.

use serde_json::{json, Value};
use skiff_api::{meta, ApiError, Cause};

/// More pending evictions than this in one budget means its controller is not keeping up.
const MAX_DISRUPTED_PODS: usize = 2000;

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Finished, not yet running, or already being deleted: evicting such a pod disrupts
/// nothing, so budgets are not consulted.
pub fn can_ignore_budgets(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending")
        || pod.pointer("/metadata/deletionTimestamp").is_some()
}

/// Whether `pdb` guards `pod`. Unlike the controller, the eviction path lets a budget with
/// an empty selector match nothing, as upstream does.
pub fn selects(pdb: &Value, pod: &Value) -> bool {
    let sel = pdb
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or(Value::Null);
    skiff_selectors::LabelSelector::from_json(&sel)
        .map(|s| !s.is_empty() && s.matches(meta::labels(pod)))
        .unwrap_or(false)
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True")))
}

fn int(v: &Value, path: &str) -> i64 {
    v.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

fn budget_error(message: String, retry_after: Option<u32>) -> ApiError {
    let mut e = ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        0,
    );
    e.retry_after = retry_after;
    e.causes = vec![Cause {
        reason: "DisruptionBudget".into(),
        message,
        field: String::new(),
    }];
    e
}

/// Decide an eviction of pod `name` under `pdb`: an error when the budget forbids it,
/// `None` when the pod may go without using the budget (an unhealthy pod, per
/// unhealthyPodEvictionPolicy), or the budget with one disruption used and the pod recorded
/// in `status.disruptedPods`.
pub fn check_and_decrement(
    pdb: &Value,
    pod: &Value,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    let pdb_name = meta::name(pdb).unwrap_or("");
    let desired = int(pdb, "/status/desiredHealthy");
    let healthy = int(pdb, "/status/currentHealthy");
    if !is_ready(pod) {
        let policy = pdb
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str)
            .unwrap_or("IfHealthyBudget");
        // An unready pod does not count as healthy: taking it away costs the budget nothing
        // when the budget is met anyway, or always under AlwaysAllow.
        if policy == "AlwaysAllow" || (healthy >= desired && desired > 0) {
            return Ok(None);
        }
    }
    let generation = pdb
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if int(pdb, "/status/observedGeneration") < generation {
        return Err(budget_error(
            format!("The disruption budget {pdb_name} is still being processed by the server."),
            Some(10),
        ));
    }
    let allowed = int(pdb, "/status/disruptionsAllowed");
    if allowed < 0 {
        return Err(ApiError::forbidden(format!(
            "poddisruptionbudgets.policy \"{pdb_name}\" is forbidden: pdb disruptions allowed is negative"
        )));
    }
    let pending = pdb
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len());
    if pending > MAX_DISRUPTED_PODS {
        return Err(ApiError::forbidden(format!(
            "poddisruptionbudgets.policy \"{pdb_name}\" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller"
        )));
    }
    if allowed == 0 {
        return Err(budget_error(
            format!(
                "The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently"
            ),
            None,
        ));
    }
    let mut updated = pdb.clone();
    updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
    if !updated["status"]["disruptedPods"].is_object() {
        updated["status"]["disruptedPods"] = json!({});
    }
    updated["status"]["disruptedPods"][name] = json!(meta::now_rfc3339());
    Ok(Some(updated))
}

/// Set the pod's DisruptionTarget condition (reason EvictionByEvictionAPI).
pub fn add_disruption_target(pod: &mut Value, now: &str) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    if !pod["status"]["conditions"].is_array() {
        pod["status"]["conditions"] = json!([]);
    }
    if let Some(list) = pod["status"]["conditions"].as_array_mut() {
        list.retain(|c| c.get("type") != Some(&json!("DisruptionTarget")));
        list.push(json!({"type": "DisruptionTarget", "status": "True",
            "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting",
            "lastTransitionTime": now, "lastProbeTime": null}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdb(status: Value) -> Value {
        json!({"metadata": {"name": "web", "generation": 2},
               "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
               "status": status})
    }

    fn pod(ready: bool) -> Value {
        json!({"metadata": {"name": "p", "labels": {"app": "web"}},
               "status": {"phase": "Running", "conditions": [
                   {"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    #[test]
    fn budgets_guard_running_pods_they_select() {
        let b = pdb(json!({}));
        assert!(selects(&b, &pod(true)));
        assert!(!selects(&json!({"spec": {"selector": {}}}), &pod(true)));
        assert!(!can_ignore_budgets(&pod(true)));
        assert!(can_ignore_budgets(&json!({"status": {"phase": "Pending"}})));
        assert!(can_ignore_budgets(
            &json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}, "status": {"phase": "Running"}})
        ));
    }

    #[test]
    fn an_exhausted_budget_refuses_with_429_and_the_numbers() {
        let b = pdb(json!({"observedGeneration": 2, "disruptionsAllowed": 0,
                           "desiredHealthy": 2, "currentHealthy": 2}));
        let e = check_and_decrement(&b, &pod(true), "p").expect_err("refused");
        assert_eq!(e.code, 429);
        assert_eq!(
            e.message,
            "Cannot evict pod as it would violate the pod's disruption budget."
        );
        assert_eq!(
            e.causes[0].message,
            "The disruption budget web needs 2 healthy pods and has 2 currently"
        );
        let stale = pdb(json!({"observedGeneration": 1, "disruptionsAllowed": 1}));
        let e = check_and_decrement(&stale, &pod(true), "p").expect_err("refused");
        assert_eq!(
            e.causes[0].message,
            "The disruption budget web is still being processed by the server."
        );
        let negative = pdb(json!({"observedGeneration": 2, "disruptionsAllowed": -1}));
        assert_eq!(
            check_and_decrement(&negative, &pod(true), "p")
                .expect_err("refused")
                .code,
            403
        );
    }

    #[test]
    fn an_allowed_eviction_uses_one_disruption_and_records_the_pod() {
        let b = pdb(json!({"observedGeneration": 2, "disruptionsAllowed": 1,
                           "desiredHealthy": 1, "currentHealthy": 2}));
        let updated = check_and_decrement(&b, &pod(true), "p")
            .expect("allowed")
            .expect("decremented");
        assert_eq!(updated["status"]["disruptionsAllowed"], json!(0));
        assert!(updated["status"]["disruptedPods"]["p"].is_string());
    }

    #[test]
    fn unhealthy_pods_follow_the_unhealthy_pod_eviction_policy() {
        // The budget is met: an unready pod goes without using it.
        let met = pdb(json!({"observedGeneration": 2, "disruptionsAllowed": 0,
                             "desiredHealthy": 1, "currentHealthy": 1}));
        assert_eq!(
            check_and_decrement(&met, &pod(false), "p").expect("ok"),
            None
        );
        // Not met: IfHealthyBudget refuses, AlwaysAllow lets it go.
        let unmet = pdb(json!({"observedGeneration": 2, "disruptionsAllowed": 0,
                               "desiredHealthy": 2, "currentHealthy": 1}));
        assert!(check_and_decrement(&unmet, &pod(false), "p").is_err());
        let mut always = unmet.clone();
        always["spec"]["unhealthyPodEvictionPolicy"] = json!("AlwaysAllow");
        assert_eq!(
            check_and_decrement(&always, &pod(false), "p").expect("ok"),
            None
        );
    }

    #[test]
    fn evicted_pods_carry_the_disruption_target_condition() {
        let mut p = pod(true);
        add_disruption_target(&mut p, "2025-01-01T00:00:00Z");
        let c = &p["status"]["conditions"][1];
        assert_eq!(c["type"], "DisruptionTarget");
        assert_eq!(c["reason"], "EvictionByEvictionAPI");
        assert_eq!(c["message"], "Eviction API: evicting");
    }
}
