//! Entry points: validate a new or updated object of any built-in kind.

use serde_json::Value;

use crate::error::FieldError;
use crate::meta::{validate_object_meta, validate_object_meta_update, NameRule};
use crate::{
    autoscaling, batch, cluster, config, crd, networking, pod, rbac, service, storage, workloads,
};

/// Kind-specific checks of the object body (everything but metadata).
fn validate_body(group: &str, kind: &str, obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    match (group, kind) {
        ("", "Pod") => pod::validate_pod_spec(obj.get("spec").unwrap_or(&null), "spec"),
        ("", "PodTemplate") => workloads::validate_pod_template(obj),
        ("", "ReplicationController") => workloads::validate_replication_controller(obj),
        ("", "Service") => service::validate_service(obj),
        ("", "ConfigMap") => config::validate_config_map(obj),
        ("", "Secret") => config::validate_secret(obj),
        ("", "PersistentVolumeClaim") => storage::validate_pvc(obj),
        ("", "PersistentVolume") => storage::validate_pv(obj),
        ("", "Namespace") => cluster::validate_namespace(obj),
        ("", "Node") => cluster::validate_node(obj),
        ("", "ResourceQuota") => cluster::validate_resource_quota(obj),
        ("", "LimitRange") => cluster::validate_limit_range(obj),
        ("apps", "Deployment") => workloads::validate_deployment(obj),
        ("apps", "ReplicaSet") => workloads::validate_replica_set(obj),
        ("apps", "StatefulSet") => workloads::validate_stateful_set(obj),
        ("apps", "DaemonSet") => workloads::validate_daemon_set(obj),
        ("batch", "Job") => batch::validate_job(obj),
        ("batch", "CronJob") => batch::validate_cron_job(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::validate_hpa(obj),
        ("policy", "PodDisruptionBudget") => autoscaling::validate_pdb(obj),
        ("networking.k8s.io", "Ingress") => networking::validate_ingress(obj),
        ("networking.k8s.io", "IngressClass") => networking::validate_ingress_class(obj),
        ("networking.k8s.io", "NetworkPolicy") => networking::validate_network_policy(obj),
        ("storage.k8s.io", "StorageClass") => storage::validate_storage_class(obj),
        ("scheduling.k8s.io", "PriorityClass") => cluster::validate_priority_class(obj),
        ("coordination.k8s.io", "Lease") => cluster::validate_lease(obj),
        ("rbac.authorization.k8s.io", "Role") => rbac::validate_role(obj, true),
        ("rbac.authorization.k8s.io", "ClusterRole") => rbac::validate_role(obj, false),
        ("rbac.authorization.k8s.io", "RoleBinding") => rbac::validate_binding(obj, true),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => rbac::validate_binding(obj, false),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd::validate_crd(obj),
        _ => Vec::new(),
    }
}

/// Validates a new object: metadata (name already resolved from generateName,
/// namespace already set for namespaced kinds) and the kind's own rules.
pub fn validate_create(group: &str, kind: &str, namespaced: bool, obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_object_meta(
        obj.get("metadata"),
        namespaced,
        NameRule::for_kind(group, kind),
    );
    errs.extend(validate_body(group, kind, obj));
    errs
}

/// Validates an update: everything `validate_create` checks on `new`, plus the
/// immutable-field rules against `old`.
pub fn validate_update(
    group: &str,
    kind: &str,
    namespaced: bool,
    new: &Value,
    old: &Value,
) -> Vec<FieldError> {
    // Upstream `ValidateObjectMetaUpdate`: identity fields frozen, labels etc. re-checked;
    // the name format is not re-checked because the name cannot change.
    let mut errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"));
    if namespaced
        && crate::json::str_or_empty(new.get("metadata").unwrap_or(&Value::Null), "namespace")
            .is_empty()
    {
        errs.push(FieldError::required("metadata.namespace", ""));
    }
    errs.extend(validate_body(group, kind, new));
    let update_errs = match (group, kind) {
        ("", "Pod") => pod::validate_pod_spec_update(new, old),
        ("", "Service") => service::validate_service_update(new, old),
        ("", "ConfigMap" | "Secret") => config::validate_config_update(kind, new, old),
        ("", "PersistentVolumeClaim") => storage::validate_pvc_update(new, old),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workloads::validate_workload_update(kind, new, old)
        }
        ("batch", "Job") => batch::validate_job_update(new, old),
        ("storage.k8s.io", "StorageClass") => storage::validate_storage_class_update(new, old),
        ("scheduling.k8s.io", "PriorityClass") => cluster::validate_priority_class_update(new, old),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            rbac::validate_binding_update(new, old)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd::validate_crd_update(new, old),
        _ => Vec::new(),
    };
    errs.extend(update_errs);
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn create_dispatch_table() {
        let cases = [
            (
                "",
                "Service",
                true,
                json!({"metadata": {"name": "1web", "namespace": "d"}, "spec": {"type": "ClusterIP", "sessionAffinity": "None", "clusterIP": "None"}}),
                vec!["metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"],
            ),
            ("", "ConfigMap", true, json!({"metadata": {"name": "c"}, "data": {}}), vec!["metadata.namespace: Required value"]),
            ("rbac.authorization.k8s.io", "ClusterRole", false, json!({"metadata": {"name": "system:view"}, "rules": []}), vec![]),
            ("monitoring.coreos.com", "ServiceMonitor", true, json!({"metadata": {"name": "Bad_Name", "namespace": "d"}, "spec": {}}), vec!["metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
        ];
        for (group, kind, namespaced, obj, want) in cases {
            assert_eq!(
                msgs(validate_create(group, kind, namespaced, &obj)),
                want,
                "{kind}"
            );
        }
    }

    #[test]
    fn update_dispatch() {
        let old = json!({"metadata": {"name": "c", "namespace": "d", "uid": "u1"}, "immutable": true, "data": {"a": "1"}});
        // A PUT without uid inherits it (upstream BeforeUpdate), so only the data change is reported.
        let new = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "2"}});
        assert_eq!(
            msgs(validate_update("", "ConfigMap", true, &new, &old)),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        let renamed = json!({"metadata": {"name": "c2", "namespace": "d", "uid": "u1"}, "immutable": true, "data": {"a": "1"}});
        assert_eq!(
            msgs(validate_update("", "ConfigMap", true, &renamed, &old)),
            vec!["metadata.name: Invalid value: \"c2\": field is immutable"]
        );
    }
}
