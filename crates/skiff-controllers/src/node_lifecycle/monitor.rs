//! The periodic node health pass: mark silent nodes Unknown, mark the pods of nodes that
//! stopped being Ready not ready, and keep every node's condition taints in line.

use super::health::{self, Health};
use super::zones::{Limiter, ZoneState, ZONE_LABEL};
use super::{taints, Config};
use crate::events::Recorder;
use crate::pod_state;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use tokio::time::Instant;

/// The component name on events.
const COMPONENT: &str = "node-controller";
/// Where node agents keep their heartbeat Leases.
const LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node health pass and what it remembers between passes.
pub struct Monitor {
    client: Client,
    nodes: Store<Node>,
    leases: Store<Lease>,
    pods: Store<Pod>,
    cfg: Config,
    health: Health,
    /// Each node's Ready status as of the previous pass (a change to not-True marks its
    /// pods not ready).
    ready: HashMap<String, String>,
    /// Whether the previous pass found every node down.
    all_down: bool,
    /// Per zone: its state as of the previous pass and its NoExecute taint limiter.
    zones: HashMap<String, (ZoneState, Limiter)>,
    events: Recorder,
}

impl Monitor {
    /// A monitor over the shared caches.
    pub fn new(
        client: Client,
        nodes: Store<Node>,
        leases: Store<Lease>,
        pods: Store<Pod>,
        cfg: Config,
    ) -> Monitor {
        Monitor {
            events: Recorder::new(client.clone(), COMPONENT),
            client,
            nodes,
            leases,
            pods,
            cfg,
            health: Health::default(),
            ready: HashMap::new(),
            all_down: false,
            zones: HashMap::new(),
        }
    }

