//! Services, endpoints and endpoint slices.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::format::{format_labels, list_with_more, load_balancer_ingress};
use crate::json::{age, arr_at, i64_at, name, obj_at, opt_i64, opt_str, s, str_at};

/// Service columns.
pub(crate) fn service_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Type", "string", d::SERVICE_TYPE),
        Column::new("Cluster-IP", "string", d::SERVICE_CLUSTER_IP),
        Column::new("External-IP", "string", d::SERVICE_EXTERNAL_IPS),
        Column::new("Port(s)", "string", d::SERVICE_PORTS),
        Column::age(),
        Column::new("Selector", "string", d::SERVICE_SELECTOR).wide(),
    ]
}

/// getServiceExternalIP in wide mode.
fn external_ip(svc: &Value, type_: &str) -> String {
    let external: Vec<&str> = arr_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match type_ {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".to_string()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(arr_at(svc, &["status", "loadBalancer", "ingress"]));
            if !external.is_empty() {
                let mut all: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    all.extend(lb.split(','));
                }
                all.extend(external.iter().copied());
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// makePortString: "80/TCP", "80:30080/TCP", joined by ",".
fn port_string(svc: &Value) -> String {
    arr_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = i64_at(p, &["port"]);
            // Defaulting sets TCP; an undefaulted object would show the same.
            let proto = opt_str(p, &["protocol"]).unwrap_or("TCP");
            match i64_at(p, &["nodePort"]) {
                np if np > 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Service cells.
pub(crate) fn service_cells(svc: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let type_ = opt_str(svc, &["spec", "type"]).unwrap_or("ClusterIP");
    // clusterIPs is filled from clusterIP on conversion when only the latter is set.
    let cluster_ip = arr_at(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .or_else(|| opt_str(svc, &["spec", "clusterIP"]).filter(|ip| !ip.is_empty()))
        .unwrap_or("<none>");
    let ports = match port_string(svc) {
        p if p.is_empty() => "<none>".to_string(),
        p => p,
    };
    vec![
        s(name(svc)),
        s(type_),
        s(cluster_ip),
        s(external_ip(svc, type_)),
        s(ports),
        s(age(svc, now)),
        s(format_labels(obj_at(svc, &["spec", "selector"]))),
    ]
}

/// Endpoints columns.
pub(crate) fn endpoints_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Endpoints", "string", d::ENDPOINTS_SUBSETS),
        Column::age(),
    ]
}

/// formatEndpoints with all ports: "10.0.0.1:80,10.0.0.2:80 + 3 more...".
fn format_endpoints(ep: &Value) -> String {
    let subsets = arr_at(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services without ports list bare IPs.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, &["ip"]), i64_at(p, &["port"])));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - MAX)
    } else {
        ret
    }
}

/// net.JoinHostPort: IPv6 addresses get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Endpoints cells.
pub(crate) fn endpoints_cells(ep: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![s(name(ep)), s(format_endpoints(ep)), s(age(ep, now))]
}

/// EndpointSlice columns.
pub(crate) fn endpoint_slice_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("AddressType", "string", d::ENDPOINTSLICE_ADDRESS_TYPE),
        Column::new("Ports", "string", d::ENDPOINTSLICE_PORTS),
        Column::new("Endpoints", "string", d::ENDPOINTSLICE_ENDPOINTS),
        Column::age(),
    ]
}

/// EndpointSlice cells: ports ("80", a port name, or "*") and addresses, three at most.
pub(crate) fn endpoint_slice_cells(es: &Value, now: DateTime<Utc>) -> Vec<Value> {
    const MAX: usize = 3;
    let ports = arr_at(es, &["ports"]);
    let port_list: Vec<String> = ports
        .iter()
        .take(MAX)
        .map(|p| match (opt_i64(p, &["port"]), opt_str(p, &["name"])) {
            (Some(n), _) => n.to_string(),
            (None, Some(nm)) => nm.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addresses: Vec<String> = arr_at(es, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]).iter())
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    let shown: Vec<String> = addresses.iter().take(MAX).cloned().collect();
    vec![
        s(name(es)),
        s(str_at(es, &["addressType"])),
        s(list_with_more(&port_list, ports.len(), MAX)),
        s(list_with_more(&shown, addresses.len(), MAX)),
        s(age(es, now)),
    ]
}
