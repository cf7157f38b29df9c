//! The ServiceAccount admission plugin on pod create: default `serviceAccountName`, refuse
//! pods whose service account does not exist, copy its imagePullSecrets, and add the
//! `kube-api-access-*` projected token volume mounted in every (init) container.

use serde_json::{json, Value};
use skiff_api::{meta, ApiError};

/// Where containers find the token, CA and namespace.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Prefix of the generated volume's name.
const VOLUME_PREFIX: &str = "kube-api-access-";
/// Lifetime the kubelet asks for (extended server-side, see token_request.rs).
const TOKEN_EXPIRATION: i64 = 3607;

/// Admit a new pod given a lookup of service accounts in its namespace.
pub fn admit(
    pod: &mut Value,
    namespace: &str,
    lookup_sa: impl Fn(&str) -> Option<Value>,
) -> Result<(), ApiError> {
    // Mirror pods come from a node's static manifests; upstream leaves them alone.
    if pod
        .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
        .is_some()
    {
        return Ok(());
    }
    let mut sa_name = pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if sa_name.is_empty() {
        sa_name = "default".into();
    }
    pod["spec"]["serviceAccountName"] = json!(sa_name);
    pod["spec"]["serviceAccount"] = json!(sa_name);
    let Some(sa) = lookup_sa(&sa_name) else {
        let pod_name = meta::name(pod).unwrap_or("");
        return Err(ApiError::forbidden(format!(
            "pods \"{pod_name}\" is forbidden: error looking up service account {namespace}/{sa_name}: serviceaccount \"{sa_name}\" not found"
        )));
    };
    if should_automount(pod, &sa) {
        mount_token(pod);
    }
    let has_pull_secrets = pod
        .pointer("/spec/imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !has_pull_secrets {
        if let Some(list) = sa
            .get("imagePullSecrets")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        {
            pod["spec"]["imagePullSecrets"] = Value::Array(list.clone());
        }
    }
    Ok(())
}

/// The pod's explicit choice wins, then the service account's; mounting is the default.
fn should_automount(pod: &Value, sa: &Value) -> bool {
    pod.pointer("/spec/automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| {
            sa.get("automountServiceAccountToken")
                .and_then(Value::as_bool)
        })
        .unwrap_or(true)
}

fn mount_token(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(str::to_string);
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{}", crate::objects::random_suffix()));
    let mut needs_volume = false;
    for list in ["initContainers", "containers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(c) = c.as_object_mut() else {
                continue;
            };
            let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            // A container that mounts something at the path itself keeps it.
            if mounts
                .iter()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH))
            {
                continue;
            }
            mounts.push(
                json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH}),
            );
            needs_volume = true;
        }
    }
    if existing.is_none() && needs_volume {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Some(list) = volumes.as_array_mut() {
            list.push(token_volume(&volume_name));
        }
    }
}

/// The projected volume upstream adds, with its defaults filled in as stored.
fn token_volume(name: &str) -> Value {
    json!({"name": name, "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
    ], "defaultMode": 420}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec})
    }

    #[test]
    fn defaults_and_mounts_everywhere() {
        let mut p = pod(json!({
            "initContainers": [{"name": "i"}],
            "containers": [{"name": "a"}, {"name": "b", "volumeMounts": [
                {"name": "own", "mountPath": TOKEN_MOUNT_PATH}]}],
            "volumes": [{"name": "own", "emptyDir": {}}]
        }));
        admit(&mut p, "ns", |n| {
            (n == "default").then(|| json!({"imagePullSecrets": [{"name": "reg"}]}))
        })
        .expect("admitted");
        assert_eq!(p["spec"]["serviceAccountName"], "default");
        assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "reg"}]));
        let vols = p["spec"]["volumes"].as_array().expect("volumes");
        assert_eq!(vols.len(), 2);
        let name = vols[1]["name"].as_str().expect("name");
        assert!(name.starts_with(VOLUME_PREFIX) && name.len() == VOLUME_PREFIX.len() + 5);
        assert_eq!(
            vols[1]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3607
        );
        let mount = json!({"name": name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
        assert_eq!(
            p["spec"]["initContainers"][0]["volumeMounts"],
            json!([mount])
        );
        assert_eq!(p["spec"]["containers"][0]["volumeMounts"], json!([mount]));
        // The container with its own mount at the path is left alone.
        assert_eq!(
            p["spec"]["containers"][1]["volumeMounts"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn automount_opt_out_and_missing_account() {
        let mut p =
            pod(json!({"containers": [{"name": "a"}], "automountServiceAccountToken": false}));
        admit(&mut p, "ns", |_| Some(json!({}))).expect("admitted");
        assert!(p["spec"].get("volumes").is_none());
        let mut p = pod(json!({"containers": [{"name": "a"}], "serviceAccountName": "bot"}));
        admit(&mut p, "ns", |_| {
            Some(json!({"automountServiceAccountToken": false}))
        })
        .expect("admitted");
        assert!(p["spec"].get("volumes").is_none());
        // The pod's explicit true beats the account's false.
        let mut p =
            pod(json!({"containers": [{"name": "a"}], "automountServiceAccountToken": true}));
        admit(&mut p, "ns", |_| {
            Some(json!({"automountServiceAccountToken": false}))
        })
        .expect("admitted");
        assert_eq!(p["spec"]["volumes"].as_array().map(Vec::len), Some(1));
        let mut p = pod(json!({"containers": [{"name": "a"}], "serviceAccountName": "nope"}));
        let e = admit(&mut p, "ns", |_| None).expect_err("refused");
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "pods \"p\" is forbidden: error looking up service account ns/nope: serviceaccount \"nope\" not found"
        );
    }
}
