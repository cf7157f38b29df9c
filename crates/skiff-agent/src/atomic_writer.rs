//! Writes a volume's files the way the kubelet's AtomicWriter does: the payload goes into a
//! fresh timestamped directory, `..data` is swapped to it with an atomic rename of a symlink,
//! and each top-level name is a symlink through `..data`, so readers never see a half update.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path};

/// One file of a volume payload.
#[derive(Clone, Debug, PartialEq)]
pub struct FileEntry {
    /// Contents.
    pub data: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// Relative path → file.
pub type Payload = BTreeMap<String, FileEntry>;

fn check_path(p: &str) -> io::Result<()> {
    let path = Path::new(p);
    let ok = !p.is_empty()
        && !p.starts_with("..")
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid volume file path {p:?}"),
        ))
    }
}

/// Make `dir` hold exactly `payload`; returns false when nothing changed.
pub fn write_atomic(dir: &Path, payload: &Payload) -> io::Result<bool> {
    use std::os::unix::fs::{symlink, PermissionsExt};
    for p in payload.keys() {
        check_path(p)?;
    }
    std::fs::create_dir_all(dir)?;
    let data_link = dir.join("..data");
    let old_target = std::fs::read_link(&data_link).ok();
    if let Some(old) = &old_target {
        if read_payload(&dir.join(old))? == *payload {
            return Ok(false);
        }
    }
    let stamp = format!("..{}", chrono::Utc::now().format("%Y_%m_%d_%H_%M_%S%.9f"));
    let ts_dir = dir.join(&stamp);
    std::fs::create_dir(&ts_dir)?;
    for (rel, f) in payload {
        let path = ts_dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.data)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))?;
    }
    let tmp_link = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp_link);
    symlink(&stamp, &tmp_link)?;
    std::fs::rename(&tmp_link, &data_link)?;
    // Top-level user-visible names point through ..data.
    let tops: std::collections::BTreeSet<String> = payload
        .keys()
        .filter_map(|k| k.split('/').next().map(str::to_string))
        .collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(format!("..data/{top}"), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") {
            if name != "..data" && name != stamp {
                std::fs::remove_dir_all(entry.path())?;
            }
        } else if !tops.contains(&name) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(true)
}

fn read_payload(dir: &Path) -> io::Result<Payload> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Payload::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry
                    .path()
                    .strip_prefix(dir)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.insert(
                    rel,
                    FileEntry {
                        data: std::fs::read(entry.path())?,
                        mode: meta.permissions().mode() & 0o7777,
                    },
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(items: &[(&str, &str)]) -> Payload {
        items
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    FileEntry {
                        data: v.as_bytes().to_vec(),
                        mode: 0o644,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn swaps_contents_atomically() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("vol");
        assert!(write_atomic(&d, &payload(&[("a", "1"), ("sub/b", "2")])).expect("write"));
        assert_eq!(std::fs::read_to_string(d.join("a")).expect("a"), "1");
        assert_eq!(std::fs::read_to_string(d.join("sub/b")).expect("b"), "2");
        assert!(!write_atomic(&d, &payload(&[("a", "1"), ("sub/b", "2")])).expect("same"));
        assert!(write_atomic(&d, &payload(&[("a", "3")])).expect("update"));
        assert_eq!(std::fs::read_to_string(d.join("a")).expect("a"), "3");
        assert!(!d.join("sub").exists());
        let stamps = std::fs::read_dir(&d)
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("..2"))
            })
            .count();
        assert_eq!(stamps, 1);
        assert!(write_atomic(&d, &payload(&[("../x", "1")])).is_err());
    }
}
