//! RoleBindings and ClusterRoleBindings (roles use the default table).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::json::{age, arr_at, name, s, str_at};

/// RoleBinding columns.
pub(crate) fn role_binding_columns() -> Vec<Column> {
    binding_columns(
        d::ROLE_BINDING_ROLE_REF,
        [
            "Users in the roleBinding",
            "Groups in the roleBinding",
            "ServiceAccounts in the roleBinding",
        ],
    )
}

/// ClusterRoleBinding columns.
pub(crate) fn cluster_role_binding_columns() -> Vec<Column> {
    binding_columns(
        d::CLUSTER_ROLE_BINDING_ROLE_REF,
        [
            "Users in the clusterRoleBinding",
            "Groups in the clusterRoleBinding",
            "ServiceAccounts in the clusterRoleBinding",
        ],
    )
}

fn binding_columns(role_ref: &'static str, subjects: [&'static str; 3]) -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Role", "string", role_ref),
        Column::age(),
        Column::new("Users", "string", subjects[0]).wide(),
        Column::new("Groups", "string", subjects[1]).wide(),
        Column::new("ServiceAccounts", "string", subjects[2]).wide(),
    ]
}

/// Binding cells: ROLE "ClusterRole/admin", subjects split by kind and joined by ", ".
pub(crate) fn binding_cells(b: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut sas = Vec::new();
    for subject in arr_at(b, &["subjects"]) {
        let n = str_at(subject, &["name"]);
        match str_at(subject, &["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{n}", str_at(subject, &["namespace"]))),
            "User" => users.push(n.to_string()),
            "Group" => groups.push(n.to_string()),
            _ => {}
        }
    }
    vec![
        s(name(b)),
        s(format!(
            "{}/{}",
            str_at(b, &["roleRef", "kind"]),
            str_at(b, &["roleRef", "name"])
        )),
        s(age(b, now)),
        s(users.join(", ")),
        s(groups.join(", ")),
        s(sas.join(", ")),
    ]
}
