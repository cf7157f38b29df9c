//! `skiff image import`: loads docker-archive tarballs (`docker save`, skopeo
//! `docker-archive:`) and OCI image-layout tarballs (`oci-archive:`), optionally gzipped.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use skiff_cri::{ImageError, ImageInfo};

use crate::decompress;
use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Index, Manifest};
use crate::reference::Reference;
use crate::store::{parse_digest, ImageStore};

/// Files read into memory instead of the content store (small metadata).
const METADATA: [&str; 4] = ["manifest.json", "index.json", "oci-layout", "repositories"];

/// An entry of a docker-archive's manifest.json.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn clean(name: &str) -> String {
    name.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

impl ImageStore {
    /// Imports every image of a docker-archive or OCI-archive tarball.
    pub fn import(&self, path: &Path) -> Result<Vec<ImageInfo>, ImageError> {
        let stream = decompress::open_layer(File::open(path)?)?;
        let mut archive = tar::Archive::new(stream);
        let mut meta: HashMap<String, Vec<u8>> = HashMap::new();
        let mut files: HashMap<String, Digest> = HashMap::new();
        let mut links: HashMap<String, String> = HashMap::new();
        let mut pins = self.pins();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = clean(&entry.path()?.to_string_lossy());
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                // Old docker archives link duplicate layer.tar files to the first copy.
                if let Some(target) = entry.link_name()? {
                    let target = target.to_string_lossy().into_owned();
                    let resolved = if kind.is_symlink() {
                        let base = Path::new(&name).parent().unwrap_or(Path::new(""));
                        normalize(&base.join(target))
                    } else {
                        clean(&target)
                    };
                    links.insert(name, resolved);
                }
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            if METADATA.contains(&name.as_str()) {
                let mut buf = Vec::new();
                entry.by_ref().take(16 << 20).read_to_end(&mut buf)?;
                meta.insert(name, buf);
                continue;
            }
            let d = self.content.put_reader(&mut entry, None)?;
            pins.add(&d.to_string());
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                if hex != d.hex() {
                    return Err(ImageError::Invalid(format!(
                        "{}: blob {name} has digest {d}",
                        path.display()
                    )));
                }
            }
            files.insert(name, d);
        }
        let lookup = |name: &str| -> Result<Digest, ImageError> {
            let name = clean(name);
            let name = links.get(&name).cloned().unwrap_or(name);
            files
                .get(&name)
                .cloned()
                .ok_or_else(|| ImageError::Invalid(format!("archive lacks {name}")))
        };
        let result = if let Some(m) = meta.get("manifest.json") {
            self.import_docker(m, &lookup)
        } else if let Some(idx) = meta.get("index.json") {
            self.import_oci(idx)
        } else {
            Err(ImageError::Invalid(format!(
                "{}: neither a docker archive (manifest.json) nor an OCI layout (index.json)",
                path.display()
            )))
        };
        drop(pins);
        // Archive files that are not part of any image (per-layer json, VERSION) go.
        let stored: Vec<String> = files.values().map(|d| d.to_string()).collect();
        self.db
            .update(|db| -> Result<(), ImageError> { self.sweep(db, &stored) })?;
        result
    }

    fn import_docker(
        &self,
        manifest_json: &[u8],
        lookup: &dyn Fn(&str) -> Result<Digest, ImageError>,
    ) -> Result<Vec<ImageInfo>, ImageError> {
        let entries: Vec<ArchiveEntry> = serde_json::from_slice(manifest_json)
            .map_err(|e| ImageError::Invalid(format!("manifest.json: {e}")))?;
        let mut out = Vec::new();
        for e in entries {
            let config = lookup(&e.config)?;
            let mut layers = Vec::new();
            for l in &e.layers {
                let d = lookup(l)?;
                let mut head = [0u8; 4];
                let n = File::open(self.content.path(&d))?.read(&mut head)?;
                layers.push(Descriptor {
                    media_type: decompress::detect(&head[..n]).oci_media_type().to_string(),
                    size: self.content.size(&d)?,
                    digest: d.to_string(),
                    ..Default::default()
                });
            }
            let m = Manifest {
                schema_version: 2,
                media_type: Some(manifest::OCI_MANIFEST.to_string()),
                config: Descriptor {
                    media_type: manifest::OCI_CONFIG.to_string(),
                    size: self.content.size(&config)?,
                    digest: config.to_string(),
                    ..Default::default()
                },
                layers,
            };
            let bytes = serde_json::to_vec(&m).map_err(|e| ImageError::Invalid(e.to_string()))?;
            let refs = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| Reference::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(self.commit(&refs, &bytes, manifest::OCI_MANIFEST)?);
        }
        Ok(out)
    }

    fn import_oci(&self, index_json: &[u8]) -> Result<Vec<ImageInfo>, ImageError> {
        let index: Index = serde_json::from_slice(index_json)
            .map_err(|e| ImageError::Invalid(format!("index.json: {e}")))?;
        let mut out = Vec::new();
        for desc in &index.manifests {
            let name = desc
                .annotations
                .get("io.containerd.image.name")
                .or_else(|| desc.annotations.get("org.opencontainers.image.ref.name"));
            // A bare tag (`latest`) names no repository: import the image untagged.
            let refs = match name.map(|n| Reference::parse(n)) {
                Some(Ok(r)) if name.is_some_and(|n| n.contains('/') || n.contains(':')) => {
                    vec![r]
                }
                _ => Vec::new(),
            };
            let (media_type, bytes) = self.resolve_local(desc)?;
            out.push(self.commit(&refs, &bytes, &media_type)?);
        }
        Ok(out)
    }

    /// Follows a descriptor through nested indexes to this platform's manifest.
    fn resolve_local(&self, desc: &Descriptor) -> Result<(String, Vec<u8>), ImageError> {
        let mut desc = desc.clone();
        for _ in 0..4 {
            let d = parse_digest(&desc.digest)?;
            let bytes = self
                .content
                .read(&d)
                .map_err(|_| ImageError::Invalid(format!("archive lacks blob {d}")))?;
            if !manifest::is_index(&desc.media_type, &bytes) {
                let mt = if desc.media_type.is_empty() {
                    manifest::OCI_MANIFEST.to_string()
                } else {
                    desc.media_type.clone()
                };
                return Ok((mt, bytes));
            }
            let idx: Index = serde_json::from_slice(&bytes)
                .map_err(|e| ImageError::Invalid(format!("index {d}: {e}")))?;
            desc = manifest::pick_platform(&idx)
                .or(if idx.manifests.len() == 1 {
                    idx.manifests.first()
                } else {
                    None
                })
                .cloned()
                .ok_or_else(|| {
                    ImageError::NotFound(format!("{d}: no linux/{} image", manifest::host_arch()))
                })?;
        }
        Err(ImageError::Invalid("indexes nested too deep".into()))
    }
}

/// Resolves `.` and `..` in an archive-internal path.
fn normalize(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}
