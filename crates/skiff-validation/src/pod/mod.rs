//! PodSpec and PodTemplateSpec validation (core `validation.go`, pod parts).

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, child, has, index, int_at, key, obj_at, str_or_empty};
use crate::meta::{indexed_name, validate_annotations};
use crate::names::{
    inclusive_range_error, validate_config_map_key, validate_dns1123_label,
    validate_dns1123_subdomain, validate_env_var_name, validate_label_value, validate_port_name,
    validate_port_num, validate_qualified_name,
};
use crate::quantity::Quantity;
use crate::selector::validate_labels;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "grpc"];

/// Validates a PodTemplateSpec at `path` (e.g. `spec.template`).
pub fn validate_pod_template_spec(tmpl: &Value, path: &str) -> Vec<FieldError> {
    let meta = tmpl.get("metadata");
    let mut errs = validate_labels(meta.and_then(|m| m.get("labels")), &child(path, "labels"));
    errs.extend(validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        &child(path, "annotations"),
    ));
    let null = Value::Null;
    errs.extend(validate_pod_spec(
        tmpl.get("spec").unwrap_or(&null),
        &child(path, "spec"),
    ));
    if !arr_at(tmpl.get("spec").unwrap_or(&null), "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            child(path, "spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// Validates a PodSpec at `path` (e.g. `spec`).
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let volumes = validate_volumes(spec, &child(path, "volumes"), &mut errs);

    let containers = arr_at(spec, "containers");
    let cpath = child(path, "containers");
    let mut names = HashSet::new();
    if containers.is_empty() {
        errs.push(FieldError::required(&cpath, ""));
    }
    for (i, c) in containers.iter().enumerate() {
        errs.extend(validate_container(
            c,
            &index(&cpath, i),
            &volumes,
            &mut names,
        ));
        if has(c, "restartPolicy") {
            errs.push(FieldError::forbidden(
                child(&index(&cpath, i), "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let ipath = child(path, "initContainers");
    for (i, c) in arr_at(spec, "initContainers").iter().enumerate() {
        let p = index(&ipath, i);
        errs.extend(validate_container(c, &p, &volumes, &mut names));
        if let Some(rp) = c.get("restartPolicy").and_then(Value::as_str) {
            if rp != "Always" {
                errs.push(FieldError::not_supported(
                    child(&p, "restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
        }
        // Probes make sense only on sidecars (restartPolicy Always).
        if c.get("restartPolicy").and_then(Value::as_str) != Some("Always") {
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                if has(c, probe) {
                    errs.push(FieldError::forbidden(
                        child(&p, probe),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }

    match str_or_empty(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(child(path, "restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(path, "restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    match str_or_empty(spec, "dnsPolicy") {
        "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" => {}
        "None" => {
            if !has(spec, "dnsConfig") {
                errs.push(FieldError::required(
                    child(path, "dnsConfig"),
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
            }
        }
        "" => errs.push(FieldError::required(child(path, "dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(path, "dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(validate_labels(
        spec.get("nodeSelector"),
        &child(path, "nodeSelector"),
    ));
    for field in ["serviceAccountName", "priorityClassName"] {
        let v = str_or_empty(spec, field);
        if !v.is_empty() {
            for msg in validate_dns1123_subdomain(v) {
                errs.push(FieldError::invalid(child(path, field), v, msg));
            }
        }
    }
    for field in ["hostname", "subdomain"] {
        let v = str_or_empty(spec, field);
        if !v.is_empty() {
            for msg in validate_dns1123_label(v) {
                errs.push(FieldError::invalid(child(path, field), v, msg));
            }
        }
    }
    if let Some(ads) = int_at(spec, "activeDeadlineSeconds") {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            errs.push(FieldError::invalid(
                child(path, "activeDeadlineSeconds"),
                ads,
                inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    if let Some(g) = int_at(spec, "terminationGracePeriodSeconds") {
        if g < 0 {
            errs.push(FieldError::invalid(
                child(path, "terminationGracePeriodSeconds"),
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs.extend(validate_tolerations(spec, &child(path, "tolerations")));
    errs
}

/// Validates volumes and returns the set of declared names.
fn validate_volumes(spec: &Value, path: &str, errs: &mut Vec<FieldError>) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, vol) in arr_at(spec, "volumes").iter().enumerate() {
        let p = index(path, i);
        let sources: Vec<&String> = vol
            .as_object()
            .map(|m| m.keys().filter(|k| *k != "name").collect())
            .unwrap_or_default();
        if sources.is_empty() {
            errs.push(FieldError::required(&p, "must specify a volume type"));
        }
        for extra in sources.iter().skip(1) {
            errs.push(FieldError::forbidden(
                child(&p, extra),
                "may not specify more than 1 volume type",
            ));
        }
        if let Some(src) = sources.first() {
            let sv = vol.get(src.as_str()).unwrap_or(&Value::Null);
            let sp = child(&p, src);
            let required = match src.as_str() {
                "configMap" => Some("name"),
                "secret" => Some("secretName"),
                "persistentVolumeClaim" => Some("claimName"),
                "hostPath" => Some("path"),
                "nfs" => Some("server"),
                _ => None,
            };
            if let Some(field) = required {
                if str_or_empty(sv, field).is_empty() {
                    errs.push(FieldError::required(child(&sp, field), ""));
                }
            }
            for item in arr_at(sv, "items").iter().enumerate() {
                let (j, it) = item;
                if str_or_empty(it, "key").is_empty() {
                    errs.push(FieldError::required(
                        child(&index(&child(&sp, "items"), j), "key"),
                        "",
                    ));
                }
                if str_or_empty(it, "path").is_empty() {
                    errs.push(FieldError::required(
                        child(&index(&child(&sp, "items"), j), "path"),
                        "",
                    ));
                }
            }
        }
        let name = str_or_empty(vol, "name");
        let np = indexed_name(path, i);
        if name.is_empty() {
            errs.push(FieldError::required(&np, ""));
        } else {
            for msg in validate_dns1123_label(name) {
                errs.push(FieldError::invalid(&np, name, msg));
            }
        }
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&np, name));
        }
    }
    names
}

fn validate_container(
    c: &Value,
    path: &str,
    volumes: &HashSet<String>,
    names: &mut HashSet<String>,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_or_empty(c, "name");
    let np = child(path, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&np, ""));
    } else {
        for msg in validate_dns1123_label(name) {
            errs.push(FieldError::invalid(&np, name, msg));
        }
    }
    if !name.is_empty() && !names.insert(name.to_string()) {
        errs.push(FieldError::duplicate(&np, name));
    }
    let image = str_or_empty(c, "image");
    if image.is_empty() {
        errs.push(FieldError::required(child(path, "image"), ""));
    } else if image.trim() != image {
        errs.push(FieldError::invalid(
            child(path, "image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
    match str_or_empty(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(child(path, "imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(path, "imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    match str_or_empty(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            child(path, "terminationMessagePolicy"),
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
        other => errs.push(FieldError::not_supported(
            child(path, "terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_container_ports(c, &child(path, "ports")));
    errs.extend(validate_env(c, &child(path, "env")));
    errs.extend(validate_volume_mounts(
        c,
        &child(path, "volumeMounts"),
        volumes,
    ));
    errs.extend(validate_resources(
        c.get("resources"),
        &child(path, "resources"),
    ));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get(probe).filter(|p| !p.is_null()) {
            let pp = child(path, probe);
            errs.extend(validate_probe(p, &pp));
            if probe != "readinessProbe" {
                if let Some(st) = int_at(p, "successThreshold") {
                    if st != 1 {
                        errs.push(FieldError::invalid(
                            child(&pp, "successThreshold"),
                            st,
                            "must be 1",
                        ));
                    }
                }
            }
        }
    }
    errs
}

fn validate_container_ports(c: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, port) in arr_at(c, "ports").iter().enumerate() {
        let p = index(path, i);
        let name = str_or_empty(port, "name");
        if !name.is_empty() {
            let msgs = validate_port_name(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldError::invalid(child(&p, "name"), name, msg));
                }
            } else if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(child(&p, "name"), name));
            }
        }
        match int_at(port, "containerPort").unwrap_or(0) {
            0 => errs.push(FieldError::required(child(&p, "containerPort"), "")),
            n => {
                for msg in validate_port_num(n) {
                    errs.push(FieldError::invalid(child(&p, "containerPort"), n, msg));
                }
            }
        }
        let hp = int_at(port, "hostPort").unwrap_or(0);
        if hp != 0 {
            for msg in validate_port_num(hp) {
                errs.push(FieldError::invalid(child(&p, "hostPort"), hp, msg));
            }
        }
        errs.extend(validate_protocol(port, &child(&p, "protocol")));
    }
    errs
}

/// `protocol` must be TCP, UDP or SCTP (required: it is defaulted to TCP).
pub(crate) fn validate_protocol(port: &Value, path: &str) -> Vec<FieldError> {
    match str_or_empty(port, "protocol") {
        "" => vec![FieldError::required(path, "")],
        p if PROTOCOLS.contains(&p) => Vec::new(),
        other => vec![FieldError::not_supported(path, other, PROTOCOLS)],
    }
}

fn validate_env(c: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in arr_at(c, "env").iter().enumerate() {
        let p = index(path, i);
        let name = str_or_empty(ev, "name");
        if name.is_empty() {
            errs.push(FieldError::required(child(&p, "name"), ""));
        } else {
            for msg in validate_env_var_name(name) {
                errs.push(FieldError::invalid(child(&p, "name"), name, msg));
            }
        }
        let Some(vf) = ev.get("valueFrom").filter(|v| !v.is_null()) else {
            continue;
        };
        let vp = child(&p, "valueFrom");
        let sources: Vec<&str> = [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
        ]
        .into_iter()
        .filter(|k| has(vf, k))
        .collect();
        for src in &sources {
            let s = vf.get(*src).unwrap_or(&Value::Null);
            let sp = child(&vp, src);
            match *src {
                "configMapKeyRef" | "secretKeyRef" => {
                    let n = str_or_empty(s, "name");
                    if n.is_empty() {
                        errs.push(FieldError::required(child(&sp, "name"), ""));
                    } else {
                        for msg in validate_dns1123_subdomain(n) {
                            errs.push(FieldError::invalid(child(&sp, "name"), n, msg));
                        }
                    }
                    let k = str_or_empty(s, "key");
                    if k.is_empty() {
                        errs.push(FieldError::required(child(&sp, "key"), ""));
                    } else {
                        for msg in validate_config_map_key(k) {
                            errs.push(FieldError::invalid(child(&sp, "key"), k, msg));
                        }
                    }
                }
                "fieldRef" => {
                    if str_or_empty(s, "fieldPath").is_empty() {
                        errs.push(FieldError::required(child(&sp, "fieldPath"), ""));
                    }
                    if str_or_empty(s, "apiVersion").is_empty() {
                        errs.push(FieldError::required(child(&sp, "apiVersion"), ""));
                    }
                }
                _ => {
                    if str_or_empty(s, "resource").is_empty() {
                        errs.push(FieldError::required(child(&sp, "resource"), ""));
                    }
                }
            }
        }
        if sources.is_empty() {
            errs.push(FieldError::invalid(&vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
        } else if !str_or_empty(ev, "value").is_empty() {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources.len() > 1 {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_volume_mounts(c: &Value, path: &str, volumes: &HashSet<String>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut mount_points = HashSet::new();
    for (i, m) in arr_at(c, "volumeMounts").iter().enumerate() {
        let p = index(path, i);
        let name = str_or_empty(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(child(&p, "name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(FieldError::not_found(child(&p, "name"), name));
        }
        let mp = str_or_empty(m, "mountPath");
        if mp.is_empty() {
            errs.push(FieldError::required(child(&p, "mountPath"), ""));
        }
        if !mount_points.insert(mp.to_string()) {
            errs.push(FieldError::invalid(
                child(&p, "mountPath"),
                mp,
                "must be unique",
            ));
        }
        let sub = str_or_empty(m, "subPath");
        if !sub.is_empty() {
            if sub.starts_with('/') {
                errs.push(FieldError::invalid(
                    child(path, "subPath"),
                    sub,
                    "must be a relative path",
                ));
            }
            if sub.split('/').any(|part| part == "..") {
                errs.push(FieldError::invalid(
                    child(path, "subPath"),
                    sub,
                    "must not contain '..'",
                ));
            }
        }
    }
    errs
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Native resources (unprefixed or `kubernetes.io/`) other than huge pages may be overcommitted.
fn overcommit_allowed(name: &str) -> bool {
    (!name.contains('/') || name.contains("kubernetes.io/")) && !name.starts_with("hugepages-")
}

/// Validates container `resources` (limits, requests, request <= limit).
pub(crate) fn validate_resources(res: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(res) = res else {
        return errs;
    };
    let lim_path = child(path, "limits");
    let req_path = child(path, "requests");
    let limits = parse_resource_list(res, "limits", &lim_path, &mut errs);
    let requests = parse_resource_list(res, "requests", &req_path, &mut errs);
    for (name, q) in &requests {
        let Some((_, lim)) = limits.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let ord = q.cmp_value(lim);
        if ord != Ordering::Equal && !overcommit_allowed(name) {
            errs.push(FieldError::invalid(
                &req_path,
                q.canonical(),
                format!("must be equal to {name} limit of {}", lim.canonical()),
            ));
        } else if ord == Ordering::Greater {
            errs.push(FieldError::invalid(
                &req_path,
                q.canonical(),
                format!(
                    "must be less than or equal to {name} limit of {}",
                    lim.canonical()
                ),
            ));
        }
    }
    errs
}

fn parse_resource_list(
    res: &Value,
    field: &str,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> Vec<(String, Quantity)> {
    let mut out = Vec::new();
    let Some(map) = obj_at(res, field) else {
        return out;
    };
    for (name, v) in map {
        let p = key(path, name);
        for msg in validate_qualified_name(name) {
            errs.push(FieldError::invalid(&p, name.as_str(), msg));
        }
        if !name.contains('/') && !is_standard_container_resource(name) {
            errs.push(FieldError::invalid(
                &p,
                name.as_str(),
                "must be a standard resource for containers",
            ));
        }
        match Quantity::from_json(v) {
            Ok(q) => {
                if q.is_negative() {
                    errs.push(FieldError::invalid(
                        &p,
                        q.canonical(),
                        "must be greater than or equal to 0",
                    ));
                }
                out.push((name.clone(), q));
            }
            Err(e) => errs.push(FieldError::invalid(&p, v.clone(), e.to_string())),
        }
    }
    out
}

fn validate_probe(p: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let present: Vec<&str> = HANDLERS.iter().copied().filter(|h| has(p, h)).collect();
    if present.is_empty() {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    for extra in present.iter().skip(1) {
        errs.push(FieldError::forbidden(
            child(path, extra),
            "may not specify more than 1 handler type",
        ));
    }
    if let Some(h) = present.first() {
        let hv = p.get(*h).unwrap_or(&Value::Null);
        let hp = child(path, h);
        match *h {
            "exec" => {
                if arr_at(hv, "command").is_empty() {
                    errs.push(FieldError::required(child(&hp, "command"), ""));
                }
            }
            "httpGet" => {
                errs.extend(validate_port_num_or_name(
                    hv.get("port"),
                    &child(&hp, "port"),
                ));
                match str_or_empty(hv, "scheme") {
                    "HTTP" | "HTTPS" => {}
                    "" => errs.push(FieldError::required(child(&hp, "scheme"), "")),
                    other => errs.push(FieldError::not_supported(
                        child(&hp, "scheme"),
                        other,
                        &["HTTP", "HTTPS"],
                    )),
                }
            }
            "tcpSocket" => errs.extend(validate_port_num_or_name(
                hv.get("port"),
                &child(&hp, "port"),
            )),
            _ => {
                let port = int_at(hv, "port").unwrap_or(0);
                for msg in validate_port_num(port) {
                    errs.push(FieldError::invalid(child(&hp, "port"), port, msg));
                }
            }
        }
    }
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(n) = int_at(p, field) {
            if n < 0 {
                errs.push(FieldError::invalid(
                    child(path, field),
                    n,
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    if let Some(n) = int_at(p, "terminationGracePeriodSeconds") {
        if n <= 0 {
            errs.push(FieldError::invalid(
                child(path, "terminationGracePeriodSeconds"),
                n,
                "must be greater than 0",
            ));
        }
    }
    errs
}

/// An IntOrString port: a number in 1..=65535 or an IANA service name.
pub(crate) fn validate_port_num_or_name(port: Option<&Value>, path: &str) -> Vec<FieldError> {
    match port {
        Some(Value::String(s)) => validate_port_name(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, s.as_str(), m))
            .collect(),
        other => {
            let n = other.and_then(Value::as_i64).unwrap_or(0);
            validate_port_num(n)
                .into_iter()
                .map(|m| FieldError::invalid(path, n, m))
                .collect()
        }
    }
}

fn validate_tolerations(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in arr_at(spec, "tolerations").iter().enumerate() {
        let p = index(path, i);
        let k = str_or_empty(t, "key");
        if !k.is_empty() {
            for msg in validate_qualified_name(k) {
                errs.push(FieldError::invalid(child(&p, "key"), k, msg));
            }
        }
        let op = str_or_empty(t, "operator");
        if k.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                child(&p, "operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        let effect = str_or_empty(t, "effect");
        if has(t, "tolerationSeconds") && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                child(&p, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = str_or_empty(t, "value");
        match op {
            "Equal" | "" => {
                let msgs = validate_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        child(&p, "operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        child(&p, "operator"),
                        t.clone(),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                child(&p, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errs.push(FieldError::not_supported(
                child(&p, "effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errs
}

/// Fields a pod update may change (upstream `ValidatePodUpdate`, simplified): images,
/// activeDeadlineSeconds, tolerations (additions) and scheduling gates.
pub fn validate_pod_spec_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let strip = |spec: &Value| -> Value {
        let mut s = spec.clone();
        if let Some(m) = s.as_object_mut() {
            for k in [
                "activeDeadlineSeconds",
                "tolerations",
                "schedulingGates",
                "terminationGracePeriodSeconds",
            ] {
                m.remove(k);
            }
            for list in ["containers", "initContainers"] {
                if let Some(Value::Array(cs)) = m.get_mut(list) {
                    for c in cs.iter_mut() {
                        if let Some(cm) = c.as_object_mut() {
                            cm.remove("image");
                        }
                    }
                }
            }
        }
        s
    };
    let null = Value::Null;
    if strip(new.get("spec").unwrap_or(&null)) != strip(old.get("spec").unwrap_or(&null)) {
        return vec![FieldError::forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests;
