//! core/v1 Events about pods, worded as the kubelet words them. Repeats of the same event
//! bump `count` and `lastTimestamp` instead of creating new objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Informational.
    Normal,
    /// Something went wrong.
    Warning,
}

/// Emits Events for one node's pods. Failures are logged, never fatal: events are best effort.
#[derive(Clone)]
pub struct EventRecorder {
    client: Client,
    host: String,
    seen: Arc<Mutex<HashMap<(String, String, String, String), (String, i32)>>>,
}

impl EventRecorder {
    /// A recorder reporting as `kubelet` on `host`.
    pub fn new(client: Client, host: impl Into<String>) -> Self {
        EventRecorder {
            client,
            host: host.into(),
            seen: Arc::default(),
        }
    }

    /// Forget the repeat counters of a pod that is gone.
    pub fn forget(&self, pod_uid: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| k.0 != pod_uid);
    }

    /// Record an event about `pod` (optionally about one of its containers, as `fieldPath`).
    pub async fn pod_event(
        &self,
        pod: &Pod,
        container: Option<&str>,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let field_path = container.map(|c| {
            let init = pod
                .spec
                .as_ref()
                .and_then(|s| s.init_containers.as_ref())
                .is_some_and(|ics| ics.iter().any(|i| i.name == c));
            if init {
                format!("spec.initContainers{{{c}}}")
            } else {
                format!("spec.containers{{{c}}}")
            }
        });
        let key = (
            uid.clone(),
            field_path.clone().unwrap_or_default(),
            reason.to_string(),
            message.to_string(),
        );
        let now = chrono::Utc::now();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let existing = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some((ev_name, count)) = existing {
            let patch =
                serde_json::json!({"count": count + 1, "lastTimestamp": crate::time::now()});
            if api
                .patch(&ev_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                self.seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, (ev_name, count + 1));
                return;
            }
        }
        let ev_name = format!("{name}.{:x}", now.timestamp_nanos_opt().unwrap_or_default());
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(ev_name.clone()),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(name),
                namespace: Some(ns),
                uid: Some(uid),
                resource_version: pod.metadata.resource_version.clone(),
                field_path,
            },
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: Some(self.host.clone()),
            }),
            reporting_component: Some("kubelet".into()),
            reporting_instance: Some(self.host.clone()),
            count: Some(1),
            first_timestamp: Some(crate::time::now()),
            last_timestamp: Some(crate::time::now()),
            event_time: None::<MicroTime>,
            type_: Some(match kind {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &ev).await {
            Ok(_) => {
                self.seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, (ev_name, 1));
            }
            Err(e) => tracing::debug!(error = %e, reason, "event not recorded"),
        }
    }
}
