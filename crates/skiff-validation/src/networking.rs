//! networking.k8s.io/v1 Ingress, IngressClass and NetworkPolicy validation.

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, child, has, index, int_at, str_or_empty};
use crate::names::{
    is_ip, validate_dns1035_label, validate_dns1123_subdomain, validate_port_name,
    validate_port_num, validate_wildcard_dns1123_subdomain,
};
use crate::selector::validate_label_selector;

/// Ingress spec.
pub fn validate_ingress(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    let rules = arr_at(spec, "rules");
    if rules.is_empty() && !has(spec, "defaultBackend") {
        errs.push(FieldError::invalid(
            "spec",
            Value::Null,
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = spec.get("defaultBackend").filter(|b| !b.is_null()) {
        errs.extend(validate_backend(b, "spec.defaultBackend"));
    }
    for (i, rule) in rules.iter().enumerate() {
        let rp = index("spec.rules", i);
        let host = str_or_empty(rule, "host");
        if !host.is_empty() {
            if is_ip(host) {
                errs.push(FieldError::invalid(
                    child(&rp, "host"),
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
            let msgs = if host.contains('*') {
                validate_wildcard_dns1123_subdomain(host)
            } else {
                validate_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(child(&rp, "host"), host, msg));
            }
        }
        if let Some(http) = rule.get("http").filter(|h| !h.is_null()) {
            let hp = child(&rp, "http");
            let paths = arr_at(http, "paths");
            if paths.is_empty() {
                errs.push(FieldError::required(child(&hp, "paths"), ""));
            }
            for (j, p) in paths.iter().enumerate() {
                errs.extend(validate_http_path(p, &index(&child(&hp, "paths"), j)));
            }
        }
    }
    for (i, tls) in arr_at(spec, "tls").iter().enumerate() {
        for (j, h) in arr_at(tls, "hosts").iter().enumerate() {
            let host = h.as_str().unwrap_or("");
            let hp = index(&child(&index("spec.tls", i), "hosts"), j);
            let msgs = if host.contains('*') {
                validate_wildcard_dns1123_subdomain(host)
            } else {
                validate_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(&hp, host, msg));
            }
        }
    }
    if let Some(class) = spec
        .get("ingressClassName")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    {
        for msg in validate_dns1123_subdomain(class) {
            errs.push(FieldError::invalid("spec.ingressClassName", class, msg));
        }
    }
    errs
}

fn validate_http_path(p: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(pt) = p.get("pathType").and_then(Value::as_str) else {
        return vec![FieldError::required(
            child(path, "pathType"),
            "pathType must be specified",
        )];
    };
    let value = str_or_empty(p, "path");
    let pp = child(path, "path");
    match pt {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(&pp, value, "must be an absolute path"));
            }
            if !value.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if value.contains(seq) {
                        errs.push(FieldError::invalid(
                            &pp,
                            value,
                            format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if value.ends_with(suffix) {
                        errs.push(FieldError::invalid(
                            &pp,
                            value,
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(&pp, value, "must be an absolute path"));
            }
        }
        other => errs.push(FieldError::not_supported(
            child(path, "pathType"),
            other,
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    let null = Value::Null;
    errs.extend(validate_backend(
        p.get("backend").unwrap_or(&null),
        &child(path, "backend"),
    ));
    errs
}

fn validate_backend(b: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match (
        has(b, "resource"),
        b.get("service").filter(|s| !s.is_null()),
    ) {
        (true, Some(_)) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (true, None) => {
            let r = b.get("resource").unwrap_or(&Value::Null);
            for f in ["kind", "name"] {
                if str_or_empty(r, f).is_empty() {
                    errs.push(FieldError::required(child(&child(path, "resource"), f), ""));
                }
            }
        }
        (false, Some(svc)) => {
            let name = str_or_empty(svc, "name");
            if name.is_empty() {
                errs.push(FieldError::required(child(path, "service.name"), ""));
            } else {
                for msg in validate_dns1035_label(name) {
                    errs.push(FieldError::invalid(child(path, "service.name"), name, msg));
                }
            }
            let null = Value::Null;
            let port = svc.get("port").unwrap_or(&null);
            let pname = str_or_empty(port, "name");
            let pnum = int_at(port, "number").unwrap_or(0);
            if !pname.is_empty() && pnum != 0 {
                errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                ));
            } else if !pname.is_empty() {
                for msg in validate_port_name(pname) {
                    errs.push(FieldError::invalid(
                        child(path, "service.port.name"),
                        pname,
                        msg,
                    ));
                }
            } else if pnum != 0 {
                for msg in validate_port_num(pnum) {
                    errs.push(FieldError::invalid(
                        child(path, "service.port.number"),
                        pnum,
                        msg,
                    ));
                }
            } else {
                errs.push(FieldError::required(
                    path,
                    "port name or number is required",
                ));
            }
        }
        (false, None) => errs.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
    }
    errs
}

/// IngressClass: controller is required and a domain-prefixed path.
pub fn validate_ingress_class(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let controller = str_or_empty(spec, "controller");
    if controller.is_empty() {
        return vec![FieldError::required("spec.controller", "")];
    }
    match controller.split_once('/') {
        Some((host, rest)) if !host.is_empty() && !rest.is_empty() => {
            validate_dns1123_subdomain(host)
                .into_iter()
                .map(|m| FieldError::invalid("spec.controller", host, m))
                .collect()
        }
        _ => vec![FieldError::invalid(
            "spec.controller",
            controller,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )],
    }
}

/// NetworkPolicy spec.
pub fn validate_network_policy(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs =
        validate_label_selector(spec.get("podSelector").unwrap_or(&null), "spec.podSelector");
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in arr_at(spec, dir).iter().enumerate() {
            let rp = index(&child("spec", dir), i);
            for (j, port) in arr_at(rule, "ports").iter().enumerate() {
                errs.extend(validate_np_port(port, &index(&child(&rp, "ports"), j)));
            }
            for (j, peer) in arr_at(rule, peers).iter().enumerate() {
                errs.extend(validate_peer(peer, &index(&child(&rp, peers), j)));
            }
        }
    }
    let types = arr_at(spec, "policyTypes");
    if types.len() > 2 {
        errs.push(FieldError::invalid(
            "spec.policyTypes",
            Value::Array(types.to_vec()),
            "may not specify more than two policyTypes",
        ));
        return errs;
    }
    for (i, t) in types.iter().enumerate() {
        let t = t.as_str().unwrap_or("");
        if !matches!(t, "Ingress" | "Egress") {
            errs.push(FieldError::not_supported(
                index("spec.policyTypes", i),
                t,
                &["Ingress", "Egress"],
            ));
        }
    }
    errs
}

fn validate_np_port(port: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(proto) = port.get("protocol").and_then(Value::as_str) {
        if !matches!(proto, "TCP" | "UDP" | "SCTP") {
            errs.push(FieldError::not_supported(
                child(path, "protocol"),
                proto,
                &["TCP", "UDP", "SCTP"],
            ));
        }
    }
    let end = int_at(port, "endPort");
    match port.get("port").filter(|p| !p.is_null()) {
        Some(Value::String(name)) => {
            if let Some(e) = end {
                errs.push(FieldError::invalid(
                    child(path, "endPort"),
                    e,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for msg in validate_port_name(name) {
                errs.push(FieldError::invalid(child(path, "port"), name.as_str(), msg));
            }
        }
        Some(p) => {
            let n = p.as_i64().unwrap_or(0);
            for msg in validate_port_num(n) {
                errs.push(FieldError::invalid(child(path, "port"), n, msg));
            }
            if let Some(e) = end {
                if e < n {
                    errs.push(FieldError::invalid(
                        child(path, "endPort"),
                        n,
                        "must be greater than or equal to `port`",
                    ));
                }
                for msg in validate_port_num(e) {
                    errs.push(FieldError::invalid(child(path, "endPort"), e, msg));
                }
            }
        }
        None => {
            if let Some(e) = end {
                errs.push(FieldError::invalid(
                    child(path, "endPort"),
                    e,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
    errs
}

fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn cidr_contains(outer: (std::net::IpAddr, u8), inner: (std::net::IpAddr, u8)) -> bool {
    let to_bits = |ip: std::net::IpAddr| -> (u128, u32) {
        match ip {
            std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
            std::net::IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    };
    let ((o, ow), (i, iw)) = (to_bits(outer.0), to_bits(inner.0));
    if ow != iw || inner.1 <= outer.1 {
        return false;
    }
    let mask = if outer.1 == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(outer.1))
    };
    (o & mask) == (i & mask)
}

fn validate_peer(peer: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    for sel in ["podSelector", "namespaceSelector"] {
        if let Some(s) = peer.get(sel).filter(|s| !s.is_null()) {
            count += 1;
            errs.extend(validate_label_selector(s, &child(path, sel)));
        }
    }
    let ip_block = peer.get("ipBlock").filter(|b| !b.is_null());
    if let Some(b) = ip_block {
        count += 1;
        let bp = child(path, "ipBlock");
        let cidr = str_or_empty(b, "cidr");
        if cidr.is_empty() {
            errs.push(FieldError::required(child(&bp, "cidr"), ""));
        } else if let Some(outer) = parse_cidr(cidr) {
            for (i, ex) in arr_at(b, "except").iter().enumerate() {
                let ex = ex.as_str().unwrap_or("");
                let ep = index(&child(&bp, "except"), i);
                match parse_cidr(ex) {
                    None => errs.push(FieldError::invalid(
                        &ep,
                        ex,
                        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                    )),
                    Some(inner) if !cidr_contains(outer, inner) => errs.push(FieldError::invalid(
                        &ep,
                        ex,
                        "must be a strict subset of `cidr`",
                    )),
                    Some(_) => {}
                }
            }
        } else {
            errs.push(FieldError::invalid(
                child(&bp, "cidr"),
                cidr,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a peer"));
    } else if count > 1 && ip_block.is_some() {
        errs.push(FieldError::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn ingress(paths: Value) -> Value {
        json!({"spec": {"rules": [{"host": "api.b2connect.com", "http": {"paths": paths}}]}})
    }

    #[test]
    fn ingress_table() {
        let backend = json!({"service": {"name": "api-gateway", "port": {"number": 80}}});
        let cases = [
            (ingress(json!([{"path": "/", "pathType": "Prefix", "backend": backend}])), vec![]),
            (ingress(json!([{"path": "/", "backend": backend}])), vec!["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]),
            (ingress(json!([{"path": "api", "pathType": "Prefix", "backend": backend}])), vec!["spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path"]),
            (ingress(json!([{"path": "/", "pathType": "Glob", "backend": backend}])), vec!["spec.rules[0].http.paths[0].pathType: Unsupported value: \"Glob\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""]),
            (ingress(json!([{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "svc", "port": {}}}}])), vec!["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"]),
            (ingress(json!([])), vec!["spec.rules[0].http.paths: Required value"]),
            (json!({"spec": {}}), vec!["spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"]),
            (json!({"spec": {"rules": [{"host": "10.0.0.1"}]}}), vec!["spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address"]),
        ];
        for (obj, want) in cases {
            assert_eq!(msgs(validate_ingress(&obj)), want, "{obj}");
        }
    }

    #[test]
    fn network_policy_table() {
        let cases = [
            (json!({"spec": {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 80}]}], "policyTypes": ["Ingress"]}}), vec![]),
            (json!({"spec": {"podSelector": {}, "ingress": [{"from": [{}]}]}}), vec!["spec.ingress[0].from[0]: Required value: must specify a peer"]),
            (json!({"spec": {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}]}}), vec!["spec.egress[0].to[0].ipBlock.except[0]: Invalid value: \"11.0.0.0/16\": must be a strict subset of `cidr`"]),
            (json!({"spec": {"podSelector": {}, "policyTypes": ["Both"]}}), vec!["spec.policyTypes[0]: Unsupported value: \"Both\": supported values: \"Ingress\", \"Egress\""]),
            (json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}}), vec!["spec.ingress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to `port`"]),
        ];
        for (obj, want) in cases {
            assert_eq!(msgs(validate_network_policy(&obj)), want, "{obj}");
        }
    }
}
