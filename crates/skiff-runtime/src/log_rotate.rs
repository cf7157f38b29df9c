//! A container log file that rotates itself like the kubelet's container log manager
//! (containerLogMaxSize, containerLogMaxFiles): when the next batch of records would push
//! `0.log` past the size limit it is renamed to `0.log.<YYYYMMDD-hhmmss>` and a fresh file
//! is opened; the oldest rotated files go so at most `max_files` remain, the live one
//! included. The shim is the only writer and rotates between whole records under its lock,
//! so no line is lost or split across files.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The kubelet's default containerLogMaxSize (10Mi).
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
/// The kubelet's default containerLogMaxFiles.
pub const DEFAULT_MAX_FILES: usize = 5;

/// An append-only log file that rotates by size.
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: usize,
}

impl RotatingLog {
    /// Open (append to) `path`; `max_size` 0 disables rotation; `max_files` counts the live
    /// file too (at least 2 are kept so a rotation never discards what was just rotated).
    pub fn open(path: &Path, max_size: u64, max_files: usize) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_files: max_files.max(2),
        })
    }

    /// Rotated files of this log, oldest first (names sort by their timestamp).
    pub fn rotated(path: &Path) -> Vec<PathBuf> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Vec::new();
        };
        let prefix = format!("{}.", name.to_string_lossy());
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        let base = format!("{}.{stamp}", self.path.display());
        // Several rotations in one second must neither overwrite each other nor sort before
        // an older file (the oldest are removed by name order): `-N` keeps the order.
        let newest = Self::rotated(&self.path).pop();
        let mut target = PathBuf::from(&base);
        let mut n = 1;
        while target.exists() || newest.as_ref().is_some_and(|l| *l >= target) {
            target = PathBuf::from(format!("{base}-{n:06}"));
            n += 1;
        }
        std::fs::rename(&self.path, &target)?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        let rotated = Self::rotated(&self.path);
        let excess = rotated.len().saturating_sub(self.max_files - 1);
        for old in rotated.iter().take(excess) {
            if let Err(e) = std::fs::remove_file(old) {
                eprintln!("shim: removing rotated log {}: {e}", old.display());
            }
        }
        Ok(())
    }
}

impl Write for RotatingLog {
    /// Writes all of `buf` (one batch of whole records) to one file.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.max_size > 0 && self.size > 0 && self.size + buf.len() as u64 > self.max_size {
            // A failed rotation must not lose output: keep appending to the current file.
            if let Err(e) = self.rotate() {
                eprintln!("shim: rotating {}: {e}", self.path.display());
            }
        }
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_max_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("0.log");
        let mut log = RotatingLog::open(&path, 100, 3).expect("open");
        let mut all = Vec::new();
        for i in 0..20 {
            let rec = format!("record {i:02} {}\n", "x".repeat(20));
            all.push(rec.clone());
            log.write_all(rec.as_bytes()).expect("write");
        }
        let rotated = RotatingLog::rotated(&path);
        assert_eq!(rotated.len(), 2, "{rotated:?}");
        // Every file holds whole records, none over the limit, and together the kept files
        // are the newest records without a gap.
        let mut kept = String::new();
        for p in rotated.iter().chain(std::iter::once(&path)) {
            let text = std::fs::read_to_string(p).expect("read");
            assert!(text.len() <= 100, "{p:?} has {} bytes", text.len());
            assert!(text.ends_with('\n'));
            kept.push_str(&text);
        }
        let want: String = all[all.len() - kept.lines().count()..].concat();
        assert_eq!(kept, want);
        assert!(kept.ends_with(&all[19]));
    }

    #[test]
    fn a_record_bigger_than_the_limit_still_lands_whole() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("0.log");
        let mut log = RotatingLog::open(&path, 10, 5).expect("open");
        log.write_all(b"a long record\n").expect("write");
        log.write_all(b"another long one\n").expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "another long one\n"
        );
        assert_eq!(RotatingLog::rotated(&path).len(), 1);
    }
}
