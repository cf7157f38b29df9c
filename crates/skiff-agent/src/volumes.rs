//! Pod volumes on the host: emptyDir, configMap, secret, downwardAPI, projected, hostPath and
//! persistentVolumeClaim, and the mounts each container gets (subPath, readOnly).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, DownwardAPIVolumeFile, KeyToPath, Pod, Volume};

use crate::atomic_writer::{write_atomic, FileEntry, Payload};
use crate::env::{field_value, resource_value, ConfigError, PodFacts, RefData};
use crate::sa_tokens::token_key;

/// Why volumes could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A source object or key is missing, or the spec is unsupported.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Writing on the host failed.
    #[error("volume {volume:?}: {source}")]
    Io {
        /// Volume name.
        volume: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// Where one volume lives on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedVolume {
    /// Host path ("" for tmpfs).
    pub path: PathBuf,
    /// Memory-backed emptyDir: mounted as tmpfs by the runtime.
    pub tmpfs: bool,
    /// Contents are managed by the agent (configMap, secret, …): always read-only.
    pub read_only: bool,
}

const DEFAULT_MODE: u32 = 0o644;

/// Create or refresh every volume of `pod` below `pod_dir`; returns name → host location.
/// Calling it again refreshes configMap/secret/downwardAPI contents in place.
pub fn prepare_volumes(
    pod: &Pod,
    pod_dir: &Path,
    refs: &RefData,
    facts: &PodFacts,
) -> Result<BTreeMap<String, PreparedVolume>, VolumeError> {
    let mut out = BTreeMap::new();
    for v in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
    {
        let io = |source| VolumeError::Io {
            volume: v.name.clone(),
            source,
        };
        let prepared = prepare_one(pod, v, pod_dir, refs, facts).map_err(|e| match e {
            PrepError::Io(e) => io(e),
            PrepError::Config(e) => VolumeError::Config(e),
        })?;
        out.insert(v.name.clone(), prepared);
    }
    Ok(out)
}

enum PrepError {
    Io(std::io::Error),
    Config(ConfigError),
}

impl From<std::io::Error> for PrepError {
    fn from(e: std::io::Error) -> Self {
        PrepError::Io(e)
    }
}

impl From<ConfigError> for PrepError {
    fn from(e: ConfigError) -> Self {
        PrepError::Config(e)
    }
}

fn managed(
    pod_dir: &Path,
    kind: &str,
    name: &str,
    payload: &Payload,
) -> Result<PreparedVolume, PrepError> {
    let dir = pod_dir.join("volumes").join(kind).join(name);
    write_atomic(&dir, payload)?;
    Ok(PreparedVolume {
        path: dir,
        tmpfs: false,
        read_only: true,
    })
}

