//! Unpacked layers, one directory per layer blob digest (`layers/sha256/<hex>/fs`).
//! The digest's ':' is replaced by '/' because overlayfs uses ':' to separate lowerdirs.
//! A layer is unpacked in a temporary directory and renamed into place, so a layer
//! directory that exists is complete.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::unpack::UnpackError;

/// The unpacked-layer area of the store.
#[derive(Clone, Debug)]
pub struct Layers {
    root: PathBuf,
    tmp: PathBuf,
}

/// Removes a temporary directory unless disarmed; keeps failures from leaving debris.
struct TmpDir(Option<PathBuf>);

impl Drop for TmpDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_dir_all(p);
        }
    }
}

impl Layers {
    /// Opens (creating) the layer area; `tmp` must be on the same file system.
    pub fn open(root: &Path, tmp: &Path) -> io::Result<Layers> {
        let root = root.join("layers").join("sha256");
        fs::create_dir_all(&root)?;
        fs::create_dir_all(tmp)?;
        Ok(Layers {
            root,
            tmp: tmp.to_path_buf(),
        })
    }

    /// The directory holding a layer's files (the overlayfs lowerdir).
    pub fn fs_dir(&self, d: &Digest) -> PathBuf {
        self.root.join(d.hex()).join("fs")
    }

    /// Whether a layer is unpacked.
    pub fn has(&self, d: &Digest) -> bool {
        self.fs_dir(d).is_dir()
    }

    /// Unpacks the layer blob at `blob` unless already done; returns its fs directory.
    pub fn ensure(&self, d: &Digest, blob: &Path) -> Result<PathBuf, UnpackError> {
        let fs_dir = self.fs_dir(d);
        if fs_dir.is_dir() {
            return Ok(fs_dir);
        }
        let tmp = crate::content::tmp_name(&self.tmp, "layer");
        let guard = TmpDir(Some(tmp.clone()));
        fs::create_dir_all(tmp.join("fs"))?;
        let stream = crate::decompress::open_layer(fs::File::open(blob)?)?;
        crate::unpack::unpack(stream, &tmp.join("fs"))?;
        match fs::rename(&tmp, self.root.join(d.hex())) {
            Ok(()) => {}
            // Another pull unpacked the same layer meanwhile: theirs is as good as ours.
            Err(_) if fs_dir.is_dir() => {}
            Err(e) => return Err(e.into()),
        }
        drop(guard);
        Ok(fs_dir)
    }

    /// Deletes an unpacked layer (absent is fine). Renamed away first so a half-deleted
    /// layer never looks complete.
    pub fn remove(&self, d: &Digest) -> io::Result<()> {
        let dir = self.root.join(d.hex());
        if !dir.exists() {
            return Ok(());
        }
        let trash = crate::content::tmp_name(&self.tmp, "trash");
        fs::rename(&dir, &trash)?;
        fs::remove_dir_all(&trash)
    }

    /// Every unpacked layer digest.
    pub fn all(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root)? {
            let name = e?.file_name();
            if let Ok(d) = Digest::parse(&format!("sha256:{}", name.to_string_lossy())) {
                out.push(d);
            }
        }
        Ok(out)
    }
}
