//! The scheduler's view of a pod: the fields plugins read, pre-computed once per pod.

use crate::resources::Resources;
use k8s_openapi::api::core::v1::NodeSelector;
use k8s_openapi::api::core::v1::{
    Pod, PodAffinityTerm, PreferredSchedulingTerm, Toleration, TopologySpreadConstraint,
    WeightedPodAffinityTerm,
};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// The scheduler name pods get when they name none.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Requests assumed for scoring when a container asks for no CPU (upstream's 100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Requests assumed for scoring when a container asks for no memory (upstream's 200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A host port a pod asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host IP; empty or "0.0.0.0" means every address.
    pub ip: String,
    /// "TCP", "UDP" or "SCTP".
    pub protocol: String,
    /// The port number.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports cannot both be bound on one node.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
        self.port == other.port
            && self.protocol == other.protocol
            && (wildcard(&self.ip) || wildcard(&other.ip) || self.ip == other.ip)
    }
}

/// A pod as the scheduler sees it.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Effective priority (spec.priority or the PriorityClass value).
    pub priority: i32,
    /// Whether the pod may preempt others (preemptionPolicy != Never).
    pub can_preempt: bool,
    /// Resource requests: max(sum(containers), max(init containers)) + overhead, pods = 1.
    pub requests: Resources,
    /// CPU and memory requests with upstream's non-zero defaults, for scoring.
    pub non_zero_milli_cpu: i64,
    /// See `non_zero_milli_cpu`.
    pub non_zero_memory: i64,
    /// spec.nodeName, when set.
    pub node_name: Option<String>,
    /// spec.schedulerName (defaulted).
    pub scheduler_name: String,
    /// spec.nodeSelector.
    pub node_selector: BTreeMap<String, String>,
    /// Required node affinity.
    pub required_node_affinity: Option<NodeSelector>,
    /// Preferred node affinity.
    pub preferred_node_affinity: Vec<PreferredSchedulingTerm>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Required pod affinity terms.
    pub required_affinity: Vec<PodAffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<PodAffinityTerm>,
    /// Preferred pod affinity terms.
    pub preferred_affinity: Vec<WeightedPodAffinityTerm>,
    /// Preferred pod anti-affinity terms.
    pub preferred_anti_affinity: Vec<WeightedPodAffinityTerm>,
    /// Topology spread constraints.
    pub topology_spread: Vec<TopologySpreadConstraint>,
    /// Host ports of all containers.
    pub host_ports: Vec<HostPort>,
    /// Creation time (queue order tie-break).
    pub created: Option<Timestamp>,
    /// Whether the pod is being deleted.
    pub deleting: bool,
    /// Whether the pod has finished (Succeeded/Failed) and no longer holds resources.
    pub terminal: bool,
    /// Names of the PersistentVolumeClaims the pod's volumes use (generic ephemeral
    /// volumes as `<pod>-<volume>`), for VolumeBinding.
    pub claims: Vec<String>,
    /// Hash of spec and labels: an unschedulable pod is retried on update only when this
    /// changes, so the scheduler's own status writes do not cause retry loops.
    pub spec_hash: u64,
}

impl PodInfo {
    /// "namespace/name", the queue and cache key.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Build from a Pod; `priority` is the resolved priority (see `PriorityResolver`).
    pub fn from_pod(pod: &Pod, priority: i32) -> PodInfo {
        let meta = &pod.metadata;
        let spec = pod.spec.clone().unwrap_or_default();
        let mut containers = Resources::default();
        let mut non_zero_cpu = 0;
        let mut non_zero_mem = 0;
        let mut host_ports = Vec::new();
        for c in &spec.containers {
            let r = Resources::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
            non_zero_cpu += if r.milli_cpu == 0 {
                DEFAULT_MILLI_CPU_REQUEST
            } else {
                r.milli_cpu
            };
            non_zero_mem += if r.memory == 0 {
                DEFAULT_MEMORY_REQUEST
            } else {
                r.memory
            };
            containers.add(&r);
            for p in c.ports.iter().flatten() {
                if let Some(hp) = p.host_port.filter(|hp| *hp > 0) {
                    host_ports.push(HostPort {
                        ip: p.host_ip.clone().unwrap_or_default(),
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        port: hp,
                    });
                }
            }
        }
        let mut requests = containers;
        let mut sidecars = Resources::default();
        for c in spec.init_containers.iter().flatten() {
            let r = Resources::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
            // Restartable init containers (sidecars) run alongside the app containers, so
            // they add up; classic ones run alone and only the largest matters.
            if c.restart_policy.as_deref() == Some("Always") {
                sidecars.add(&r);
                requests.add(&r);
            } else {
                let mut with_sidecars = r.clone();
                with_sidecars.add(&sidecars);
                requests.max_with(&with_sidecars);
            }
        }
        let overhead = Resources::from_list(spec.overhead.as_ref());
        requests.add(&overhead);
        requests.pods = 1;
        let affinity = spec.affinity.clone().unwrap_or_default();
        let node_aff = affinity.node_affinity.unwrap_or_default();
        let pod_aff = affinity.pod_affinity.unwrap_or_default();
        let pod_anti = affinity.pod_anti_affinity.unwrap_or_default();
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        PodInfo {
            namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            priority,
            can_preempt: spec.preemption_policy.as_deref() != Some("Never"),
            non_zero_milli_cpu: non_zero_cpu + overhead.milli_cpu,
            non_zero_memory: non_zero_mem + overhead.memory,
            requests,
            node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
            scheduler_name: spec
                .scheduler_name
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.into()),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required_node_affinity: node_aff.required_during_scheduling_ignored_during_execution,
            preferred_node_affinity: node_aff
                .preferred_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            required_affinity: pod_aff
                .required_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            required_anti_affinity: pod_anti
                .required_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            preferred_affinity: pod_aff
                .preferred_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            preferred_anti_affinity: pod_anti
                .preferred_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            topology_spread: spec.topology_spread_constraints.clone().unwrap_or_default(),
            host_ports,
            created: meta.creation_timestamp.as_ref().map(|t| t.0),
            deleting: meta.deletion_timestamp.is_some(),
            terminal: matches!(phase, Some("Succeeded") | Some("Failed")),
            spec_hash: spec_hash(pod),
            claims: skiff_controllers::pvc_protection::claims_of(pod),
        }
    }
}

fn spec_hash(pod: &Pod) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    // Serialization of validated API objects cannot fail; an empty string still hashes.
    serde_json::to_string(&pod.spec)
        .unwrap_or_default()
        .hash(&mut h);
    pod.metadata.labels.hash(&mut h);
    h.finish()
}
