//! [`ImageStore`]: the local image store (content, layers, references) and its
//! [`ImageService`] implementation.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use skiff_cri::{BoxFuture, ImageError, ImageInfo, ImageService, PullAuth};

use crate::content::Content;
use crate::db::{Db, ImageRecord, SharedDb};
use crate::digest::Digest;
use crate::layers::Layers;
use crate::manifest::{parse_config, Manifest};
use crate::reference::Reference;
use crate::registry_config::RegistryConfig;

/// The node's image store. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ImageStore {
    pub(crate) root: PathBuf,
    pub(crate) content: Content,
    pub(crate) layers: Layers,
    pub(crate) db: Arc<SharedDb>,
    pub(crate) registries: Arc<RegistryConfig>,
    /// Digests an unfinished pull or import has written but not yet recorded; removal and
    /// GC leave them alone. Counted, since two pulls may share a layer.
    pins: Arc<Mutex<HashMap<String, usize>>>,
}

/// Keeps digests pinned against removal until dropped.
pub(crate) struct Pins {
    store: ImageStore,
    digests: Vec<String>,
}

impl Pins {
    /// Pins one more digest.
    pub(crate) fn add(&mut self, d: &str) {
        *self.store.pins.lock().entry(d.to_string()).or_insert(0) += 1;
        self.digests.push(d.to_string());
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        let mut pins = self.store.pins.lock();
        for d in &self.digests {
            if let Some(n) = pins.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(d);
                }
            }
        }
    }
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn parse_digest(s: &str) -> Result<Digest, ImageError> {
    Digest::parse(s).map_err(|e| ImageError::Invalid(e.to_string()))
}

