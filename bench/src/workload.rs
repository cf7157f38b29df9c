//! What a create benchmark sends: ConfigMaps to skiff, or the same bytes as puts to etcd.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use serde_json::json;

/// Size of the ConfigMap's data value: the "1 KiB ConfigMap" of the targets.
pub const PAYLOAD_BYTES: usize = 1024;

/// One kind of create request, parameterised by a request index.
#[derive(Clone, Debug)]
pub enum Workload {
    /// POST a ConfigMap named `<prefix><i>` to `/api/v1/namespaces/<namespace>/configmaps`.
    ConfigMaps {
        /// The namespace (must exist).
        namespace: String,
        /// Name prefix; the index is appended.
        prefix: String,
    },
    /// POST `/v3/kv/put` to etcd's JSON gateway with the ConfigMap's JSON as the value,
    /// under the key kube-apiserver would use.
    EtcdPut {
        /// Name prefix; the index is appended.
        prefix: String,
    },
}

/// The 1 KiB data value; varied characters so nothing downstream gets an unrealistically easy string.
fn payload() -> String {
    (0..PAYLOAD_BYTES)
        .map(|i| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]))
        .collect()
}

/// The JSON of ConfigMap `name` in `namespace` carrying the 1 KiB payload.
pub fn configmap(namespace: &str, name: &str) -> Vec<u8> {
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench"}},
        "data": {"payload": payload()},
    });
    serde_json::to_vec(&cm).unwrap_or_default()
}

/// The JSON of a Namespace object.
pub fn namespace(name: &str) -> Bytes {
    Bytes::from(
        serde_json::to_vec(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
        .unwrap_or_default(),
    )
}

impl Workload {
    /// The request path.
    pub fn path(&self) -> String {
        match self {
            Workload::ConfigMaps { namespace, .. } => {
                format!("/api/v1/namespaces/{namespace}/configmaps")
            }
            Workload::EtcdPut { .. } => "/v3/kv/put".to_string(),
        }
    }

    /// The name of object `i`.
    pub fn name(&self, i: usize) -> String {
        match self {
            Workload::ConfigMaps { prefix, .. } | Workload::EtcdPut { prefix } => {
                format!("{prefix}{i}")
            }
        }
    }

    /// The body of request `i`.
    pub fn body(&self, i: usize) -> Bytes {
        let name = self.name(i);
        match self {
            Workload::ConfigMaps { namespace, .. } => Bytes::from(configmap(namespace, &name)),
            Workload::EtcdPut { .. } => {
                let key = format!("/registry/configmaps/default/{name}");
                let value = configmap("default", &name);
                let put = json!({"key": B64.encode(key), "value": B64.encode(value)});
                Bytes::from(serde_json::to_vec(&put).unwrap_or_default())
            }
        }
    }

    /// The status a successful create answers with.
    pub fn expected(&self) -> u16 {
        match self {
            Workload::ConfigMaps { .. } => 201,
            Workload::EtcdPut { .. } => 200,
        }
    }

    /// The index of an object from its name, if it belongs to this workload.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        match self {
            Workload::ConfigMaps { prefix, .. } | Workload::EtcdPut { prefix } => {
                name.strip_prefix(prefix.as_str())?.parse().ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_carries_a_1kib_value() {
        let v: serde_json::Value =
            serde_json::from_slice(&configmap("bench", "cm-1")).expect("json");
        assert_eq!(v["data"]["payload"].as_str().map(str::len), Some(1024));
        assert_eq!(v["metadata"]["name"], "cm-1");
        assert_eq!(v["metadata"]["namespace"], "bench");
        assert_eq!(v["kind"], "ConfigMap");
    }

    #[test]
    fn paths_bodies_and_statuses() {
        let cases = [
            (
                Workload::ConfigMaps {
                    namespace: "bench".into(),
                    prefix: "cm-".into(),
                },
                "/api/v1/namespaces/bench/configmaps",
                201,
            ),
            (
                Workload::EtcdPut {
                    prefix: "cm-".into(),
                },
                "/v3/kv/put",
                200,
            ),
        ];
        for (w, path, status) in cases {
            assert_eq!(w.path(), path);
            assert_eq!(w.expected(), status);
            assert_eq!(w.name(7), "cm-7");
            assert!(
                w.body(7).len() > PAYLOAD_BYTES,
                "{w:?} body smaller than its payload"
            );
        }
    }

    #[test]
    fn etcd_put_is_base64_key_and_configmap_value() {
        let body = Workload::EtcdPut {
            prefix: "cm-".into(),
        }
        .body(3);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let key = B64.decode(v["key"].as_str().expect("key")).expect("b64");
        assert_eq!(key, b"/registry/configmaps/default/cm-3");
        let value = B64
            .decode(v["value"].as_str().expect("value"))
            .expect("b64");
        assert_eq!(value, configmap("default", "cm-3"));
    }

    #[test]
    fn index_of_inverts_name() {
        let w = Workload::ConfigMaps {
            namespace: "ns".into(),
            prefix: "lag-".into(),
        };
        let cases = [
            ("lag-0", Some(0)),
            ("lag-9999", Some(9999)),
            ("cm-3", None),
            ("lag-x", None),
            ("lag-", None),
        ];
        for (name, want) in cases {
            assert_eq!(w.index_of(name), want, "{name}");
        }
    }
}
