//! The Priority admission plugin on pod create: `priorityClassName` (or, without one, the
//! global default class) becomes `spec.priority` and `spec.preemptionPolicy`; unknown
//! classes and hand-written values that disagree with the class are refused, as upstream.

use serde_json::{json, Value};
use skiff_api::{meta, ApiError};

/// Priority of pods when no class applies (upstream's DefaultPriorityWhenNoDefaultClassExists).
const DEFAULT_PRIORITY: i64 = 0;
/// Preemption policy when the class names none.
const DEFAULT_PREEMPTION: &str = "PreemptLowerPriority";

/// Admit a new pod given every PriorityClass object.
pub fn admit(pod: &mut Value, classes: &[Value]) -> Result<(), ApiError> {
    let name = meta::name(pod).unwrap_or("").to_string();
    let forbidden =
        |reason: String| ApiError::forbidden(format!("pods \"{name}\" is forbidden: {reason}"));
    let class_name = pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let class = if class_name.is_empty() {
        // The global default with the lowest value, as upstream picks among several.
        classes
            .iter()
            .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
            .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0))
    } else {
        let found = classes
            .iter()
            .find(|c| meta::name(c) == Some(class_name.as_str()));
        Some(found.ok_or_else(|| {
            forbidden(format!("no PriorityClass with name {class_name} was found"))
        })?)
    };
    let (priority, policy) = match class {
        Some(c) => (
            c.get("value").and_then(Value::as_i64).unwrap_or(0),
            c.get("preemptionPolicy")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_PREEMPTION)
                .to_string(),
        ),
        None => (DEFAULT_PRIORITY, DEFAULT_PREEMPTION.to_string()),
    };
    let spec = &mut pod["spec"];
    if let Some(given) = spec.get("priority").and_then(Value::as_i64) {
        if given != priority {
            return Err(forbidden(format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            )));
        }
    }
    if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        if given != policy {
            return Err(forbidden(format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            )));
        }
    }
    if let (true, Some(c)) = (class_name.is_empty(), class) {
        spec["priorityClassName"] = json!(meta::name(c).unwrap_or(""));
    }
    spec["priority"] = json!(priority);
    spec["preemptionPolicy"] = json!(policy);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i64, global: bool, policy: Option<&str>) -> Value {
        let mut c = json!({"metadata": {"name": name}, "value": value, "globalDefault": global});
        if let Some(p) = policy {
            c["preemptionPolicy"] = json!(p);
        }
        c
    }

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": spec})
    }

    #[test]
    fn class_names_become_priorities() {
        let classes = [
            class("system-node-critical", 2000001000, false, None),
            class("batch", 100, false, Some("Never")),
        ];
        let mut p = pod(json!({"priorityClassName": "system-node-critical"}));
        admit(&mut p, &classes).expect("admitted");
        assert_eq!(p["spec"]["priority"], 2000001000);
        assert_eq!(p["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        let mut p = pod(json!({"priorityClassName": "batch", "priority": 100}));
        admit(&mut p, &classes).expect("a matching value is fine");
        assert_eq!(p["spec"]["preemptionPolicy"], "Never");
        let mut plain = pod(json!({}));
        admit(&mut plain, &classes).expect("admitted");
        assert_eq!(
            (
                &plain["spec"]["priority"],
                &plain["spec"]["preemptionPolicy"]
            ),
            (&json!(0), &json!("PreemptLowerPriority"))
        );
        assert!(plain["spec"].get("priorityClassName").is_none());
    }

    #[test]
    fn the_lowest_global_default_applies_to_pods_without_a_class() {
        let classes = [
            class("high", 1000, true, None),
            class("low", 10, true, None),
        ];
        let mut p = pod(json!({}));
        admit(&mut p, &classes).expect("admitted");
        assert_eq!(
            (&p["spec"]["priorityClassName"], &p["spec"]["priority"]),
            (&json!("low"), &json!(10))
        );
    }

    #[test]
    fn unknown_classes_and_contradicting_values_are_forbidden() {
        let classes = [class("batch", 100, false, None)];
        let e = admit(&mut pod(json!({"priorityClassName": "gold"})), &classes).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "pods \"p\" is forbidden: no PriorityClass with name gold was found"
        );
        let e = admit(
            &mut pod(json!({"priorityClassName": "batch", "priority": 7})),
            &classes,
        )
        .unwrap_err();
        assert_eq!(e.message, "pods \"p\" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 100 from the given PriorityClass name");
    }
}
