//! The `endpoints.kubernetes.io/last-change-trigger-time` of a Service's endpoints
//! (upstream's TriggerTimeTracker): the earliest time among the changes this sync observes
//! for the first time — a pod's Ready transition, or the Service's creation when the
//! Service is new to the tracker. Nothing new observed: no time (the annotation goes).

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::Mutex;

/// The annotation the time is written to.
pub const ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

#[derive(Default)]
struct Seen {
    service: Option<Timestamp>,
    pods: HashMap<String, Option<Timestamp>>,
}

/// Per-Service memory of the trigger times already observed.
#[derive(Default)]
pub struct Tracker {
    seen: Mutex<HashMap<String, Seen>>,
}

/// When a pod last changed in a way that matters to endpoints: its Ready transition.
fn pod_trigger(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

impl Tracker {
    /// The trigger time for this sync of `svc` over `pods`, remembering what was seen.
    pub fn compute(&self, svc: &Service, pods: &[&Pod]) -> Option<Timestamp> {
        let key = format!("{}/{}", svc.namespace().unwrap_or_default(), svc.name_any());
        let mut all = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let seen = all.entry(key).or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut note = |t: Option<Timestamp>| {
            if let Some(t) = t {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
        };
        let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if seen.service != created {
            note(created);
            seen.service = created;
        }
        let mut pods_now = HashMap::with_capacity(pods.len());
        for pod in pods {
            let t = pod_trigger(pod);
            if seen.pods.get(&pod.name_any()) != Some(&t) {
                note(t);
            }
            pods_now.insert(pod.name_any(), t);
        }
        seen.pods = pods_now;
        earliest
    }

    /// Forget a deleted Service.
    pub fn forget(&self, namespace: &str, name: &str) {
        let mut all = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        all.remove(&format!("{namespace}/{name}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_newly_observed_changes_count() {
        let svc: Service = serde_json::from_value(json!({"metadata": {"name": "s",
            "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"}}))
        .expect("svc");
        let pod = |t: &str| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": t}]}}))
            .expect("pod")
        };
        let tr = Tracker::default();
        let p1 = pod("2026-01-01T00:00:05Z");
        assert_eq!(
            tr.compute(&svc, &[&p1]).map(|t| t.to_string()).as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(tr.compute(&svc, &[&p1]), None);
        let p2 = pod("2026-01-01T00:01:00Z");
        assert_eq!(
            tr.compute(&svc, &[&p2]).map(|t| t.to_string()).as_deref(),
            Some("2026-01-01T00:01:00Z")
        );
    }
}
