//! Remove what a benchmarked node agent left under its data dir: runc containers (which ends
//! their shims), mounts, and pod cgroups. Run after the pods were deleted, as a safety net.

use std::path::Path;
use std::process::{Command, Stdio};

/// Clean up the node state under `data` (the server's data dir).
pub fn node(data: &Path) {
    let runc_root = data.join("runtime/runc");
    if let Ok(out) = Command::new("runc")
        .arg("--root")
        .arg(&runc_root)
        .args(["list", "-q"])
        .output()
    {
        for id in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
        {
            let _ = Command::new("runc")
                .arg("--root")
                .arg(&runc_root)
                .args(["delete", "--force", id])
                .stderr(Stdio::null())
                .status();
        }
    }
    let mut uids = Vec::new();
    if let Ok(entries) = std::fs::read_dir(data.join("runtime/containers")) {
        for e in entries.flatten() {
            if let Some(uid) = e.file_name().to_string_lossy().split('_').next() {
                uids.push(uid.to_string());
            }
        }
    }
    let prefix = data.to_string_lossy().to_string();
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    // Deepest first, so nested mounts come off before their parents.
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = Command::new("umount").args(["-l", &m]).status();
    }
    for ctrl in [
        "cpu", "cpuacct", "memory", "pids", "blkio", "cpuset", "devices", "freezer", "systemd",
    ] {
        for qos in ["guaranteed", "burstable", "besteffort"] {
            for uid in &uids {
                let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{ctrl}/skiff/{qos}/pod{uid}"));
            }
        }
    }
}

/// Runs [`node`] on drop: after an error or Ctrl-C too.
pub struct Guard(pub std::path::PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        node(&self.0);
    }
}
