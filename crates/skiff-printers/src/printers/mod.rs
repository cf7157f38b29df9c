//! Built-in resource printers, one module per API area, and their lookup table.

mod apps;
mod batch;
mod cluster;
mod config;
mod event;
mod hpa;
mod networking;
mod node;
mod pod;
mod policy;
mod rbac;
mod service;
mod storage;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;

/// Column definitions and row cells of one resource.
#[derive(Clone, Copy)]
pub(crate) struct Printer {
    /// Column definitions, in cell order.
    pub(crate) columns: fn() -> Vec<Column>,
    /// Cells of one object, aligned with `columns`.
    pub(crate) cells: fn(&Value, DateTime<Utc>) -> Vec<Value>,
    /// Table row conditions (only pods have any).
    pub(crate) conditions: fn(&Value) -> Vec<Value>,
}

fn no_conditions(_: &Value) -> Vec<Value> {
    Vec::new()
}

const fn printer(
    columns: fn() -> Vec<Column>,
    cells: fn(&Value, DateTime<Utc>) -> Vec<Value>,
) -> Printer {
    Printer {
        columns,
        cells,
        conditions: no_conditions,
    }
}

/// The printer for a group and resource (plural), if upstream has one.
pub(crate) fn lookup(group: &str, resource: &str) -> Option<Printer> {
    let p = match (group, resource) {
        ("", "pods") => Printer {
            columns: pod::pod_columns,
            cells: pod::pod_cells,
            conditions: pod::pod_row_conditions,
        },
        ("", "podtemplates") => printer(pod::pod_template_columns, pod::pod_template_cells),
        ("", "replicationcontrollers") => printer(
            apps::replication_controller_columns,
            apps::replication_controller_cells,
        ),
        ("", "services") => printer(service::service_columns, service::service_cells),
        ("", "endpoints") => printer(service::endpoints_columns, service::endpoints_cells),
        ("", "nodes") => printer(node::node_columns, node::node_cells),
        ("", "namespaces") => printer(node::namespace_columns, node::namespace_cells),
        ("", "events") => printer(event::event_columns, event::core_event_cells),
        ("events.k8s.io", "events") => printer(event::event_columns, event::events_api_event_cells),
        ("", "configmaps") => printer(config::config_map_columns, config::config_map_cells),
        ("", "secrets") => printer(config::secret_columns, config::secret_cells),
        ("", "serviceaccounts") => printer(
            config::service_account_columns,
            config::service_account_cells,
        ),
        ("", "persistentvolumes") => printer(
            storage::persistent_volume_columns,
            storage::persistent_volume_cells,
        ),
        ("", "persistentvolumeclaims") => printer(
            storage::persistent_volume_claim_columns,
            storage::persistent_volume_claim_cells,
        ),
        ("", "resourcequotas") => {
            printer(policy::resource_quota_columns, policy::resource_quota_cells)
        }
        ("apps", "deployments") => printer(apps::deployment_columns, apps::deployment_cells),
        ("apps", "replicasets") => printer(apps::replica_set_columns, apps::replica_set_cells),
        ("apps", "statefulsets") => printer(apps::stateful_set_columns, apps::stateful_set_cells),
        ("apps", "daemonsets") => printer(apps::daemon_set_columns, apps::daemon_set_cells),
        ("apps", "controllerrevisions") => printer(
            apps::controller_revision_columns,
            apps::controller_revision_cells,
        ),
        ("batch", "jobs") => printer(batch::job_columns, batch::job_cells),
        ("batch", "cronjobs") => printer(batch::cron_job_columns, batch::cron_job_cells),
        ("discovery.k8s.io", "endpointslices") => printer(
            service::endpoint_slice_columns,
            service::endpoint_slice_cells,
        ),
        ("storage.k8s.io", "storageclasses") => {
            printer(storage::storage_class_columns, storage::storage_class_cells)
        }
        ("autoscaling", "horizontalpodautoscalers") => printer(hpa::hpa_columns, hpa::hpa_cells),
        ("networking.k8s.io", "ingresses") => {
            printer(networking::ingress_columns, networking::ingress_cells)
        }
        ("networking.k8s.io", "ingressclasses") => printer(
            networking::ingress_class_columns,
            networking::ingress_class_cells,
        ),
        ("networking.k8s.io", "networkpolicies") => printer(
            networking::network_policy_columns,
            networking::network_policy_cells,
        ),
        ("policy", "poddisruptionbudgets") => printer(policy::pdb_columns, policy::pdb_cells),
        ("coordination.k8s.io", "leases") => printer(cluster::lease_columns, cluster::lease_cells),
        ("scheduling.k8s.io", "priorityclasses") => printer(
            cluster::priority_class_columns,
            cluster::priority_class_cells,
        ),
        ("rbac.authorization.k8s.io", "rolebindings") => {
            printer(rbac::role_binding_columns, rbac::binding_cells)
        }
        ("rbac.authorization.k8s.io", "clusterrolebindings") => {
            printer(rbac::cluster_role_binding_columns, rbac::binding_cells)
        }
        _ => return None,
    };
    Some(p)
}

#[cfg(test)]
mod tests;
