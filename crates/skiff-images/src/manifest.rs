//! OCI / Docker schema2 manifest, index and image-config documents (the fields we use).

use serde::{Deserialize, Serialize};
use skiff_cri::ImageConfig;

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config media type.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker schema2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A content descriptor.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Platform (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations (the OCI layout's `org.opencontainers.image.ref.name`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The platform of an index entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest (OCI or Docker schema2, which share this shape).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type (optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// Layers, lowest first.
    pub layers: Vec<Descriptor>,
}

/// An image index or Docker manifest list.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests it lists.
    pub manifests: Vec<Descriptor>,
}

/// Whether a document (by media type, or by shape when untyped) is an index.
pub fn is_index(media_type: &str, body: &[u8]) -> bool {
    match media_type {
        OCI_INDEX | DOCKER_LIST => true,
        OCI_MANIFEST | DOCKER_MANIFEST => false,
        _ => serde_json::from_slice::<serde_json::Value>(body)
            .map(|v| v.get("manifests").is_some())
            .unwrap_or(false),
    }
}

/// The architecture name OCI uses for the machine we run on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Picks the linux/<host arch> entry of an index.
pub fn pick_platform(index: &Index) -> Option<&Descriptor> {
    let arch = host_arch();
    index.manifests.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == arch)
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RawRuntimeConfig {
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawImageConfig {
    #[serde(default)]
    config: Option<RawRuntimeConfig>,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

/// The `rootfs` part of an image config.
#[derive(Deserialize, Default)]
pub struct RootFs {
    /// Uncompressed layer digests, lowest first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// Parses the runtime part of an image config blob.
pub fn parse_config(body: &[u8]) -> Result<(ImageConfig, Vec<String>), serde_json::Error> {
    let raw: RawImageConfig = serde_json::from_slice(body)?;
    let c = raw.config.unwrap_or_default();
    Ok((
        ImageConfig {
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            env: c.env.unwrap_or_default(),
            working_dir: c.working_dir.unwrap_or_default(),
            user: c.user.unwrap_or_default(),
        },
        raw.rootfs.unwrap_or_default().diff_ids,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fields() {
        let body = br#"{"architecture":"amd64","config":{"Cmd":["sh"],"Env":["PATH=/bin"],"WorkingDir":"/w","User":"1000"},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#;
        let (c, diff) = parse_config(body).unwrap();
        assert_eq!(c.cmd, vec!["sh"]);
        assert_eq!(c.env, vec!["PATH=/bin"]);
        assert_eq!(c.working_dir, "/w");
        assert_eq!(c.user, "1000");
        assert_eq!(diff, vec!["sha256:aa"]);
    }

    #[test]
    fn picks_this_platform() {
        let idx = Index {
            schema_version: 2,
            media_type: None,
            manifests: vec![
                Descriptor {
                    digest: "a".into(),
                    platform: Some(Platform {
                        architecture: "s390x".into(),
                        os: "linux".into(),
                        variant: None,
                    }),
                    ..Default::default()
                },
                Descriptor {
                    digest: "b".into(),
                    platform: Some(Platform {
                        architecture: host_arch().into(),
                        os: "linux".into(),
                        variant: None,
                    }),
                    ..Default::default()
                },
            ],
        };
        assert_eq!(pick_platform(&idx).unwrap().digest, "b");
    }
}
