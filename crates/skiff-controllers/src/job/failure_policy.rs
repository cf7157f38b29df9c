//! Matching a failed pod against a Job's `podFailurePolicy` (upstream's
//! matchPodFailurePolicy): the first rule whose exit codes or pod conditions match decides.

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// What the policy says about one failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Set when a FailJob rule matched: the Job's failure message.
    pub fail_job: Option<String>,
    /// Whether the failure counts towards backoffLimit (false for Ignore).
    pub counts: bool,
    /// The matched rule's action, if any rule matched.
    pub action: Option<String>,
}

impl Verdict {
    fn unmatched() -> Verdict {
        Verdict {
            fail_job: None,
            counts: true,
            action: None,
        }
    }
}

/// Match `pod` (already known to be failed) against `policy`.
pub fn evaluate(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Verdict {
    let Some(policy) = policy else {
        return Verdict::unmatched();
    };
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let status = pod.status.as_ref();
    for (index, rule) in policy.rules.iter().enumerate() {
        let failure_message = if let Some(req) = &rule.on_exit_codes {
            let containers = status
                .and_then(|s| s.container_statuses.as_deref())
                .into_iter()
                .chain(status.and_then(|s| s.init_container_statuses.as_deref()))
                .flatten();
            let Some((c, code)) = containers
                .filter_map(|c| exit_code(c).map(|code| (c, code)))
                .find(|(c, code)| exit_code_matches(req, &c.name, *code))
            else {
                continue;
            };
            format!(
                "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {index}",
                c.name, rule.action
            )
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
            let Some(cond) = conditions.iter().find(|c| {
                patterns
                    .iter()
                    .any(|p| p.type_ == c.type_ && p.status == c.status)
            }) else {
                continue;
            };
            format!(
                "Pod {ns}/{name} has condition {} matching {} rule at index {index}",
                cond.type_, rule.action
            )
        } else {
            continue;
        };
        let action = Some(rule.action.clone());
        return match rule.action.as_str() {
            "Ignore" => Verdict {
                fail_job: None,
                counts: false,
                action,
            },
            "FailJob" => Verdict {
                fail_job: Some(failure_message),
                counts: true,
                action,
            },
            // Count, and FailIndex (which only differs with backoffLimitPerIndex).
            _ => Verdict {
                fail_job: None,
                counts: true,
                action,
            },
        };
    }
    Verdict::unmatched()
}

/// A terminated container's non-zero exit code (exit code 0 never matches a rule).
fn exit_code(c: &ContainerStatus) -> Option<i32> {
    let code = c.state.as_ref()?.terminated.as_ref()?.exit_code;
    (code != 0).then_some(code)
}

fn exit_code_matches(req: &PodFailurePolicyOnExitCodesRequirement, name: &str, code: i32) -> bool {
    if req.container_name.as_deref().is_some_and(|n| n != name) {
        return false;
    }
    match req.operator.as_str() {
        "In" => req.values.contains(&code),
        "NotIn" => !req.values.contains(&code),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failed_pod(code: i32, conditions: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "conditions": conditions, "containerStatuses": [{
                "name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": code}}
            }]}
        }))
        .expect("pod")
    }

    fn policy(rules: serde_json::Value) -> PodFailurePolicy {
        serde_json::from_value(json!({ "rules": rules })).expect("policy")
    }

    #[test]
    fn first_matching_rule_decides() {
        let p = policy(json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}}
        ]));
        let v = evaluate(Some(&p), &failed_pod(42, json!([])));
        assert_eq!(
            v.fail_job.as_deref(),
            Some("Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1")
        );
        let v = evaluate(
            Some(&p),
            &failed_pod(42, json!([{"type": "DisruptionTarget", "status": "True"}])),
        );
        assert_eq!((v.counts, v.action.as_deref()), (false, Some("Ignore")));
        let v = evaluate(Some(&p), &failed_pod(3, json!([])));
        assert_eq!((v.counts, v.action.as_deref()), (true, Some("Count")));
        assert_eq!(
            evaluate(Some(&p), &failed_pod(1, json!([]))),
            Verdict::unmatched()
        );
        assert_eq!(
            evaluate(None, &failed_pod(42, json!([]))),
            Verdict::unmatched()
        );
    }

    #[test]
    fn pod_condition_failure_message() {
        let p = policy(json!([
            {"action": "FailJob", "onPodConditions": [{"type": "ConfigIssue", "status": "True"}]}
        ]));
        let v = evaluate(
            Some(&p),
            &failed_pod(1, json!([{"type": "ConfigIssue", "status": "True"}])),
        );
        assert_eq!(
            v.fail_job.as_deref(),
            Some("Pod ns/p has condition ConfigIssue matching FailJob rule at index 0")
        );
    }
}
