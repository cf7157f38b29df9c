//! The content-addressed blob store (`blobs/sha256/<hex>`, as in the OCI image layout).
//! Every blob is written to a temporary file, its digest checked, then renamed into place,
//! so a blob that exists under its name is always complete and correct.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;

/// Why a blob could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The data did not hash to the digest it was announced with.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Mismatch {
        /// Announced digest.
        expected: String,
        /// Digest of what arrived.
        actual: String,
    },
    /// The file system failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<ContentError> for skiff_cri::ImageError {
    fn from(e: ContentError) -> Self {
        match e {
            ContentError::Io(io) => skiff_cri::ImageError::Io(io),
            other => skiff_cri::ImageError::Invalid(other.to_string()),
        }
    }
}

/// A blob store rooted at a directory.
#[derive(Clone, Debug)]
pub struct Content {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl Content {
    /// Opens (creating) the blob store; `tmp` must be on the same file system.
    pub fn open(root: &Path, tmp: &Path) -> io::Result<Content> {
        let blobs = root.join("blobs").join("sha256");
        fs::create_dir_all(&blobs)?;
        fs::create_dir_all(tmp)?;
        Ok(Content {
            blobs,
            tmp: tmp.to_path_buf(),
        })
    }

    /// Where a blob lives.
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.blobs.join(d.hex())
    }

    /// Whether a blob is present.
    pub fn has(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// Reads a whole blob (manifests and configs; not for layers).
    pub fn read(&self, d: &Digest) -> io::Result<Vec<u8>> {
        fs::read(self.path(d))
    }

    /// Size of a blob.
    pub fn size(&self, d: &Digest) -> io::Result<u64> {
        Ok(fs::metadata(self.path(d))?.len())
    }

    /// Stores bytes, checking them against `expected` when given; returns their digest.
    pub fn put(&self, data: &[u8], expected: Option<&Digest>) -> Result<Digest, ContentError> {
        let mut w = self.writer()?;
        w.write_all(data)?;
        w.commit(expected)
    }

    /// Stores what a reader yields (checked against `expected` when given).
    pub fn put_reader(
        &self,
        r: &mut dyn Read,
        expected: Option<&Digest>,
    ) -> Result<Digest, ContentError> {
        let mut w = self.writer()?;
        io::copy(r, &mut w)?;
        w.commit(expected)
    }

    /// Starts writing a blob.
    pub fn writer(&self) -> io::Result<BlobWriter> {
        let tmp = tmp_name(&self.tmp, "blob");
        let file = fs::File::create(&tmp)?;
        Ok(BlobWriter {
            file: Some(file),
            hasher: Sha256::new(),
            tmp,
            blobs: self.blobs.clone(),
            done: false,
            len: 0,
        })
    }

    /// Deletes a blob (absent is fine).
    pub fn remove(&self, d: &Digest) -> io::Result<()> {
        match fs::remove_file(self.path(d)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every blob digest in the store.
    pub fn all(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.blobs)? {
            let name = e?.file_name();
            if let Ok(d) = Digest::parse(&format!("sha256:{}", name.to_string_lossy())) {
                out.push(d);
            }
        }
        Ok(out)
    }
}

/// A unique name in `dir` for temporary files and directories.
pub(crate) fn tmp_name(dir: &Path, what: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!("{what}-{}-{n}-{nanos}", std::process::id()))
}

/// A blob being written; dropped without `commit` it leaves nothing behind.
pub struct BlobWriter {
    file: Option<fs::File>,
    hasher: Sha256,
    tmp: PathBuf,
    blobs: PathBuf,
    done: bool,
    len: u64,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Verifies the digest and moves the blob into place.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<Digest, ContentError> {
        let hasher = std::mem::take(&mut self.hasher);
        let actual = Digest::from_hasher(hasher);
        if let Some(exp) = expected {
            if *exp != actual {
                return Err(ContentError::Mismatch {
                    expected: exp.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        fs::rename(&self.tmp, self.blobs.join(actual.hex()))?;
        self.done = true;
        Ok(actual)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already committed"))?;
        let n = f.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let c = Content::open(dir.path(), &dir.path().join("tmp")).unwrap();
        let d = c.put(b"hello", None).unwrap();
        assert!(c.has(&d));
        assert_eq!(c.read(&d).unwrap(), b"hello");
        let wrong = Digest::of(b"other");
        assert!(matches!(
            c.put(b"hello!", Some(&wrong)),
            Err(ContentError::Mismatch { .. })
        ));
        assert!(!c.has(&wrong));
        // The failed write left no temporary file behind.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
