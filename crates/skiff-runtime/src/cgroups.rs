//! cgroup v1 (cgroupfs) paths: removal of our cgroups and the usage figures for stats.

use std::io;
use std::path::{Path, PathBuf};

use skiff_cri::Stats;

/// Where the cgroup v1 hierarchies are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A cgroup parent as runc wants it: absolute, no trailing slash; `default` when empty.
pub fn normalize_parent(parent: &str, default: &str) -> String {
    let trimmed = parent.trim().trim_matches('/');
    if trimmed.is_empty() {
        default.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// The directory of `cgroups_path` in one controller's hierarchy.
pub fn controller_dir(controller: &str, cgroups_path: &str) -> PathBuf {
    Path::new(CGROUP_ROOT)
        .join(controller)
        .join(cgroups_path.trim_start_matches('/'))
}

/// Remove `cgroups_path` from every hierarchy (runc normally does; this covers crashes).
/// Missing or busy directories are left alone: busy means something still runs there.
pub fn remove(cgroups_path: &str) {
    let rel = cgroups_path.trim_start_matches('/');
    if rel.is_empty() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(CGROUP_ROOT) else {
        return;
    };
    for entry in entries.flatten() {
        // `cpu,cpuacct`-style names are symlinks to a real hierarchy we visit anyway.
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let _ = std::fs::remove_dir(entry.path().join(rel));
        }
    }
}

fn read_u64(path: &Path) -> io::Result<u64> {
    std::fs::read_to_string(path)?.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// CPU time (cpuacct.usage) and working set (usage minus inactive file) of a cgroup.
pub fn stats(cgroups_path: &str) -> io::Result<Stats> {
    let cpu_usage_ns = read_u64(&controller_dir("cpuacct", cgroups_path).join("cpuacct.usage"))?;
    let memory = controller_dir("memory", cgroups_path);
    let usage = read_u64(&memory.join("memory.usage_in_bytes"))?;
    let inactive_file = std::fs::read_to_string(memory.join("memory.stat"))?
        .lines()
        .find_map(|l| {
            l.strip_prefix("total_inactive_file ")
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    Ok(Stats {
        cpu_usage_ns,
        memory_working_set: usage.saturating_sub(inactive_file),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_normalized() {
        assert_eq!(normalize_parent("", "/skiff"), "/skiff");
        assert_eq!(normalize_parent("skiff/pod1/", "/x"), "/skiff/pod1");
        assert_eq!(
            normalize_parent("/skiff/burstable/pod1", "/x"),
            "/skiff/burstable/pod1"
        );
        assert_eq!(
            controller_dir("memory", "/a/b"),
            PathBuf::from("/sys/fs/cgroup/memory/a/b")
        );
    }
}
