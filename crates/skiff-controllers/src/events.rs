//! Emitting core/v1 Events about the objects controllers manage, correlated as
//! client-go's recorder does: a repeat of an event (same object, type, reason and message)
//! bumps the existing Event's `count` and `lastTimestamp` (kubectl shows "x3 over 2m")
//! instead of creating a new one, and a per-object spam filter (a burst of 25, then one
//! every 5 minutes) bounds how many writes a level-triggered loop that repeats the same
//! verdict can cause.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Most events (and objects) remembered before the memory is reset.
const MAX_REMEMBERED: usize = 10_000;
/// Events one object may get at once (client-go's spam filter burst).
const SPAM_BURST: f64 = 25.0;
/// One more event per object per this long after the burst (client-go: 1 per 300 s).
const SPAM_REFILL: Duration = Duration::from_secs(300);

/// An Event already written, for bumping its count.
struct Written {
    name: String,
    namespace: String,
    count: i32,
}

/// A token bucket per object.
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Budget {
    /// Take a token if one is left after refilling for the time since the last take.
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        self.tokens = (self.tokens + refill).min(SPAM_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What to write for one emitted event.
enum Write {
    Create,
    Bump {
        name: String,
        namespace: String,
        count: i32,
    },
    Drop,
}

/// Creates and updates Events for one component.
pub struct Recorder {
    client: Client,
    component: String,
    written: Mutex<HashMap<String, Written>>,
    budgets: Mutex<HashMap<String, Budget>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recorder {
    /// A recorder reporting as `component` ("persistentvolume-controller").
    pub fn new(client: Client, component: impl Into<String>) -> Recorder {
        Recorder {
            client,
            component: component.into(),
            written: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
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

    /// Decide, under the locks, whether this event is new, a repeat or spam.
    fn plan(&self, object: &str, key: &str, now: Instant) -> Write {
        {
            let mut budgets = lock(&self.budgets);
            if budgets.len() >= MAX_REMEMBERED {
                budgets.clear();
            }
            let budget = budgets.entry(object.to_string()).or_insert(Budget {
                tokens: SPAM_BURST,
                at: now,
            });
            if !budget.take(now) {
                return Write::Drop;
            }
        }
        let mut written = lock(&self.written);
        if written.len() >= MAX_REMEMBERED {
            written.clear();
        }
        match written.get_mut(key) {
            Some(w) => {
                w.count += 1;
                Write::Bump {
                    name: w.name.clone(),
                    namespace: w.namespace.clone(),
                    count: w.count,
                }
            }
            None => Write::Create,
        }
    }

    async fn emit<K>(&self, obj: &K, type_: &str, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        let uid = obj.uid().unwrap_or_default();
        let object = format!("{}\0{}\0{uid}", K::kind(&()), obj.name_any());
        let key = format!("{object}\0{type_}\0{reason}\0{message}");
        let now = Timestamp::now();
        match self.plan(&object, &key, Instant::now()) {
            Write::Drop => return,
            Write::Bump {
                name,
                namespace,
                count,
            } => {
                let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
                let patch = json!({"count": count, "lastTimestamp": Time(now)});
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => return,
                    // Expired or deleted meanwhile: write it anew.
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        lock(&self.written).remove(&key);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, reason, "updating an event");
                        return;
                    }
                }
            }
            Write::Create => {}
        }
        let ns = obj.namespace().unwrap_or_else(|| "default".into());
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}.{:x}{:x}", obj.name_any(), now.as_nanosecond(), seq);
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
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
        match api.create(&PostParams::default(), &ev).await {
            Ok(_) => {
                lock(&self.written).insert(
                    key,
                    Written {
                        name,
                        namespace: ns,
                        count: 1,
                    },
                );
            }
            Err(e) => tracing::warn!(error = %e, reason, "emitting an event"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spam_filter_allows_a_burst_then_one_per_refill() {
        let t0 = Instant::now();
        let mut b = Budget {
            tokens: SPAM_BURST,
            at: t0,
        };
        for _ in 0..25 {
            assert!(b.take(t0));
        }
        assert!(!b.take(t0), "burst used up");
        assert!(!b.take(t0 + Duration::from_secs(100)));
        assert!(b.take(t0 + SPAM_REFILL + Duration::from_secs(1)));
        assert!(!b.take(t0 + SPAM_REFILL + Duration::from_secs(2)));
    }
}