fn prepare_one(
    pod: &Pod,
    v: &Volume,
    pod_dir: &Path,
    refs: &RefData,
    facts: &PodFacts,
) -> Result<PreparedVolume, PrepError> {
    if let Some(e) = &v.empty_dir {
        if e.medium.as_deref() == Some("Memory") {
            return Ok(PreparedVolume {
                path: PathBuf::new(),
                tmpfs: true,
                read_only: false,
            });
        }
        let dir = pod_dir.join("volumes").join("empty-dir").join(&v.name);
        std::fs::create_dir_all(&dir)?;
        return Ok(PreparedVolume {
            path: dir,
            tmpfs: false,
            read_only: false,
        });
    }
    if let Some(h) = &v.host_path {
        let path = PathBuf::from(&h.path);
        match h.type_.as_deref().unwrap_or("") {
            "DirectoryOrCreate" => std::fs::create_dir_all(&path)?,
            "FileOrCreate" if !path.exists() => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, b"")?;
            }
            "Directory" if !path.is_dir() => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("hostPath type check failed: {} is not a directory", h.path),
                )
                .into())
            }
            "File" if !path.is_file() => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("hostPath type check failed: {} is not a file", h.path),
                )
                .into())
            }
            _ => {}
        }
        return Ok(PreparedVolume {
            path,
            tmpfs: false,
            read_only: false,
        });
    }
    if let Some(pvc) = &v.persistent_volume_claim {
        let path = refs
            .pvc_paths
            .get(&pvc.claim_name)
            .cloned()
            .ok_or_else(|| {
                ConfigError::Unsupported(format!(
                    "persistentVolumeClaim {:?} without a bound hostPath/local volume",
                    pvc.claim_name
                ))
            })?;
        if !path.exists() {
            std::fs::create_dir_all(&path)?;
            // As k3s's local-path helper (`mkdir -m 0777`): pods running as any user can write.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))?;
        }
        return Ok(PreparedVolume {
            path,
            tmpfs: false,
            read_only: pvc.read_only == Some(true),
        });
    }
    if let Some(cm) = &v.config_map {
        let mode = cm.default_mode.map(|m| m as u32).unwrap_or(DEFAULT_MODE);
        let payload = match refs.configmaps.get(&cm.name) {
            Some(data) => {
                keyed_payload(data, cm.items.as_deref(), mode, "ConfigMap", pod, &cm.name)?
            }
            None if cm.optional == Some(true) => Payload::new(),
            None => return Err(ConfigError::ConfigMapNotFound(cm.name.clone()).into()),
        };
        return managed(pod_dir, "configmap", &v.name, &payload);
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let mode = s.default_mode.map(|m| m as u32).unwrap_or(DEFAULT_MODE);
        let payload = match refs.secrets.get(&name) {
            Some(data) => keyed_payload(data, s.items.as_deref(), mode, "Secret", pod, &name)?,
            None if s.optional == Some(true) => Payload::new(),
            None => return Err(ConfigError::SecretNotFound(name).into()),
        };
        return managed(pod_dir, "secret", &v.name, &payload);
    }
    if let Some(d) = &v.downward_api {
        let mode = d.default_mode.map(|m| m as u32).unwrap_or(DEFAULT_MODE);
        let payload = downward_payload(pod, d.items.as_deref().unwrap_or_default(), mode, facts)?;
        return managed(pod_dir, "downward-api", &v.name, &payload);
    }
    if let Some(p) = &v.projected {
        let mode = p.default_mode.map(|m| m as u32).unwrap_or(DEFAULT_MODE);
        let mut payload = Payload::new();
        for src in p.sources.iter().flatten() {
            if let Some(cm) = &src.config_map {
                match refs.configmaps.get(&cm.name) {
                    Some(data) => payload.extend(keyed_payload(
                        data,
                        cm.items.as_deref(),
                        mode,
                        "ConfigMap",
                        pod,
                        &cm.name,
                    )?),
                    None if cm.optional == Some(true) => {}
                    None => return Err(ConfigError::ConfigMapNotFound(cm.name.clone()).into()),
                }
            }
            if let Some(s) = &src.secret {
                match refs.secrets.get(&s.name) {
                    Some(data) => payload.extend(keyed_payload(
                        data,
                        s.items.as_deref(),
                        mode,
                        "Secret",
                        pod,
                        &s.name,
                    )?),
                    None if s.optional == Some(true) => {}
                    None => return Err(ConfigError::SecretNotFound(s.name.clone()).into()),
                }
            }
            if let Some(d) = &src.downward_api {
                payload.extend(downward_payload(
                    pod,
                    d.items.as_deref().unwrap_or_default(),
                    mode,
                    facts,
                )?);
            }
            if let Some(t) = &src.service_account_token {
                let key = token_key(t.audience.as_deref(), t.expiration_seconds);
                let token = refs.sa_tokens.get(&key).ok_or_else(|| {
                    std::io::Error::other(format!("failed to fetch token for audience {:?}", key.0))
                })?;
                payload.insert(
                    t.path.clone(),
                    FileEntry {
                        data: token.clone().into_bytes(),
                        mode,
                    },
                );
            }
            if src.cluster_trust_bundle.is_some() {
                return Err(ConfigError::Unsupported("projected clusterTrustBundle".into()).into());
            }
        }
        return managed(pod_dir, "projected", &v.name, &payload);
    }
    Err(ConfigError::Unsupported(format!("the volume type of {:?}", v.name)).into())
}

fn keyed_payload(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    mode: u32,
    kind: &'static str,
    pod: &Pod,
    name: &str,
) -> Result<Payload, ConfigError> {
    let mut out = Payload::new();
    match items {
        None | Some([]) => {
            for (k, v) in data {
                out.insert(
                    k.clone(),
                    FileEntry {
                        data: v.clone(),
                        mode,
                    },
                );
            }
        }
        Some(items) => {
            for it in items {
                let v = data.get(&it.key).ok_or_else(|| ConfigError::KeyNotFound {
                    kind,
                    namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                    name: name.to_string(),
                    key: it.key.clone(),
                })?;
                let m = it.mode.map(|m| m as u32).unwrap_or(mode);
                out.insert(
                    it.path.clone(),
                    FileEntry {
                        data: v.clone(),
                        mode: m,
                    },
                );
            }
        }
    }
    Ok(out)
}

fn downward_payload(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    mode: u32,
    facts: &PodFacts,
) -> Result<Payload, ConfigError> {
    let mut out = Payload::new();
    for it in items {
        let value = if let Some(f) = &it.field_ref {
            field_value(pod, &f.field_path, facts)?
        } else if let Some(r) = &it.resource_field_ref {
            let c = pod.spec.as_ref().and_then(|s| {
                s.containers
                    .iter()
                    .find(|c| Some(&c.name) == r.container_name.as_ref())
            });
            resource_value(
                c.and_then(|c| c.resources.as_ref()),
                &r.resource,
                r.divisor.as_ref().map(|d| d.0.as_str()),
                facts,
            )?
        } else {
            String::new()
        };
        let m = it.mode.map(|m| m as u32).unwrap_or(mode);
        out.insert(
            it.path.clone(),
            FileEntry {
                data: value.into_bytes(),
                mode: m,
            },
        );
    }
    Ok(out)
}

