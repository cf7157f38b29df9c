//! The references database (`images.json`): which manifests are images, their names,
//! layers and last use. Rewritten atomically on every change. An OCI `index.json` naming
//! the same manifests is written beside it so the store is a valid OCI image layout.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One image in the store.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// Normalized references naming it (`docker.io/library/busybox:latest`).
    pub references: Vec<String>,
    /// Manifest digest.
    pub digest: String,
    /// Manifest media type.
    pub media_type: String,
    /// Manifest size in bytes.
    pub manifest_size: u64,
    /// Config blob digest (the image ID).
    pub config: String,
    /// Layer blob digests, lowest first.
    pub layers: Vec<String>,
    /// Sum of the layer blob sizes.
    pub size: u64,
    /// Seconds since the epoch of its last pull, import or lookup for a container.
    pub last_used: u64,
}

/// The set of images, keyed by manifest digest.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Db {
    /// Images by manifest digest.
    pub images: BTreeMap<String, ImageRecord>,
}

impl Db {
    /// Loads the database (absent = empty).
    pub fn load(root: &Path) -> io::Result<Db> {
        match fs::read(root.join("images.json")) {
            Ok(b) => serde_json::from_slice(&b).map_err(io::Error::other),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Db::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes images.json and index.json atomically.
    pub fn save(&self, root: &Path) -> io::Result<()> {
        write_atomic(
            &root.join("images.json"),
            &serde_json::to_vec_pretty(self).map_err(io::Error::other)?,
        )?;
        let manifests: Vec<serde_json::Value> = self
            .images
            .values()
            .flat_map(|img| {
                let refs: Vec<Option<&String>> = if img.references.is_empty() {
                    vec![None]
                } else {
                    img.references.iter().map(Some).collect()
                };
                refs.into_iter().map(move |r| {
                    let mut d = serde_json::json!({
                        "mediaType": img.media_type,
                        "digest": img.digest,
                        "size": img.manifest_size,
                    });
                    if let Some(r) = r {
                        d["annotations"] = serde_json::json!({
                            "io.containerd.image.name": r,
                            "org.opencontainers.image.ref.name": r,
                        });
                    }
                    d
                })
            })
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::manifest::OCI_INDEX,
            "manifests": manifests,
        });
        write_atomic(
            &root.join("index.json"),
            &serde_json::to_vec_pretty(&index).map_err(io::Error::other)?,
        )?;
        let layout = root.join("oci-layout");
        if !layout.exists() {
            write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        Ok(())
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut tmp = PathBuf::from(path);
    tmp.set_extension("tmp");
    fs::write(&tmp, data)?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, path)
}

/// Identifies one version of images.json (atomic renames give each a new inode).
type Stamp = (u64, i64, i64);

fn stamp(root: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(root.join("images.json")).ok()?;
    Some((m.ino(), m.mtime(), m.mtime_nsec()))
}

/// The database shared by every process using the store (the agent and `skiff image`
/// commands): changes are made under an exclusive `flock` on `images.lock` after
/// re-reading the file, and reads pick up other processes' changes.
pub struct SharedDb {
    root: PathBuf,
    state: parking_lot::Mutex<(Db, Option<Stamp>)>,
}

impl SharedDb {
    /// Loads the database of the store at `root`.
    pub fn open(root: &Path) -> io::Result<SharedDb> {
        let st = stamp(root);
        let db = Db::load(root)?;
        Ok(SharedDb {
            root: root.to_path_buf(),
            state: parking_lot::Mutex::new((db, st)),
        })
    }

    /// A current copy of the database.
    pub fn snapshot(&self) -> io::Result<Db> {
        let mut state = self.state.lock();
        let now = stamp(&self.root);
        if now != state.1 {
            state.0 = Db::load(&self.root)?;
            state.1 = now;
        }
        Ok(state.0.clone())
    }

    /// Applies `f` to the newest database and saves the result, all under the lock.
    pub fn update<R, E: From<io::Error>>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut state = self.state.lock();
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join("images.lock"))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .map_err(io::Error::from)?;
        let mut db = Db::load(&self.root)?;
        let out = f(&mut db);
        // Save even when `f` failed part-way: what it changed (e.g. removals done
        // before an error) is real.
        db.save(&self.root)?;
        state.1 = stamp(&self.root);
        state.0 = db;
        drop(lock);
        out
    }
}
