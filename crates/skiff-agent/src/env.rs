//! Container environment: envFrom, env with valueFrom, and `$(VAR)` expansion, as upstream.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};

use crate::quantity::{parse_int, parse_millicores};

/// ConfigMap and Secret contents a pod refers to, fetched before its containers are built.
/// A name absent from the map does not exist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RefData {
    /// ConfigMap name → key → value (data and binaryData).
    pub configmaps: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Secret name → key → value.
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// PersistentVolumeClaim name → host directory of its bound volume (hostPath/local).
    pub pvc_paths: BTreeMap<String, std::path::PathBuf>,
    /// Projected service account tokens by (audience, expirationSeconds).
    pub sa_tokens: BTreeMap<crate::sa_tokens::TokenKey, String>,
}

/// Facts about the pod only the agent knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodFacts {
    /// The pod's IP.
    pub pod_ip: String,
    /// The node's IP.
    pub host_ip: String,
    /// Node allocatable CPU in millicores (the default of limits.cpu).
    pub node_cpu_millis: i64,
    /// Node allocatable memory in bytes (the default of limits.memory).
    pub node_memory: i64,
}

/// Why a container's configuration could not be built (reason CreateContainerConfigError).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A referenced ConfigMap does not exist.
    #[error("configmap \"{0}\" not found")]
    ConfigMapNotFound(String),
    /// A referenced Secret does not exist.
    #[error("secret \"{0}\" not found")]
    SecretNotFound(String),
    /// A referenced key is missing.
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    KeyNotFound {
        /// ConfigMap or Secret.
        kind: &'static str,
        /// Namespace.
        namespace: String,
        /// Object name.
        name: String,
        /// Key.
        key: String,
    },
    /// A fieldRef or resourceFieldRef names something unsupported.
    #[error("unsupported field reference {0:?}")]
    UnsupportedField(String),
    /// A quantity in the spec is malformed.
    #[error(transparent)]
    Quantity(#[from] crate::quantity::QuantityError),
    /// runAsNonRoot is violated.
    #[error("container has runAsNonRoot and image will run as root")]
    RunAsRoot,
    /// runAsNonRoot with a non-numeric image user.
    #[error("container has runAsNonRoot and image has non-numeric user ({0}), cannot verify user is non-root")]
    NonNumericUser(String),
    /// A volume mount names no volume of the pod.
    #[error("cannot find volume {0:?} to mount into container")]
    NoVolume(String),
    /// Something the agent does not support yet.
    #[error("{0} is not supported yet")]
    Unsupported(String),
}

/// Expand `$(VAR)` from `env` (last definition wins); `$$` escapes; unknown references stay.
pub fn expand(s: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The value a fieldRef path selects.
pub fn field_value(pod: &Pod, path: &str, facts: &PodFacts) -> Result<String, ConfigError> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let bracket = |prefix: &str| -> Option<String> {
        path.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('['))
            .and_then(|r| r.strip_suffix(']'))
            .map(|k| k.trim_matches(['\'', '"']).to_string())
    };
    let v = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => facts.pod_ip.clone(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.clone(),
        "metadata.labels" => kv_lines(meta.labels.as_ref()),
        "metadata.annotations" => kv_lines(meta.annotations.as_ref()),
        _ => {
            if let Some(k) = bracket("metadata.labels") {
                meta.labels
                    .as_ref()
                    .and_then(|l| l.get(&k).cloned())
                    .unwrap_or_default()
            } else if let Some(k) = bracket("metadata.annotations") {
                meta.annotations
                    .as_ref()
                    .and_then(|l| l.get(&k).cloned())
                    .unwrap_or_default()
            } else {
                return Err(ConfigError::UnsupportedField(path.to_string()));
            }
        }
    };
    Ok(v)
}

