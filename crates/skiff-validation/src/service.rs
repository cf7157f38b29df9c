//! core/v1 Service validation (`ValidateService`, `ValidateServiceUpdate`).

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::error::FieldError;
use crate::json::{arr_at, child, index, int_at, str_or_empty};
use crate::names::{is_ip, validate_dns1123_label, validate_dns1123_subdomain, validate_port_num};
use crate::pod::{validate_port_num_or_name, validate_protocol};
use crate::selector::validate_labels;

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const KUBELET_PORT: i64 = 10250;

fn cluster_ips(spec: &Value) -> Vec<&str> {
    let list: Vec<&str> = arr_at(spec, "clusterIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !list.is_empty() {
        return list;
    }
    match str_or_empty(spec, "clusterIP") {
        "" => Vec::new(),
        ip => vec![ip],
    }
}

fn is_headless(spec: &Value) -> bool {
    cluster_ips(spec).first() == Some(&"None")
}

/// Validates a Service spec.
pub fn validate_service(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    let ty = str_or_empty(spec, "type");
    let ports = arr_at(spec, "ports");
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let ips = cluster_ips(spec);
    match ty {
        "LoadBalancer" | "NodePort" => {
            if headless {
                errs.push(FieldError::invalid(
                    "spec.clusterIPs[0]",
                    "None",
                    format!("may not be set to 'None' for {ty} services"),
                ));
            }
            if ty == "LoadBalancer" {
                for (i, p) in ports.iter().enumerate() {
                    if int_at(p, "port") == Some(KUBELET_PORT) {
                        errs.push(FieldError::invalid(
                            index("spec.ports", i),
                            KUBELET_PORT,
                            "may not expose port 10250 externally since it is used by kubelet",
                        ));
                    }
                }
            }
        }
        "ExternalName" => {
            if !ips.is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !arr_at(spec, "ipFamilies").is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if spec.get("ipFamilyPolicy").is_some_and(|v| !v.is_null()) {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let cname = str_or_empty(spec, "externalName");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                for msg in validate_dns1123_subdomain(cname) {
                    errs.push(FieldError::invalid("spec.externalName", cname, msg));
                }
            }
        }
        _ => {}
    }
    for (i, ip) in ips.iter().enumerate() {
        if *ip == "None" {
            if i > 0 || ips.len() > 1 {
                errs.push(FieldError::invalid(
                    index("spec.clusterIPs", i),
                    *ip,
                    "'None' must be the first and only value",
                ));
            }
        } else if !is_ip(ip) {
            errs.push(FieldError::invalid(
                index("spec.clusterIPs", i),
                *ip,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    let single = str_or_empty(spec, "clusterIP");
    if !single.is_empty() && ips.first() != Some(&single) {
        errs.push(FieldError::invalid(
            "spec.clusterIPs",
            json!(ips),
            "first value must match `clusterIP`",
        ));
    }

    let mut names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = index("spec.ports", i);
        let name = str_or_empty(p, "name");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(child(&pp, "name"), ""));
        } else if !name.is_empty() {
            for msg in validate_dns1123_label(name) {
                errs.push(FieldError::invalid(child(&pp, "name"), name, msg));
            }
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(child(&pp, "name"), name));
            }
        }
        let port = int_at(p, "port").unwrap_or(0);
        for msg in validate_port_num(port) {
            errs.push(FieldError::invalid(child(&pp, "port"), port, msg));
        }
        errs.extend(validate_protocol(p, &child(&pp, "protocol")));
        errs.extend(validate_port_num_or_name(
            p.get("targetPort"),
            &child(&pp, "targetPort"),
        ));
    }
    if spec.get("selector").is_some_and(Value::is_object) {
        errs.extend(validate_labels(spec.get("selector"), "spec.selector"));
    }
    match str_or_empty(spec, "sessionAffinity") {
        "" => errs.push(FieldError::required("spec.sessionAffinity", "")),
        "None" | "ClientIP" => {}
        other => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }
    match ty {
        "" => errs.push(FieldError::required("spec.type", "")),
        t if SERVICE_TYPES.contains(&t) => {}
        other => errs.push(FieldError::not_supported("spec.type", other, SERVICE_TYPES)),
    }
    if ty == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if int_at(p, "nodePort").unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    child(&index("spec.ports", i), "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = HashSet::new();
    let mut seen = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = index("spec.ports", i);
        let proto = str_or_empty(p, "protocol").to_string();
        let np = int_at(p, "nodePort").unwrap_or(0);
        if np != 0 && !node_ports.insert((proto.clone(), np)) {
            errs.push(FieldError::duplicate(child(&pp, "nodePort"), np));
        }
        let port = int_at(p, "port").unwrap_or(0);
        if !seen.insert((proto.clone(), port)) {
            // Upstream prints the internal ServicePort struct, which has no JSON tags.
            let key = json!({"Name": "", "Protocol": proto, "AppProtocol": null, "Port": port, "TargetPort": 0, "NodePort": 0});
            errs.push(FieldError::duplicate(pp, key));
        }
    }
    let etp = str_or_empty(spec, "externalTrafficPolicy");
    if !etp.is_empty() {
        if !matches!(ty, "NodePort" | "LoadBalancer") && arr_at(spec, "externalIPs").is_empty() {
            errs.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                etp,
                "may only be set for externally-accessible services",
            ));
        } else if !matches!(etp, "Cluster" | "Local") {
            errs.push(FieldError::not_supported(
                "spec.externalTrafficPolicy",
                etp,
                &["Cluster", "Local"],
            ));
        }
    }
    if let Some(itp) = spec.get("internalTrafficPolicy").and_then(Value::as_str) {
        if !matches!(itp, "Cluster" | "Local") {
            errs.push(FieldError::not_supported(
                "spec.internalTrafficPolicy",
                itp,
                &["Cluster", "Local"],
            ));
        }
    }
    if let Some(pol) = spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        if !matches!(pol, "SingleStack" | "PreferDualStack" | "RequireDualStack") {
            errs.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                pol,
                &["PreferDualStack", "RequireDualStack", "SingleStack"],
            ));
        }
    }
    for (i, fam) in arr_at(spec, "ipFamilies").iter().enumerate() {
        let f = fam.as_str().unwrap_or("");
        if !matches!(f, "IPv4" | "IPv6") {
            errs.push(FieldError::not_supported(
                index("spec.ipFamilies", i),
                f,
                &["IPv4", "IPv6"],
            ));
        }
    }
    errs
}

