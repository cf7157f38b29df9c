//! What the caller tells the agent about its node.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;

/// The node agent's configuration; built by the binary.
#[derive(Clone)]
pub struct AgentConfig {
    /// Name of the Node object this agent owns.
    pub node_name: String,
    /// Pod directories (volumes) and container logs live below this directory.
    pub data_dir: PathBuf,
    /// Extra labels for the Node (the well-known ones are added by the agent).
    pub labels: BTreeMap<String, String>,
    /// Taints to register the Node with.
    pub taints: Vec<Taint>,
    /// The node's InternalIP (also hostIP of its pods and podIP with hostNetwork).
    pub internal_ip: String,
    /// The node's hostname address ("" = the node name).
    pub hostname: String,
    /// Port of the agent's HTTPS API (logs, healthz, metrics).
    pub port: u16,
    /// Address the agent's HTTPS API binds to.
    pub bind_address: std::net::IpAddr,
    /// TLS for the agent's API; the caller requires client certificates in it.
    /// `None` disables the agent's API (tests, simulated nodes).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Maximum number of pods (the Node's `pods` capacity).
    pub max_pods: u32,
    /// How often the Lease is renewed.
    pub lease_interval: Duration,
    /// How often node status is written when nothing changed.
    pub status_interval: Duration,
    /// The agent is embedded in the control plane (adds the control-plane role label).
    pub control_plane: bool,
    /// Runtime version for nodeInfo.containerRuntimeVersion (e.g. `runc://1.1.5`).
    pub runtime_version: String,
    /// The node's pod network; None leaves pods with loopback only.
    pub network: Option<PodNetworkSetup>,
    /// The cluster DNS server pods use with dnsPolicy ClusterFirst (None: the host's).
    pub cluster_dns: Option<String>,
    /// The cluster's DNS domain.
    pub cluster_domain: String,
    /// Hard eviction thresholds: crossing one reports a pressure condition.
    pub eviction_hard: crate::eviction::EvictionThresholds,
}

/// The pod network the agent runs (its bridge is also the runtime's network plugin).
#[derive(Clone)]
pub struct PodNetworkSetup {
    /// The bridge and pod interfaces.
    pub bridge: Arc<skiff_net::BridgeNetwork>,
    /// How pods reach other nodes.
    pub backend: skiff_net::routes::Backend,
    /// The whole cluster's pod addresses.
    pub cluster_cidr: skiff_net::Ipv4Cidr,
}

impl AgentConfig {
    /// A configuration with upstream's defaults (110 pods, 10 s lease, 60 s status).
    pub fn new(node_name: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        AgentConfig {
            node_name: node_name.into(),
            data_dir: data_dir.into(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            internal_ip: "127.0.0.1".to_string(),
            hostname: String::new(),
            port: 10250,
            bind_address: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            tls: None,
            max_pods: 110,
            lease_interval: Duration::from_secs(10),
            status_interval: Duration::from_secs(60),
            control_plane: false,
            runtime_version: "runc://unknown".to_string(),
            network: None,
            cluster_dns: None,
            cluster_domain: "cluster.local".to_string(),
            eviction_hard: crate::eviction::EvictionThresholds::kubelet_defaults(),
        }
    }

    /// Directory of one pod's volumes and state.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.data_dir.join("pods").join(uid)
    }

    /// Directory holding this node's local-path volumes (`<data dir>/storage`).
    pub fn storage_dir(&self) -> PathBuf {
        self.data_dir.join("storage")
    }

    /// Directory of one pod's container logs (as kubelet: `<ns>_<name>_<uid>`).
    pub fn pod_log_dir(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.data_dir
            .join("logs")
            .join(format!("{namespace}_{name}_{uid}"))
    }
}
