//! A small pod/deployment schema table for unit tests, mirroring the v1.33 OpenAPI facts.

use crate::meta::{FieldInfo, PatchMeta};

/// Pod and Deployment fields with their real patch strategies and list types.
pub(crate) struct PodMeta;

fn info(
    strategy: Option<&str>,
    key: Option<&str>,
    list_type: Option<&str>,
    keys: &[&str],
) -> FieldInfo {
    FieldInfo {
        patch_strategy: strategy.map(str::to_owned),
        patch_merge_key: key.map(str::to_owned),
        list_type: list_type.map(str::to_owned),
        list_map_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        map_type: None,
    }
}

impl PatchMeta for PodMeta {
    fn field(&self, path: &[&str]) -> FieldInfo {
        // A deployment's pod spec sits under spec.template; strip that to share the table.
        let pod_path: &[&str] = match path {
            ["spec", "template", rest @ ..] => rest,
            other => other,
        };
        match pod_path {
            ["metadata", "finalizers"] => info(Some("merge"), None, Some("set"), &[]),
            ["spec", "strategy"] if path.len() == 2 => info(Some("retainKeys"), None, None, &[]),
            ["spec", "containers" | "initContainers"] => {
                info(Some("merge"), Some("name"), Some("map"), &["name"])
            }
            ["spec", "containers" | "initContainers", "ports"] => info(
                Some("merge"),
                Some("containerPort"),
                Some("map"),
                &["containerPort", "protocol"],
            ),
            ["spec", "containers" | "initContainers", "env"] => {
                info(Some("merge"), Some("name"), Some("map"), &["name"])
            }
            ["spec", "containers" | "initContainers", "volumeMounts"] => info(
                Some("merge"),
                Some("mountPath"),
                Some("map"),
                &["mountPath"],
            ),
            ["spec", "containers" | "initContainers", "args" | "command"] => {
                info(None, None, Some("atomic"), &[])
            }
            ["spec", "volumes"] => info(
                Some("merge,retainKeys"),
                Some("name"),
                Some("map"),
                &["name"],
            ),
            ["spec", "tolerations"] => info(None, None, Some("atomic"), &[]),
            ["spec", "selector"] if path.len() == 2 => FieldInfo {
                map_type: Some("atomic".to_owned()),
                ..FieldInfo::default()
            },
            _ => FieldInfo::default(),
        }
    }
}
