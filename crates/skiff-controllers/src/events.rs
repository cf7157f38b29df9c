//! Emitting core/v1 Events about the objects controllers manage.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Most distinct events remembered for de-duplication before the memory is reset.
const MAX_REMEMBERED: usize = 10_000;

/// Creates Events for one component; an identical event (same object, reason and
/// message) is emitted once, because level-triggered reconciles repeat their verdicts.
pub struct Recorder {
    client: Client,
    component: String,
    seen: Mutex<HashSet<String>>,
}

impl Recorder {
    /// A recorder reporting as `component` ("persistentvolume-controller").
    pub fn new(client: Client, component: impl Into<String>) -> Recorder {
        Recorder {
            client,
            component: component.into(),
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// Emit a Normal event.
    pub async fn normal<K>(&self, obj: &K, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        self.emit(obj, "Normal", reason, message).await
    }

    /// Emit a Warning event.
    pub async fn warning<K>(&self, obj: &K, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        self.emit(obj, "Warning", reason, message).await
    }

    async fn emit<K>(&self, obj: &K, type_: &str, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        let uid = obj.uid().unwrap_or_default();
        let key = format!("{uid}\0{reason}\0{message}");
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() >= MAX_REMEMBERED {
                seen.clear();
            }
            if !seen.insert(key) {
                return;
            }
        }
        let ns = obj.namespace().unwrap_or_else(|| "default".into());
        let now = Timestamp::now();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}{:x}",
                    obj.name_any(),
                    now.as_nanosecond(),
                    seq
                )),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(obj.name_any()),
                namespace: obj.namespace(),
                uid: Some(uid).filter(|u| !u.is_empty()),
                resource_version: obj.resource_version(),
                ..Default::default()
            },
            type_: Some(type_.into()),
            reason: Some(reason.into()),
            message: Some(message.into()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.component.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            count: Some(1),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        if let Err(e) = api.create(&PostParams::default(), &ev).await {
            tracing::warn!(error = %e, reason, "emitting an event");
        }
    }
}
