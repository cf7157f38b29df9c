//! The agent's Node object: registration and status (capacity, conditions, addresses, info).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::config::AgentConfig;
use crate::machine::MachineInfo;

/// The kubelet version the agent reports.
pub const KUBELET_VERSION: &str = "v1.33.0-skiff";

/// Labels of the agent's Node.
pub fn node_labels(cfg: &AgentConfig, m: &MachineInfo) -> BTreeMap<String, String> {
    let mut l = cfg.labels.clone();
    l.insert("kubernetes.io/hostname".into(), cfg.node_name.clone());
    l.insert("kubernetes.io/os".into(), "linux".into());
    l.insert("kubernetes.io/arch".into(), m.architecture.clone());
    l.insert("beta.kubernetes.io/os".into(), "linux".into());
    l.insert("beta.kubernetes.io/arch".into(), m.architecture.clone());
    if cfg.control_plane {
        l.insert(
            "node-role.kubernetes.io/control-plane".into(),
            "true".into(),
        );
    }
    l
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    prev: Option<&NodeStatus>,
) -> NodeCondition {
    let status = if status { "True" } else { "False" }.to_string();
    let now = crate::time::now();
    // Keep lastTransitionTime unless the status flipped.
    let transition: Time = prev
        .and_then(|p| p.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    NodeCondition {
        type_: type_.into(),
        status,
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now),
        last_transition_time: Some(transition),
    }
}

/// The node's status now; `prev` keeps condition transition times.
pub fn node_status(cfg: &AgentConfig, m: &MachineInfo, prev: Option<&NodeStatus>) -> NodeStatus {
    let mut cap = BTreeMap::new();
    cap.insert("cpu".to_string(), Quantity(m.cpus.to_string()));
    cap.insert(
        "memory".to_string(),
        Quantity(format!("{}Ki", m.memory / 1024)),
    );
    cap.insert("pods".to_string(), Quantity(cfg.max_pods.to_string()));
    cap.insert(
        "ephemeral-storage".to_string(),
        Quantity(format!("{}Ki", m.disk_total / 1024)),
    );
    let p = cfg.eviction_hard.pressures(m);
    let (mem_p, disk_p, pid_p) = (p.memory, p.disk, p.pid);
    let hostname = if cfg.hostname.is_empty() {
        cfg.node_name.clone()
    } else {
        cfg.hostname.clone()
    };
    NodeStatus {
        capacity: Some(cap.clone()),
        allocatable: Some(cap),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                mem_p,
                if mem_p {
                    "KubeletHasInsufficientMemory"
                } else {
                    "KubeletHasSufficientMemory"
                },
                if mem_p {
                    "kubelet has insufficient memory available"
                } else {
                    "kubelet has sufficient memory available"
                },
                prev,
            ),
            condition(
                "DiskPressure",
                disk_p,
                if disk_p {
                    "KubeletHasDiskPressure"
                } else {
                    "KubeletHasNoDiskPressure"
                },
                if disk_p {
                    "kubelet has disk pressure"
                } else {
                    "kubelet has no disk pressure"
                },
                prev,
            ),
            condition(
                "PIDPressure",
                pid_p,
                if pid_p {
                    "KubeletHasInsufficientPID"
                } else {
                    "KubeletHasSufficientPID"
                },
                if pid_p {
                    "kubelet has insufficient PID available"
                } else {
                    "kubelet has sufficient PID available"
                },
                prev,
            ),
            condition(
                "Ready",
                true,
                "KubeletReady",
                "kubelet is posting ready status",
                prev,
            ),
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: cfg.internal_ip.clone(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: hostname,
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(cfg.port),
            }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: m.architecture.clone(),
            boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .unwrap_or_default()
                .trim()
                .to_string(),
            container_runtime_version: cfg.runtime_version.clone(),
            kernel_version: m.kernel_version.clone(),
            kube_proxy_version: KUBELET_VERSION.into(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: m.machine_id.clone(),
            operating_system: "linux".into(),
            os_image: m.os_image.clone(),
            system_uuid: m.machine_id.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Create the Node if missing (labels, taints); otherwise merge our labels in.
pub async fn register(
    client: &Client,
    cfg: &AgentConfig,
    m: &MachineInfo,
) -> Result<Node, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let labels = node_labels(cfg, m);
    let annotations = crate::local_path::node_annotations(cfg);
    if let Some(existing) = api.get_opt(&cfg.node_name).await? {
        let patch = serde_json::json!({"metadata": {"labels": labels, "annotations": annotations}});
        return api
            .patch(
                &cfg.node_name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .or(Ok(existing));
    }
    let node = Node {
        metadata: ObjectMeta {
            name: Some(cfg.node_name.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: Some(cfg.taints.clone()).filter(|t| !t.is_empty()),
            ..Default::default()
        }),
        status: None,
    };
    match api.create(&PostParams::default(), &node).await {
        Ok(n) => Ok(n),
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(&cfg.node_name).await,
        Err(e) => Err(e),
    }
}

/// Write the node status (merge patch on nodes/status).
pub async fn write_status(
    client: &Client,
    name: &str,
    status: &NodeStatus,
) -> Result<Node, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let patch = serde_json::json!({"status": status});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
}
