//! Unpacks a layer tar into a directory usable as an overlayfs lowerdir: permissions,
//! ownership, symlinks and hardlinks kept; OCI whiteouts (`.wh.<name>`, `.wh..wh..opq`)
//! turned into overlayfs ones (a 0:0 character device, `trusted.overlay.opaque=y`);
//! entries that would land outside the directory refused.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Prefix OCI uses for whiteout entries.
const WHITEOUT: &str = ".wh.";
/// Name OCI uses to mark a directory opaque.
const OPAQUE: &str = ".wh..wh..opq";
/// Prefix of aufs-internal entries, which carry nothing for us.
const AUFS_META: &str = ".wh..wh.";

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry's path leaves the layer (`..`, absolute) or goes through a link out of it.
    #[error("layer entry {0:?} escapes the layer root")]
    Traversal(String),
    /// The tar stream or the file system failed.
    #[error("unpacking layer: {0}")]
    Io(#[from] io::Error),
}

impl From<UnpackError> for skiff_cri::ImageError {
    fn from(e: UnpackError) -> Self {
        match e {
            UnpackError::Io(io) => skiff_cri::ImageError::Io(io),
            other => skiff_cri::ImageError::Invalid(other.to_string()),
        }
    }
}

/// Unpacks an uncompressed tar stream into `dest` (which must exist).
pub fn unpack(tar_stream: impl Read, dest: &Path) -> Result<(), UnpackError> {
    let root = fs::canonicalize(dest)?;
    let mut archive = tar::Archive::new(tar_stream);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let rel = relative(&raw)?;
        let Some(name) = rel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue; // the root itself ("./")
        };
        if name == OPAQUE {
            let dir = contained_dir(&root, rel.parent().unwrap_or(Path::new("")))?;
            rustix::fs::lsetxattr(
                &dir,
                "trusted.overlay.opaque",
                b"y",
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(io::Error::from)?;
        } else if name.starts_with(AUFS_META) {
            continue;
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            let dir = contained_dir(&root, rel.parent().unwrap_or(Path::new("")))?;
            let target = dir.join(hidden);
            remove_any(&target)?;
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &target,
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(io::Error::from)?;
        } else {
            // A directory entry must not replace an existing directory's contents, but
            // any other kind replaces what an earlier entry left at that path.
            let target = root.join(&rel);
            if !entry.header().entry_type().is_dir() {
                if let Ok(m) = fs::symlink_metadata(&target) {
                    if m.is_dir() {
                        fs::remove_dir_all(&target)?;
                    }
                }
            }
            if !entry.unpack_in(&root)? {
                return Err(UnpackError::Traversal(raw.display().to_string()));
            }
        }
    }
    Ok(())
}

/// The entry path as a plain relative path; `..` and absolute paths are refused.
fn relative(p: &Path) -> Result<PathBuf, UnpackError> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => {
                return Err(UnpackError::Traversal(p.display().to_string()))
            }
        }
    }
    Ok(out)
}

/// Creates `root/rel` as a directory and checks (after resolving links) it is inside root.
fn contained_dir(root: &Path, rel: &Path) -> Result<PathBuf, UnpackError> {
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                // A symlink (or file) in the way: resolve it and require it stays inside.
                let real = fs::canonicalize(&cur)
                    .map_err(|_| UnpackError::Traversal(rel.display().to_string()))?;
                if !real.starts_with(root) || !real.is_dir() {
                    return Err(UnpackError::Traversal(rel.display().to_string()));
                }
                cur = real;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&cur)?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(cur)
}

/// Removes whatever is at `p` (nothing there is fine).
fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_refuses_traversal() {
        assert_eq!(relative(Path::new("./a/b")).unwrap(), PathBuf::from("a/b"));
        assert!(relative(Path::new("a/../../b")).is_err());
        assert!(relative(Path::new("/etc/passwd")).is_err());
    }
}