/// Update rules: an allocated cluster IP may not change (unless moving to/from ExternalName).
pub fn validate_service_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let (ns, os) = (
        new.get("spec").unwrap_or(&null),
        old.get("spec").unwrap_or(&null),
    );
    let mut errs = Vec::new();
    let external =
        str_or_empty(ns, "type") == "ExternalName" || str_or_empty(os, "type") == "ExternalName";
    let (new_ips, old_ips) = (cluster_ips(ns), cluster_ips(os));
    // An empty new value means "keep what was allocated"; the server copies it over.
    if !external && !old_ips.is_empty() && !new_ips.is_empty() && new_ips.first() != old_ips.first()
    {
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            json!(new_ips),
            "may not change once set",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "d"}, "spec": spec})
    }

    fn msgs(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn service_table() {
        let base = || json!({"type": "ClusterIP", "sessionAffinity": "None", "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]});
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (base(), vec![]),
            (json!({"type": "ClusterIP", "sessionAffinity": "None"}), vec!["spec.ports: Required value"]),
            (json!({"type": "ClusterIP", "sessionAffinity": "None", "clusterIP": "None"}), vec![]),
            (json!({"type": "ExternalName", "sessionAffinity": "None", "externalName": "db.example.com"}), vec![]),
            (json!({"type": "ExternalName", "sessionAffinity": "None"}), vec!["spec.externalName: Required value"]),
            (
                json!({"type": "Bogus", "sessionAffinity": "None", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}),
                vec!["spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""],
            ),
            (
                json!({"type": "ClusterIP", "sessionAffinity": "None", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"name": "b", "port": 0, "protocol": "TCP", "targetPort": 80}]}),
                vec!["spec.ports[0].name: Required value", "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive"],
            ),
            (
                json!({"type": "ClusterIP", "sessionAffinity": "None", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30001}]}),
                vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
            ),
            (
                json!({"type": "ClusterIP", "sessionAffinity": "None", "ports": [{"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}, {"name": "a", "port": 81, "protocol": "TCP", "targetPort": 81}]}),
                vec!["spec.ports[1].name: Duplicate value: \"a\""],
            ),
            (
                json!({"type": "ClusterIP", "sessionAffinity": "None", "clusterIP": "10.0.0.300", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}),
                vec!["spec.clusterIPs[0]: Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(msgs(validate_service(&svc(spec.clone()))), want, "{spec}");
        }
    }

    #[test]
    fn cluster_ip_immutable() {
        let old = svc(
            json!({"type": "ClusterIP", "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"]}),
        );
        let same = old.clone();
        assert!(validate_service_update(&same, &old).is_empty());
        let headless =
            svc(json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}));
        assert_eq!(
            msgs(validate_service_update(&headless, &old)),
            vec!["spec.clusterIPs[0]: Invalid value: [\"None\"]: may not change once set"]
        );
        let unset = svc(json!({"type": "ClusterIP"}));
        assert!(validate_service_update(&unset, &old).is_empty());
    }
}
