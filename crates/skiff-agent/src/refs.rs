//! Fetching the ConfigMaps, Secrets and PersistentVolume paths a pod refers to.

use std::collections::BTreeSet;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret};
use kube::{Api, Client};

use crate::env::RefData;

/// Names of the ConfigMaps and Secrets `pod` refers to (env, envFrom, volumes).
fn referenced(pod: &Pod) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut cms, mut secrets, mut pvcs) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let Some(spec) = pod.spec.as_ref() else {
        return (cms, secrets, pvcs);
    };
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
    {
        for f in c.env_from.iter().flatten() {
            if let Some(r) = &f.config_map_ref {
                cms.insert(r.name.clone());
            }
            if let Some(r) = &f.secret_ref {
                secrets.insert(r.name.clone());
            }
        }
        for e in c.env.iter().flatten() {
            if let Some(src) = &e.value_from {
                if let Some(r) = &src.config_map_key_ref {
                    cms.insert(r.name.clone());
                }
                if let Some(r) = &src.secret_key_ref {
                    secrets.insert(r.name.clone());
                }
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            cms.insert(cm.name.clone());
        }
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            secrets.insert(s);
        }
        if let Some(p) = &v.persistent_volume_claim {
            pvcs.insert(p.claim_name.clone());
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &src.config_map {
                cms.insert(cm.name.clone());
            }
            if let Some(s) = &src.secret {
                secrets.insert(s.name.clone());
            }
        }
    }
    for s in spec.image_pull_secrets.iter().flatten() {
        secrets.insert(s.name.clone());
    }
    (cms, secrets, pvcs)
}

/// Read everything `pod` refers to. Missing objects are left out (the consumers decide whether
/// that is an error); other API failures are returned.
pub async fn fetch_refs(client: &Client, pod: &Pod) -> Result<RefData, kube::Error> {
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let (cms, secrets, pvcs) = referenced(pod);
    let mut out = RefData::default();
    let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    for name in cms {
        if let Some(cm) = cm_api.get_opt(&name).await? {
            let mut data: std::collections::BTreeMap<String, Vec<u8>> = cm
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect();
            data.extend(
                cm.binary_data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0)),
            );
            out.configmaps.insert(name, data);
        }
    }
    let secret_api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    for name in secrets {
        if let Some(s) = secret_api.get_opt(&name).await? {
            let mut data: std::collections::BTreeMap<String, Vec<u8>> = s
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            data.extend(
                s.string_data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.into_bytes())),
            );
            out.secrets.insert(name, data);
        }
    }
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let pv_api: Api<PersistentVolume> = Api::all(client.clone());
    for name in pvcs {
        let Some(pvc) = pvc_api.get_opt(&name).await? else {
            continue;
        };
        let Some(pv_name) = pvc
            .spec
            .and_then(|s| s.volume_name)
            .filter(|n| !n.is_empty())
        else {
            continue;
        };
        let Some(pv) = pv_api.get_opt(&pv_name).await? else {
            continue;
        };
        let spec = pv.spec.unwrap_or_default();
        let path = spec
            .host_path
            .map(|h| h.path)
            .or(spec.local.map(|l| l.path));
        if let Some(p) = path {
            out.pvc_paths.insert(name, PathBuf::from(p));
        }
    }
    out.sa_tokens = crate::sa_tokens::fetch_tokens(client, pod).await?;
    Ok(out)
}
