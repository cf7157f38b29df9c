//! The periodic node health pass: mark silent nodes Unknown, mark the pods of nodes that
//! stopped being Ready not ready, and keep every node's condition taints in line.

use super::health::{self, Health};
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
use std::collections::HashMap;
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
        for node in &current {
            self.follow_ready(node).await;
            if let Some(next) = taints::reconcile(node, !all_down, wall) {
                self.write_taints(node, next).await;
            }
        }
        self.ready.retain(|name, _| {
            current
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some(name))
        });
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