    /// Run a pass every monitor period, forever.
    pub async fn run(mut self) {
        // A zero period would spin (and tokio refuses it).
        let period = self
            .cfg
            .monitor_period
            .max(std::time::Duration::from_millis(100));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.pass().await;
        }
    }

    async fn pass(&mut self) {
        let now = Instant::now();
        let wall = Timestamp::now();
        let nodes = self.nodes.state();
        self.health.retain(|name| {
            nodes
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some(name))
        });
        let mut current: Vec<Node> = Vec::with_capacity(nodes.len());
        for node in &nodes {
            let name = node.name_any();
            let renew = self
                .leases
                .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE))
                .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
            let silent = self.health.observe(
                node,
                renew,
                now,
                self.cfg.grace_period,
                self.cfg.startup_grace_period,
            );
            let mut node = node.as_ref().clone();
            if silent {
                if let Some(conditions) = health::unknown_conditions(&node, wall) {
                    match self.write_conditions(&node, conditions).await {
                        Some(updated) => node = updated,
                        None => continue,
                    }
                }
            }
            current.push(node);
        }
        // Every node down at once points at the control plane's own connectivity, not at
        // the nodes: upstream then stops evicting and gives every node a fresh grace period
        // once any comes back.
        let all_down = !current.is_empty()
            && current
                .iter()
                .all(|n| taints::condition_status(n, "Ready") != "True");
        if all_down && !self.all_down {
            tracing::warn!("Controller detected that all Nodes are not-Ready. Entering master disruption mode.");
        } else if !all_down && self.all_down {
            tracing::info!(
                "Controller detected that some Nodes are Ready. Exiting master disruption mode."
            );
            self.health.reset(now);
        }
        self.all_down = all_down;
        self.update_zones(&current);
        for node in &current {
            self.follow_ready(node).await;
            let mut next = taints::reconcile(node, !all_down, wall);
            if next.as_ref().is_some_and(|n| starts_evicting(node, n)) {
                let (_, limiter) = self.zones.entry(zone_of(node)).or_insert_with(|| {
                    (
                        ZoneState::Normal,
                        Limiter::new(self.cfg.rates.eviction_rate),
                    )
                });
                if limiter.try_take(now) {
                    super::zones::record_eviction(&zone_of(node));
                } else {
                    // Rate-limited: no NoExecute taint yet; a later pass adds it.
                    next = taints::reconcile(node, false, wall);
                }
            }
            if let Some(next) = next {
                self.write_taints(node, next).await;
            }
        }
        self.ready.retain(|name, _| {
            current
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some(name))
        });
    }

    /// Recompute every zone's state and set its limiter's rate (upstream's
    /// handleDisruption).
    fn update_zones(&mut self, nodes: &[Node]) {
        let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for node in nodes {
            let c = counts.entry(zone_of(node)).or_default();
            if taints::condition_status(node, "Ready") == "True" {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
        self.zones.retain(|zone, _| counts.contains_key(zone));
        super::zones::record_zones(&counts);
        let rates = &self.cfg.rates;
        for (zone, (ready, not_ready)) in counts {
            let state = rates.zone_state(ready, not_ready);
            let rate = rates.rate(state, ready + not_ready);
            let entry = self
                .zones
                .entry(zone.clone())
                .or_insert_with(|| (ZoneState::Normal, Limiter::new(rate)));
            if entry.0 != state {
                tracing::info!(zone = %zone, ?state, rate, "Controller detected that zone changed state");
            }
            entry.0 = state;
            entry.1.set_rate(rate);
        }
    }

    /// Replace the node's conditions (compare-and-swap: an agent that posted meanwhile is
    /// alive after all). Returns the updated node.
    async fn write_conditions(
        &self,
        node: &Node,
        conditions: Vec<k8s_openapi::api::core::v1::NodeCondition>,
    ) -> Option<Node> {
        let mut next = node.clone();
        next.status
            .get_or_insert_with(NodeStatus::default)
            .conditions = Some(conditions);
        let api: Api<Node> = Api::all(self.client.clone());
        match api
            .replace_status(&node.name_any(), &PostParams::default(), &next)
            .await
        {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::debug!(node = %node.name_any(), error = %e, "marking the node Unknown; retrying next pass");
                None
            }
        }
    }

    async fn write_taints(&self, node: &Node, next: Vec<k8s_openapi::api::core::v1::Taint>) {
        let api: Api<Node> = Api::all(self.client.clone());
        // No taints left: drop the field, as upstream's patch does (not an empty list).
        let taints = if next.is_empty() {
            serde_json::Value::Null
        } else {
            json!(next)
        };
        let patch = json!({
            "metadata": {"resourceVersion": node.resource_version()},
            "spec": {"taints": taints},
        });
        if let Err(e) = api
            .patch(
                &node.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            tracing::debug!(node = %node.name_any(), error = %e, "updating taints; retrying next pass");
        }
    }

    /// When the node's Ready condition leaves True, report it and mark its pods not ready.
    async fn follow_ready(&mut self, node: &Node) {
        let name = node.name_any();
        let status = taints::condition_status(node, "Ready").to_string();
        let before = self.ready.insert(name.clone(), status.clone());
        if before.as_deref() != Some("True") || status == "True" {
            return;
        }
        self.events
            .normal(
                node,
                "NodeNotReady",
                &format!("Node {name} status is now: NodeNotReady"),
            )
            .await;
        let now = Timestamp::now();
        for pod in self.pods.state() {
            if pod_state::node(&pod) != name || pod_state::ready_since(&pod).is_none() {
                continue;
            }
            self.mark_not_ready(&pod, now).await;
        }
    }

    async fn mark_not_ready(&self, pod: &Pod, now: Timestamp) {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let patch = json!({"status": {"conditions": [{
            "type": "Ready", "status": "False", "lastTransitionTime": Time(now),
        }]}});
        match api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
        {
            Ok(_) => {
                self.events
                    .warning(pod, "NodeNotReady", "Node is not ready")
                    .await
            }
            Err(e) => {
                tracing::debug!(pod = %pod.name_any(), error = %e, "marking the pod not ready")
            }
        }
    }
}

/// The node's zone ("" without the label).
fn zone_of(node: &Node) -> String {
    node.labels().get(ZONE_LABEL).cloned().unwrap_or_default()
}

/// Whether `next` gives the node a NoExecute taint it has none of yet (swapping
/// not-ready for unreachable is not a new eviction).
fn starts_evicting(node: &Node, next: &[k8s_openapi::api::core::v1::Taint]) -> bool {
    let has = |taints: &[k8s_openapi::api::core::v1::Taint]| {
        taints.iter().any(|t| {
            t.effect == taints::NO_EXECUTE
                && (t.key == taints::NOT_READY || t.key == taints::UNREACHABLE)
        })
    };
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[]);
    has(next) && !has(current)
}
