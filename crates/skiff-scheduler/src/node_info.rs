//! One node in the snapshot: its object-derived fields plus the pods counted against it.

use crate::pod_info::{HostPort, PodInfo};
use crate::resources::Resources;
use k8s_openapi::api::core::v1::{Node, Taint};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Taint the node lifecycle controller puts on nodes whose Ready condition is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint for nodes whose Ready condition is Unknown (or missing).
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint mirroring spec.unschedulable.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// A node and what is placed on it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Taints, including the not-ready/unreachable taint derived from the Ready condition.
    pub taints: Vec<Taint>,
    /// spec.unschedulable.
    pub unschedulable: bool,
    /// status.allocatable (falling back to capacity).
    pub allocatable: Resources,
    /// Sum of requests of pods on the node (bound and assumed).
    pub requested: Resources,
    /// Sum of non-zero CPU requests, for scoring.
    pub non_zero_milli_cpu: i64,
    /// Sum of non-zero memory requests, for scoring.
    pub non_zero_memory: i64,
    /// Pods on the node.
    pub pods: Vec<Arc<PodInfo>>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
}

impl NodeInfo {
    /// Build from a Node object, with no pods yet.
    pub fn from_node(node: &Node) -> NodeInfo {
        let spec = node.spec.clone().unwrap_or_default();
        let status = node.status.clone().unwrap_or_default();
        let mut taints = spec.taints.unwrap_or_default();
        // Upstream filters not-ready nodes through taints the node lifecycle controller
        // adds; Skiff has no such controller yet, so the taint is derived here from the
        // Ready condition, keeping the same tolerations and messages working.
        let ready = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.status.clone());
        let derived = match ready.as_deref() {
            Some("True") => None,
            Some("False") => Some(TAINT_NOT_READY),
            _ => Some(TAINT_UNREACHABLE),
        };
        if let Some(key) = derived {
            if !taints
                .iter()
                .any(|t| t.key == key && t.effect == "NoSchedule")
            {
                taints.push(Taint {
                    key: key.into(),
                    effect: "NoSchedule".into(),
                    ..Default::default()
                });
            }
        }
        let allocatable =
            Resources::from_list(status.allocatable.as_ref().or(status.capacity.as_ref()));
        NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints,
            unschedulable: spec.unschedulable.unwrap_or(false),
            allocatable,
            ..Default::default()
        }
    }

    /// Replace the object-derived fields, keeping the pods.
    pub fn update_from(&mut self, fresh: NodeInfo) {
        self.name = fresh.name;
        self.labels = fresh.labels;
        self.taints = fresh.taints;
        self.unschedulable = fresh.unschedulable;
        self.allocatable = fresh.allocatable;
    }

    /// Count a pod against this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_milli_cpu += pod.non_zero_milli_cpu;
        self.non_zero_memory += pod.non_zero_memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        self.pods.push(pod);
    }

    /// Stop counting a pod; returns whether it was there.
    pub fn remove_pod(&mut self, key_ns: &str, key_name: &str) -> bool {
        let Some(i) = self
            .pods
            .iter()
            .position(|p| p.namespace == key_ns && p.name == key_name)
        else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_milli_cpu -= pod.non_zero_milli_cpu;
        self.non_zero_memory -= pod.non_zero_memory;
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        true
    }
}