fn kv_lines(m: Option<&BTreeMap<String, String>>) -> String {
    m.map(|m| {
        m.iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .unwrap_or_default()
}

/// The value a resourceFieldRef selects, divided by its divisor and rounded up.
pub fn resource_value(
    res: Option<&ResourceRequirements>,
    resource: &str,
    divisor: Option<&str>,
    facts: &PodFacts,
) -> Result<String, ConfigError> {
    let get = |limits: bool, name: &str| -> Option<String> {
        let r = res?;
        let m = if limits {
            r.limits.as_ref()
        } else {
            r.requests.as_ref()
        }?;
        m.get(name).map(|q| q.0.clone())
    };
    let divisor = divisor.filter(|d| !d.is_empty() && *d != "0");
    match resource {
        "limits.cpu" | "requests.cpu" => {
            let limits = resource.starts_with("limits");
            let millis = match get(limits, "cpu") {
                Some(q) => parse_millicores(&q)?,
                None if limits => facts.node_cpu_millis,
                None => 0,
            };
            let div = match divisor {
                Some(d) => parse_millicores(d)?.max(1),
                None => 1000,
            };
            Ok(((millis + div - 1) / div).to_string())
        }
        "limits.memory"
        | "requests.memory"
        | "limits.ephemeral-storage"
        | "requests.ephemeral-storage" => {
            let limits = resource.starts_with("limits");
            let name = resource.split('.').nth(1).unwrap_or("memory");
            let bytes = match get(limits, name) {
                Some(q) => parse_int(&q)?,
                None if limits && name == "memory" => facts.node_memory,
                None => 0,
            };
            let div = match divisor {
                Some(d) => parse_int(d)?.max(1),
                None => 1,
            };
            Ok(((bytes + div - 1) / div).to_string())
        }
        other => Err(ConfigError::UnsupportedField(other.to_string())),
    }
}

/// The container's environment in definition order: image ENV, envFrom, then env (later
/// definitions override earlier ones of the same name, keeping the first position).
pub fn resolve_env(
    pod: &Pod,
    c: &Container,
    image_env: &[String],
    refs: &RefData,
    facts: &PodFacts,
) -> Result<Vec<(String, String)>, ConfigError> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    let set = |out: &mut Vec<(String, String)>, k: String, v: String| {
        if let Some(slot) = out.iter_mut().find(|(n, _)| *n == k) {
            slot.1 = v;
        } else {
            out.push((k, v));
        }
    };
    for kv in image_env {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        set(&mut out, k.to_string(), v.to_string());
    }
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match refs.configmaps.get(&r.name) {
                Some(data) => {
                    for (k, v) in data {
                        set(
                            &mut out,
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(v).into_owned(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError::ConfigMapNotFound(r.name.clone())),
            }
        }
        if let Some(r) = &from.secret_ref {
            match refs.secrets.get(&r.name) {
                Some(data) => {
                    for (k, v) in data {
                        set(
                            &mut out,
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(v).into_owned(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError::SecretNotFound(r.name.clone())),
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(src) = &e.value_from {
            if let Some(r) = &src.config_map_key_ref {
                match key_value(refs, Source::ConfigMap, &r.name, &r.key, r.optional, &ns)? {
                    Some(v) => v,
                    None => continue,
                }
            } else if let Some(r) = &src.secret_key_ref {
                match key_value(refs, Source::Secret, &r.name, &r.key, r.optional, &ns)? {
                    Some(v) => v,
                    None => continue,
                }
            } else if let Some(f) = &src.field_ref {
                field_value(pod, &f.field_path, facts)?
            } else if let Some(r) = &src.resource_field_ref {
                resource_value(
                    c.resources.as_ref(),
                    &r.resource,
                    r.divisor.as_ref().map(|d| d.0.as_str()),
                    facts,
                )?
            } else {
                String::new()
            }
        } else {
            expand(e.value.as_deref().unwrap_or_default(), &out)
        };
        set(&mut out, e.name.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expansion_table() {
        let env = vec![("A".to_string(), "x".to_string())];
        for (input, want) in [
            ("$(A)", "x"),
            ("a$(A)b", "axb"),
            ("$$(A)", "$(A)"),
            ("$(B)", "$(B)"),
            ("$(A", "$(A"),
            ("cost $5", "cost $5"),
        ] {
            assert_eq!(expand(input, &env), want, "{input}");
        }
    }

    #[test]
    fn env_sources() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{
                "name": "c",
                "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}},
                "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
                "env": [
                    {"name": "PLAIN", "value": "v"},
                    {"name": "REF", "value": "$(PLAIN)-$(CM_k)"},
                    {"name": "S", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                    {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": true}}},
                    {"name": "IMG", "value": "over"}
                ]
            }]}
        }))
        .expect("pod");
        let mut refs = RefData::default();
        refs.configmaps
            .insert("cm".into(), [("k".to_string(), b"cv".to_vec())].into());
        refs.secrets.insert(
            "sec".into(),
            [("pw".to_string(), b"hunter2".to_vec())].into(),
        );
        let facts = PodFacts {
            pod_ip: "10.42.0.5".into(),
            host_ip: "1.2.3.4".into(),
            ..Default::default()
        };
        let c = &pod.spec.as_ref().expect("spec").containers[0];
        let env = resolve_env(
            &pod,
            c,
            &["IMG=base".to_string(), "PATH=/bin".to_string()],
            &refs,
            &facts,
        )
        .expect("env");
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH"), Some("/bin"));
        assert_eq!(get("IMG"), Some("over"));
        assert_eq!(get("CM_k"), Some("cv"));
        assert_eq!(get("REF"), Some("v-cv"));
        assert_eq!(get("S"), Some("hunter2"));
        assert_eq!(get("NODE"), Some("n1"));
        assert_eq!(get("APP"), Some("web"));
        assert_eq!(get("IP"), Some("10.42.0.5"));
        assert_eq!(get("MEM"), Some("64"));
        assert_eq!(get("CPU"), Some("250"));
        assert_eq!(get("OPT"), None);

        let missing = RefData::default();
        let err = resolve_env(&pod, c, &[], &missing, &facts).expect_err("missing cm");
        assert_eq!(err.to_string(), "configmap \"cm\" not found");
    }
}

/// Where an env value comes from.
#[derive(Clone, Copy)]
enum Source {
    ConfigMap,
    Secret,
}

/// The value of `key` in ConfigMap or Secret `name`; None when it is missing but optional.
fn key_value(
    refs: &RefData,
    source: Source,
    name: &str,
    key: &str,
    optional: Option<bool>,
    ns: &str,
) -> Result<Option<String>, ConfigError> {
    let (objects, kind) = match source {
        Source::ConfigMap => (&refs.configmaps, "ConfigMap"),
        Source::Secret => (&refs.secrets, "Secret"),
    };
    match objects.get(name).map(|d| d.get(key)) {
        Some(Some(v)) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
        _ if optional == Some(true) => Ok(None),
        None => Err(match source {
            Source::ConfigMap => ConfigError::ConfigMapNotFound(name.to_string()),
            Source::Secret => ConfigError::SecretNotFound(name.to_string()),
        }),
        Some(None) => Err(ConfigError::KeyNotFound {
            kind,
            namespace: ns.to_string(),
            name: name.to_string(),
            key: key.to_string(),
        }),
    }
}
