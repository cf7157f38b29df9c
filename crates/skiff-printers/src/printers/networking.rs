//! Ingresses, ingress classes and network policies.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::format::{format_label_selector, load_balancer_ingress};
use crate::json::{age, arr_at, get, name, opt_str, s, str_at};

/// Ingress columns.
pub(crate) fn ingress_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional configuration",
        ),
        Column::new("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
        Column::new("Address", "string", "Address is a list containing ingress points for the load-balancer"),
        Column::new("Ports", "string", "Ports of TLS configurations that open"),
        Column::age(),
    ]
}

/// formatHosts: up to three hosts, "*" when no rule names one.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let ret = list.join(",");
    if more {
        // Upstream subtracts from the number of rules, not of hosts.
        format!("{ret} + {} more...", rules.len() - MAX)
    } else {
        ret
    }
}

/// Ingress cells.
pub(crate) fn ingress_cells(ing: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let ports = if arr_at(ing, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        s(name(ing)),
        s(opt_str(ing, &["spec", "ingressClassName"]).unwrap_or("<none>")),
        s(format_hosts(arr_at(ing, &["spec", "rules"]))),
        s(load_balancer_ingress(arr_at(
            ing,
            &["status", "loadBalancer", "ingress"],
        ))),
        s(ports),
        s(age(ing, now)),
    ]
}

/// IngressClass columns.
pub(crate) fn ingress_class_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Controller",
            "string",
            "Controller that is responsible for handling this class",
        ),
        Column::new(
            "Parameters",
            "string",
            "A reference to a resource with additional parameters",
        ),
        Column::age(),
    ]
}

/// IngressClass cells: PARAMETERS "Kind.group/name".
pub(crate) fn ingress_class_cells(ic: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let parameters = match get(ic, &["spec", "parameters"]).filter(|p| p.is_object()) {
        Some(p) => {
            let mut out = str_at(p, &["kind"]).to_string();
            if let Some(group) = opt_str(p, &["apiGroup"]) {
                out = format!("{out}.{group}");
            }
            format!("{out}/{}", str_at(p, &["name"]))
        }
        None => "<none>".to_string(),
    };
    vec![
        s(name(ic)),
        s(str_at(ic, &["spec", "controller"])),
        s(parameters),
        s(age(ic, now)),
    ]
}

/// NetworkPolicy columns.
pub(crate) fn network_policy_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Pod-Selector", "string", d::NETWORK_POLICY_POD_SELECTOR),
        Column::age(),
    ]
}

/// NetworkPolicy cells.
pub(crate) fn network_policy_cells(np: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // podSelector is a struct, never nil: absent reads as the empty selector.
    let empty = Value::Object(Default::default());
    let selector = get(np, &["spec", "podSelector"]).unwrap_or(&empty);
    vec![
        s(name(np)),
        s(format_label_selector(Some(selector))),
        s(age(np, now)),
    ]
}