impl ImageStore {
    /// Opens (creating) a store under `root`, pulling through the given registry settings.
    pub fn open(root: &Path, registries: RegistryConfig) -> Result<ImageStore, ImageError> {
        std::fs::create_dir_all(root)?;
        let tmp = root.join("tmp");
        let content = Content::open(root, &tmp)?;
        let layers = Layers::open(root, &tmp)?;
        clean_tmp(&tmp);
        let db = SharedDb::open(root)?;
        Ok(ImageStore {
            root: root.to_path_buf(),
            content,
            layers,
            db: Arc::new(db),
            registries: Arc::new(registries),
            pins: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The registry settings pulls use.
    pub fn registries(&self) -> &RegistryConfig {
        &self.registries
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn pins(&self) -> Pins {
        Pins {
            store: self.clone(),
            digests: Vec::new(),
        }
    }

    /// Records a manifest whose blobs are all in the content store as an image named by
    /// `refs`, unpacking its layers. Tags move here from any image that had them.
    pub(crate) fn commit(
        &self,
        refs: &[Reference],
        manifest_bytes: &[u8],
        media_type: &str,
    ) -> Result<ImageInfo, ImageError> {
        let mut pins = self.pins();
        let mdigest = self.content.put(manifest_bytes, None)?;
        pins.add(&mdigest.to_string());
        let manifest: Manifest = serde_json::from_slice(manifest_bytes)
            .map_err(|e| ImageError::Invalid(format!("manifest {mdigest}: {e}")))?;
        let config = parse_digest(&manifest.config.digest)?;
        pins.add(&config.to_string());
        let config_bytes = self
            .content
            .read(&config)
            .map_err(|e| ImageError::Invalid(format!("config {config}: {e}")))?;
        parse_config(&config_bytes)
            .map_err(|e| ImageError::Invalid(format!("config {config}: {e}")))?;
        let mut size = 0;
        let mut layer_digests = Vec::new();
        let mut layer_digests_parsed = Vec::new();
        for l in &manifest.layers {
            let d = parse_digest(&l.digest)?;
            pins.add(&l.digest);
            if !self.content.has(&d) {
                return Err(ImageError::Invalid(format!("layer {d} is missing")));
            }
            size += self.content.size(&d)?;
            self.layers.ensure(&d, &self.content.path(&d))?;
            layer_digests.push(d.to_string());
            layer_digests_parsed.push(d);
        }
        let mut names = Vec::new();
        for r in refs {
            if r.tag.is_some() {
                let mut tagged = r.clone();
                tagged.digest = None;
                names.push(tagged.to_string());
            }
            names.push(format!("{}@{mdigest}", r.name()));
        }
        let rec = self.db.update(|db| -> Result<ImageRecord, ImageError> {
            // Another process may have removed a blob since we checked: fail, don't
            // record an image that cannot run.
            for d in std::iter::once(&config).chain(layer_digests_parsed.iter()) {
                if !self.content.has(d) {
                    return Err(ImageError::Invalid(format!(
                        "blob {d} was removed while the image was stored; try again"
                    )));
                }
            }
            for other in db.images.values_mut() {
                if other.digest != mdigest.to_string() {
                    other.references.retain(|r| !names.contains(r));
                }
            }
            let rec = db
                .images
                .entry(mdigest.to_string())
                .or_insert_with(|| ImageRecord {
                    digest: mdigest.to_string(),
                    ..Default::default()
                });
            rec.media_type = media_type.to_string();
            rec.manifest_size = manifest_bytes.len() as u64;
            rec.config = config.to_string();
            rec.layers = layer_digests.clone();
            rec.size = size;
            rec.last_used = now_secs();
            for n in &names {
                if !rec.references.contains(n) {
                    rec.references.push(n.clone());
                }
            }
            rec.references.sort();
            Ok(rec.clone())
        })?;
        self.info(&rec)
    }

    /// The ImageInfo of a record (reads its config blob).
    fn info(&self, rec: &ImageRecord) -> Result<ImageInfo, ImageError> {
        let config = parse_digest(&rec.config)?;
        let bytes = self.content.read(&config)?;
        let (config, _) = parse_config(&bytes)
            .map_err(|e| ImageError::Invalid(format!("config {}: {e}", rec.config)))?;
        Ok(ImageInfo {
            references: rec.references.clone(),
            digest: rec.digest.clone(),
            id: rec.config.clone(),
            size: rec.size,
            config,
        })
    }

    /// The record key (manifest digest) an image reference, digest or ID names.
    fn find(db: &Db, image: &str) -> Option<String> {
        let image = image.trim();
        if Digest::parse(image).is_ok() {
            return db
                .images
                .values()
                .find(|r| r.digest == image || r.config == image)
                .map(|r| r.digest.clone());
        }
        // A unique prefix of an ID (`docker images` shows 12 hex characters).
        if image.len() >= 12 && image.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<_> = db
                .images
                .values()
                .filter(|r| r.config.trim_start_matches("sha256:").starts_with(image))
                .collect();
            if hits.len() == 1 {
                return Some(hits[0].digest.clone());
            }
        }
        let r = Reference::parse(image).ok()?;
        if let Some(d) = &r.digest {
            return db.images.get(d).map(|r| r.digest.clone());
        }
        let want = r.to_string();
        db.images
            .values()
            .find(|rec| rec.references.contains(&want))
            .map(|r| r.digest.clone())
    }

    /// Marks an image as just used (for least-recently-used garbage collection).
    pub fn touch(&self, image: &str) -> Result<(), ImageError> {
        self.db.update(|db| -> Result<(), ImageError> {
            let key =
                Self::find(db, image).ok_or_else(|| ImageError::NotFound(image.to_string()))?;
            if let Some(rec) = db.images.get_mut(&key) {
                rec.last_used = now_secs();
            }
            Ok(())
        })
    }

    /// The local image a reference, digest or ID names.
    pub fn get(&self, image: &str) -> Option<ImageInfo> {
        let db = self.db.snapshot().ok()?;
        let key = Self::find(&db, image)?;
        let rec = db.images.get(&key)?.clone();
        self.info(&rec).ok()
    }

    /// Every local image, sorted by first reference.
    pub fn list(&self) -> Vec<ImageInfo> {
        let recs: Vec<ImageRecord> = match self.db.snapshot() {
            Ok(db) => db.images.into_values().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading the image database");
                Vec::new()
            }
        };
        let mut out: Vec<ImageInfo> = recs.iter().filter_map(|r| self.info(r).ok()).collect();
        out.sort_by(|a, b| a.references.first().cmp(&b.references.first()));
        out
    }

    /// Unpacked layer directories of an image, lowest first.
    pub fn layers(&self, image: &ImageInfo) -> Result<Vec<PathBuf>, ImageError> {
        let rec = self
            .db
            .snapshot()?
            .images
            .remove(&image.digest)
            .ok_or_else(|| ImageError::NotFound(image.digest.clone()))?;
        let mut out = Vec::new();
        for l in &rec.layers {
            let d = parse_digest(l)?;
            let dir = self.layers.fs_dir(&d);
            if !dir.is_dir() {
                // Re-unpack a layer someone deleted by hand, rather than run without it.
                self.layers.ensure(&d, &self.content.path(&d))?;
            }
            out.push(dir);
        }
        Ok(out)
    }

    /// Removes an image. Named by a tag, only that tag goes, and the image with it when no
    /// tag is left; named by digest or ID, the image goes. Blobs and layers no other image
    /// uses are deleted.
    pub fn remove(&self, image: &str) -> Result<(), ImageError> {
        self.db.update(|db| -> Result<(), ImageError> {
            let key =
                Self::find(db, image).ok_or_else(|| ImageError::NotFound(image.to_string()))?;
            let by_tag = Reference::parse(image)
                .ok()
                .filter(|r| r.digest.is_none() && Digest::parse(image).is_err())
                .map(|r| r.to_string());
            let drop_image = match (&by_tag, db.images.get_mut(&key)) {
                (Some(tag), Some(rec)) if rec.references.contains(tag) => {
                    rec.references.retain(|r| r != tag);
                    !rec.references.iter().any(|r| !r.contains('@'))
                }
                _ => true,
            };
            if drop_image {
                if let Some(rec) = db.images.remove(&key) {
                    let mut candidates = vec![rec.digest, rec.config];
                    candidates.extend(rec.layers);
                    self.sweep(db, &candidates)?;
                }
            }
            Ok(())
        })
    }

    /// Deletes the `candidates` (blob and layer digests) that no image references and no
    /// pull of this process has pinned, plus orphans of any digest older than
    /// [`ORPHAN_AGE`] (left by crashes; the age spares another process's pull in
    /// progress, which our pins cannot see). Called inside a database update, so no
    /// commit races it.
    pub(crate) fn sweep(&self, db: &Db, candidates: &[String]) -> Result<(), ImageError> {
        let mut keep: BTreeSet<String> = self.pins.lock().keys().cloned().collect();
        for rec in db.images.values() {
            keep.insert(rec.digest.clone());
            keep.insert(rec.config.clone());
            keep.extend(rec.layers.iter().cloned());
        }
        let doomed = |d: &Digest, path: &Path| {
            let name = d.to_string();
            !keep.contains(&name) && (candidates.contains(&name) || older_than(path, ORPHAN_AGE))
        };
        for d in self.content.all()? {
            if doomed(&d, &self.content.path(&d)) {
                self.content.remove(&d)?;
            }
        }
        for d in self.layers.all()? {
            let dir = self.layers.fs_dir(&d);
            if doomed(&d, dir.parent().unwrap_or(&dir)) {
                self.layers.remove(&d)?;
            }
        }
        Ok(())
    }
}

/// How old an unreferenced blob or layer must be before a sweep takes it as an orphan.
pub const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

fn older_than(path: &Path, age: std::time::Duration) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|e| e > age)
}

/// Deletes temporary files of processes that are gone (crashed mid-write); a live
/// process's files (named with its pid) are left alone.
fn clean_tmp(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let path = e.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

impl ImageService for ImageStore {
    fn pull(
        &self,
        image: &str,
        auth: Option<PullAuth>,
    ) -> BoxFuture<'_, Result<ImageInfo, ImageError>> {
        let image = image.to_string();
        Box::pin(async move { self.pull_image(&image, auth).await })
    }

    fn get(&self, image: &str) -> Option<ImageInfo> {
        ImageStore::get(self, image)
    }

    fn layers(&self, image: &ImageInfo) -> Result<Vec<PathBuf>, ImageError> {
        ImageStore::layers(self, image)
    }

    fn list(&self) -> Vec<ImageInfo> {
        ImageStore::list(self)
    }

    fn remove(&self, image: &str) -> Result<(), ImageError> {
        ImageStore::remove(self, image)
    }
}
