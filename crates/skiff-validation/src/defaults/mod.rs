//! Defaulting of built-in objects, mirroring `pkg/apis/*/v1/defaults.go` (plus the few
//! registry-side fills a client sees in responses, each noted where it is done).

mod core;
mod other;
mod pod;
mod workloads;

use serde_json::Value;

pub use pod::image_tag;

/// Fills in defaults for a built-in object in place. `group` is "" for core; unknown
/// kinds (custom resources included) are left untouched.
pub fn apply_defaults(group: &str, version: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "Pod") => core::default_pod(obj),
        ("", "PodTemplate") => {
            if let Some(spec) = obj.get_mut("template").and_then(|t| t.get_mut("spec")) {
                pod::default_pod_spec(spec);
            }
        }
        ("", "ReplicationController") => core::default_replication_controller(obj),
        ("", "Service") => core::default_service(obj),
        ("", "Secret") => core::default_secret(obj),
        ("", "PersistentVolumeClaim") => core::default_pvc(obj),
        ("", "PersistentVolume") => core::default_pv(obj),
        ("", "Namespace") => core::default_namespace(obj),
        ("", "LimitRange") => core::default_limit_range(obj),
        ("", "Endpoints") => core::default_endpoints(obj),
        ("apps", "Deployment") => workloads::default_deployment(obj),
        ("apps", "ReplicaSet") => workloads::default_replica_set(obj),
        ("apps", "StatefulSet") => workloads::default_stateful_set(obj),
        ("apps", "DaemonSet") => workloads::default_daemon_set(obj),
        ("batch", "Job") => workloads::default_job(obj),
        ("batch", "CronJob") => workloads::default_cron_job(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => other::default_hpa(version, obj),
        ("networking.k8s.io", "NetworkPolicy") => other::default_network_policy(obj),
        ("storage.k8s.io", "StorageClass") => other::default_storage_class(obj),
        ("scheduling.k8s.io", "PriorityClass") => other::default_priority_class(obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            other::default_binding(obj)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => other::default_crd(obj),
        _ => {}
    }
}
