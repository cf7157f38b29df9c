//! The node snapshot: nodes and the pods on them, updated incrementally from watches and
//! from the scheduler's own assumptions.

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Node;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a pod is counted.
#[derive(Debug, Clone)]
struct Placement {
    node: String,
    /// Assumed by the scheduler and not yet seen bound by the watch.
    assumed: bool,
}

/// All nodes and the pods counted against them.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Whether a Node object exists for the entry (pods may name a node not seen yet).
    known: Vec<bool>,
    /// Number of `true` entries in `known`, kept so each cycle need not count.
    known_count: usize,
    placements: HashMap<String, Placement>,
    /// Pods with required anti-affinity terms, which every candidate node must respect.
    anti_affinity_pods: HashMap<String, Arc<PodInfo>>,
    /// Claims, volumes and classes, for VolumeBinding.
    pub volumes: crate::volume_catalog::VolumeCatalog,
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Snapshot {
        Snapshot::default()
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = self.nodes.len();
        self.nodes.push(NodeInfo {
            name: name.to_string(),
            ..Default::default()
        });
        self.known.push(false);
        self.index.insert(name.to_string(), i);
        i
    }

    /// Add or update a node from its object; returns whether anything scheduling
    /// depends on changed (heartbeats alone do not count).
    pub fn upsert_node(&mut self, node: &Node) -> bool {
        self.upsert_node_info(NodeInfo::from_node(node))
    }

    /// Add or update a node from an already-built `NodeInfo` (its pods are ignored);
    /// returns whether it is new or its scheduling-relevant fields changed.
    pub fn upsert_node_info(&mut self, info: NodeInfo) -> bool {
        let i = self.slot(&info.name);
        let old = &self.nodes[i];
        let changed = !self.known[i]
            || old.labels != info.labels
            || old.taints != info.taints
            || old.unschedulable != info.unschedulable
            || old.allocatable != info.allocatable;
        self.nodes[i].update_from(info);
        if !self.known[i] {
            self.known_count += 1;
        }
        self.known[i] = true;
        changed
    }

    /// Remove a node; pods still pointing at it keep a placeholder so their removal later
    /// stays consistent.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(i) = self.index.get(name) {
            if self.known[*i] {
                self.known_count -= 1;
            }
            self.known[*i] = false;
        }
    }

    /// Number of nodes with a Node object.
    pub fn num_nodes(&self) -> usize {
        self.known_count
    }

    /// All nodes with a Node object, in a stable order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes
            .iter()
            .zip(self.known.iter())
            .filter(|(_, k)| **k)
            .map(|(n, _)| n)
    }

    /// Slice of every slot and whether it is a real node (for rotation-based sampling).
    pub fn slots(&self) -> (&[NodeInfo], &[bool]) {
        (&self.nodes, &self.known)
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        let i = *self.index.get(name)?;
        self.known[i].then(|| &self.nodes[i])
    }

    /// Pods with required anti-affinity anywhere in the cluster.
    pub fn anti_affinity_pods(&self) -> impl Iterator<Item = (&str, &Arc<PodInfo>)> {
        self.anti_affinity_pods.iter().map(|(k, p)| {
            let node = self
                .placements
                .get(k)
                .map(|p| p.node.as_str())
                .unwrap_or("");
            (node, p)
        })
    }

    /// Record a bound pod seen by the watch (replacing any earlier record, including the
    /// scheduler's own assumption). Terminal pods are removed instead.
    pub fn add_or_update_bound_pod(&mut self, pod: PodInfo) {
        let key = pod.key();
        if pod.terminal {
            self.remove_pod(&key);
            return;
        }
        let Some(node) = pod.node_name.clone() else {
            return;
        };
        self.remove_pod(&key);
        self.place(key, node, Arc::new(pod), false);
    }

    fn place(&mut self, key: String, node: String, pod: Arc<PodInfo>, assumed: bool) {
        let i = self.slot(&node);
        if !pod.required_anti_affinity.is_empty() {
            self.anti_affinity_pods.insert(key.clone(), pod.clone());
        }
        self.nodes[i].add_pod(pod);
        self.placements.insert(key, Placement { node, assumed });
    }

    /// Reserve: count `pod` on `node` before binding finishes. Idempotent.
    pub fn assume(&mut self, pod: &PodInfo, node: &str) {
        let key = pod.key();
        self.remove_pod(&key);
        let mut placed = pod.clone();
        placed.node_name = Some(node.to_string());
        self.place(key, node.to_string(), Arc::new(placed), true);
    }

    /// Unreserve: drop an assumption (binding failed). Idempotent, and a pod the watch
    /// already reported bound is left alone.
    pub fn forget(&mut self, key: &str) {
        if self.placements.get(key).is_some_and(|p| p.assumed) {
            self.remove_pod(key);
        }
    }

    /// Whether a pod is counted (bound or assumed).
    pub fn is_placed(&self, key: &str) -> bool {
        self.placements.contains_key(key)
    }

    /// Stop counting a pod anywhere. Idempotent.
    pub fn remove_pod(&mut self, key: &str) {
        let Some(p) = self.placements.remove(key) else {
            return;
        };
        self.anti_affinity_pods.remove(key);
        if let Some(i) = self.index.get(&p.node) {
            let (ns, name) = key.split_once('/').unwrap_or(("", key));
            self.nodes[*i].remove_pod(ns, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod};

    fn bound(name: &str, cpu: i64, node: &str) -> PodInfo {
        let mut p = pod(name, cpu, 0);
        p.node_name = Some(node.into());
        p
    }

    #[test]
    fn bound_and_assumed_pods_count_once() {
        let mut s = Snapshot::new();
        assert!(s.upsert_node_info(node("a", 4000, 1 << 30)));
        // A heartbeat with nothing new is not a scheduling-relevant change.
        assert!(!s.upsert_node_info(node("a", 4000, 1 << 30)));
        let p = pod("p", 1000, 0);
        s.assume(&p, "a");
        s.assume(&p, "a");
        assert_eq!(s.node("a").map(|n| n.requested.milli_cpu), Some(1000));
        // The watch confirms the bind: still counted once, and no longer forgettable.
        s.add_or_update_bound_pod(bound("p", 1000, "a"));
        s.forget("default/p");
        assert_eq!(s.node("a").map(|n| n.requested.milli_cpu), Some(1000));
        s.remove_pod("default/p");
        s.remove_pod("default/p");
        assert_eq!(s.node("a").map(|n| n.requested.milli_cpu), Some(0));
    }

    #[test]
    fn pods_seen_before_their_node_are_kept() {
        let mut s = Snapshot::new();
        s.add_or_update_bound_pod(bound("early", 500, "late"));
        assert_eq!(s.num_nodes(), 0);
        s.upsert_node_info(node("late", 4000, 1 << 30));
        assert_eq!(s.node("late").map(|n| n.requested.milli_cpu), Some(500));
        s.remove_node("late");
        assert!(s.node("late").is_none());
    }

    #[test]
    fn terminal_pods_release_resources() {
        let mut s = Snapshot::new();
        s.upsert_node_info(node("a", 4000, 1 << 30));
        s.add_or_update_bound_pod(bound("job", 2000, "a"));
        let mut done = bound("job", 2000, "a");
        done.terminal = true;
        s.add_or_update_bound_pod(done);
        assert_eq!(s.node("a").map(|n| n.requested.milli_cpu), Some(0));
        assert!(!s.is_placed("default/job"));
    }
}
