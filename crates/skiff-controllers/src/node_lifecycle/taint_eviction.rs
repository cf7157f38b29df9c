//! Taint-based eviction: pods on nodes with NoExecute taints they do not tolerate are
//! deleted at once; pods tolerating them for tolerationSeconds are deleted when that time
//! has passed since the controller saw the taint, unless the taint goes first.

use super::taints::{self, Verdict, NO_EXECUTE};
use crate::events::Recorder;
use crate::pod_state;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// The component name on events.
const COMPONENT: &str = "taint-eviction-controller";
/// How often scheduled evictions and taint changes are looked at.
const TICK: Duration = Duration::from_millis(500);

/// The eviction loop and the deletions it has scheduled.
pub struct TaintEviction {
    client: Client,
    nodes: Store<Node>,
    pods: Store<Pod>,
    /// `namespace/name` → when the pod is to be deleted.
    scheduled: HashMap<String, Instant>,
    events: Recorder,
}

fn key(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

impl TaintEviction {
    /// An eviction loop over the shared caches.
    pub fn new(client: Client, nodes: Store<Node>, pods: Store<Pod>) -> TaintEviction {
        TaintEviction {
            events: Recorder::new(client.clone(), COMPONENT),
            client,
            nodes,
            pods,
            scheduled: HashMap::new(),
        }
    }

    /// Run forever.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.pass().await;
        }
    }

    async fn pass(&mut self) {
        let tainted: HashMap<String, Vec<Taint>> = self
            .nodes
            .state()
            .iter()
            .filter_map(|n| {
                let t: Vec<Taint> = n
                    .spec
                    .as_ref()?
                    .taints
                    .iter()
                    .flatten()
                    .filter(|t| t.effect == NO_EXECUTE)
                    .cloned()
                    .collect();
                (!t.is_empty()).then(|| (n.name_any(), t))
            })
            .collect();
        if tainted.is_empty() && self.scheduled.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut visited = HashSet::new();
        for pod in self.pods.state() {
            let Some(node_taints) = tainted.get(pod_state::node(&pod)) else {
                continue;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let k = key(&pod);
            let tolerations = pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.clone())
                .unwrap_or_default();
            match taints::verdict(&tolerations, node_taints) {
                Verdict::Stay => {}
                Verdict::Evict => {
                    self.scheduled.remove(&k);
                    self.evict(&pod).await;
                }
                Verdict::EvictAfter(wait) => {
                    visited.insert(k.clone());
                    // A deletion already scheduled earlier stands (upstream keeps the
                    // first trigger unless a new one comes sooner).
                    let at = self.scheduled.entry(k.clone()).or_insert(now + wait);
                    if *at > now + wait {
                        *at = now + wait;
                    }
                    if *at <= now {
                        self.scheduled.remove(&k);
                        self.evict(&pod).await;
                    }
                }
            }
        }
        let cancelled: Vec<String> = self
            .scheduled
            .keys()
            .filter(|k| !visited.contains(*k))
            .cloned()
            .collect();
        for k in cancelled {
            self.scheduled.remove(&k);
            let pod = self.pods.state().into_iter().find(|p| key(p) == k);
            if let Some(pod) = pod.filter(|p| p.metadata.deletion_timestamp.is_none()) {
                self.events
                    .normal(
                        pod.as_ref(),
                        "TaintManagerEviction",
                        &format!("Cancelling deletion of Pod {k}"),
                    )
                    .await;
            }
        }
    }

    /// Mark the pod with the DisruptionTarget condition, then delete it.
    async fn evict(&self, pod: &Pod) {
        let k = key(pod);
        tracing::info!(pod = %k, "deleting pod for a NoExecute taint");
        self.events
            .normal(
                pod,
                "TaintManagerEviction",
                &format!("Marking for deletion Pod {k}"),
            )
            .await;
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let condition = json!({"status": {"conditions": [{
            "type": "DisruptionTarget", "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": Time(Timestamp::now()),
        }]}});
        if let Err(e) = api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(&condition),
            )
            .await
        {
            tracing::debug!(pod = %k, error = %e, "adding the DisruptionTarget condition");
        }
        match api.delete(&pod.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => tracing::warn!(pod = %k, error = %e, "taint eviction failed; retrying"),
        }
    }
}
