//! Building the Events the scheduler emits (Scheduled, FailedScheduling, Preempted).

use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use std::sync::atomic::{AtomicU64, Ordering};

/// The component name upstream's scheduler reports.
pub const COMPONENT: &str = "default-scheduler";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// An Event about `pod`; `type_` is "Normal" or "Warning".
pub fn pod_event(pod: &PodInfo, type_: &str, reason: &str, action: &str, message: String) -> Event {
    let now = Timestamp::now();
    // Names must be unique per namespace; upstream appends a hex timestamp, and the
    // counter keeps two events within one nanosecond tick apart.
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let name = format!("{}.{:x}{:x}", pod.name, now.as_nanosecond(), seq);
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(pod.namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()).filter(|u| !u.is_empty()),
            ..Default::default()
        },
        type_: Some(type_.into()),
        reason: Some(reason.into()),
        action: Some(action.into()),
        message: Some(message),
        source: Some(EventSource {
            component: Some(COMPONENT.into()),
            host: None,
        }),
        reporting_component: Some(COMPONENT.into()),
        reporting_instance: Some(COMPONENT.into()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        count: Some(1),
        ..Default::default()
    }
}

/// Upstream's success message.
pub fn scheduled_message(pod: &PodInfo, node: &str) -> String {
    format!(
        "Successfully assigned {}/{} to {}",
        pod.namespace, pod.name, node
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::pod;

    #[test]
    fn scheduled_event_reads_like_upstream() {
        let p = pod("web", 0, 0);
        let ev = pod_event(
            &p,
            "Normal",
            "Scheduled",
            "Binding",
            scheduled_message(&p, "n1"),
        );
        assert_eq!(
            ev.message.as_deref(),
            Some("Successfully assigned default/web to n1")
        );
        assert_eq!(ev.involved_object.name.as_deref(), Some("web"));
        assert_eq!(
            ev.source.and_then(|s| s.component).as_deref(),
            Some("default-scheduler")
        );
        let other = pod_event(&p, "Normal", "Scheduled", "Binding", String::new());
        assert_ne!(ev.metadata.name, other.metadata.name);
    }
}