/// The mounts of one container from its volumeMounts.
pub fn container_mounts(
    c: &Container,
    volumes: &BTreeMap<String, PreparedVolume>,
) -> Result<Vec<skiff_cri::Mount>, VolumeError> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let v = volumes
            .get(&m.name)
            .ok_or_else(|| ConfigError::NoVolume(m.name.clone()))?;
        let mut source = v.path.clone();
        let sub = m.sub_path.as_deref().unwrap_or("");
        if !sub.is_empty() {
            let ok = Path::new(sub)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            if !ok || v.tmpfs {
                return Err(ConfigError::Unsupported(format!("subPath {sub:?}")).into());
            }
            source = source.join(sub);
            // As upstream: a missing subPath of a writable volume is created as a directory.
            if !source.exists() && !v.read_only {
                std::fs::create_dir_all(&source).map_err(|e| VolumeError::Io {
                    volume: m.name.clone(),
                    source: e,
                })?;
            }
        }
        out.push(skiff_cri::Mount {
            source,
            destination: m.mount_path.clone(),
            read_only: m.read_only == Some(true) || v.read_only,
            tmpfs: v.tmpfs,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volumes_and_mounts() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = tmp.path().join("host");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}},
            "spec": {
                "containers": [{"name": "c", "volumeMounts": [
                    {"name": "e", "mountPath": "/e"},
                    {"name": "e", "mountPath": "/sub", "subPath": "x/y"},
                    {"name": "cm", "mountPath": "/cm"},
                    {"name": "s", "mountPath": "/s"},
                    {"name": "d", "mountPath": "/d"},
                    {"name": "m", "mountPath": "/m"},
                    {"name": "h", "mountPath": "/h", "readOnly": true},
                    {"name": "pr", "mountPath": "/pr"}
                ]}],
                "volumes": [
                    {"name": "e", "emptyDir": {}},
                    {"name": "m", "emptyDir": {"medium": "Memory"}},
                    {"name": "cm", "configMap": {"name": "cm", "items": [{"key": "k", "path": "dir/file"}]}},
                    {"name": "s", "secret": {"secretName": "s", "defaultMode": 0o400}},
                    {"name": "d", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"name": "h", "hostPath": {"path": host.to_string_lossy(), "type": "DirectoryOrCreate"}},
                    {"name": "pr", "projected": {"sources": [{"configMap": {"name": "cm"}}, {"secret": {"name": "s"}},
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}
                ]
            }
        }))
        .expect("pod");
        let mut refs = RefData::default();
        refs.configmaps
            .insert("cm".into(), [("k".to_string(), b"v1".to_vec())].into());
        refs.secrets
            .insert("s".into(), [("pw".to_string(), b"sec".to_vec())].into());
        refs.sa_tokens
            .insert(("".to_string(), 3607), "jwt-1".to_string());
        let facts = PodFacts::default();
        let dir = tmp.path().join("pod");
        let vols = prepare_volumes(&pod, &dir, &refs, &facts).expect("volumes");
        let c = &pod.spec.as_ref().expect("spec").containers[0];
        let mounts = container_mounts(c, &vols).expect("mounts");
        assert_eq!(mounts.len(), 8);
        let m = |d: &str| {
            mounts
                .iter()
                .find(|m| m.destination == d)
                .cloned()
                .expect("mount")
        };
        assert!(m("/sub").source.ends_with("x/y") && m("/sub").source.is_dir());
        assert_eq!(
            std::fs::read_to_string(m("/cm").source.join("dir/file")).expect("cm"),
            "v1"
        );
        assert!(m("/cm").read_only);
        assert_eq!(
            std::fs::read_to_string(m("/s").source.join("pw")).expect("s"),
            "sec"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(m("/s").source.join("pw"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o400);
        assert_eq!(
            std::fs::read_to_string(m("/d").source.join("labels")).expect("d"),
            "a=\"b\""
        );
        assert!(m("/m").tmpfs);
        assert!(m("/h").read_only && host.is_dir());
        assert_eq!(
            std::fs::read_to_string(m("/pr").source.join("k")).expect("pr"),
            "v1"
        );
        assert_eq!(
            std::fs::read_to_string(m("/pr").source.join("pw")).expect("pr"),
            "sec"
        );

        assert_eq!(
            std::fs::read_to_string(m("/pr").source.join("token")).expect("token"),
            "jwt-1"
        );

        // A ConfigMap update is visible through the same mount source.
        refs.configmaps
            .insert("cm".into(), [("k".to_string(), b"v2".to_vec())].into());
        prepare_volumes(&pod, &dir, &refs, &facts).expect("refresh");
        assert_eq!(
            std::fs::read_to_string(m("/cm").source.join("dir/file")).expect("cm"),
            "v2"
        );

        refs.configmaps.clear();
        assert!(prepare_volumes(&pod, &dir, &refs, &facts).is_err());
    }
}
