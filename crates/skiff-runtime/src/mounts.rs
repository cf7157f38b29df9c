//! The container root filesystem: an overlay of the image layers with a private upper dir.

use std::io;
use std::path::{Path, PathBuf};

use skiff_cri::RuntimeError;

use crate::sys;

/// Overlay mount options: lowerdirs top layer first (`layers` come lowest first).
pub fn overlay_options(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
) -> Result<String, RuntimeError> {
    if layers.is_empty() {
        return Err(RuntimeError::Failed("image has no layers".into()));
    }
    let mut lower = Vec::with_capacity(layers.len());
    for layer in layers.iter().rev() {
        let text = layer.to_string_lossy();
        // overlayfs separates layers with ':' and options with ','; such paths cannot be said.
        if text.contains(':') || text.contains(',') || !layer.is_absolute() {
            return Err(RuntimeError::Failed(format!(
                "unusable layer path {text:?}"
            )));
        }
        lower.push(text.into_owned());
    }
    Ok(format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    ))
}

/// Mount the overlay at `target`.
pub fn mount_rootfs(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), RuntimeError> {
    let options = overlay_options(layers, upper, work)?;
    sys::mount_overlay(target, &options)
        .map_err(|e| RuntimeError::Failed(format!("mounting the container root filesystem: {e}")))
}

/// Unmount everything mounted at `target`; nothing mounted is fine.
pub fn unmount_all(target: &Path) -> io::Result<()> {
    // Bounded: a mount can only be stacked so many times by us (once), the rest is safety.
    for _ in 0..8 {
        match sys::unmount(target) {
            Ok(()) => continue,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) => {
                return Ok(())
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowerdirs_are_top_first() {
        let layers = vec![PathBuf::from("/l/base"), PathBuf::from("/l/top")];
        assert_eq!(
            overlay_options(&layers, Path::new("/c/upper"), Path::new("/c/work")).unwrap(),
            "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
        assert!(overlay_options(&[], Path::new("/u"), Path::new("/w")).is_err());
        assert!(
            overlay_options(&[PathBuf::from("/a:b")], Path::new("/u"), Path::new("/w")).is_err()
        );
    }
}
