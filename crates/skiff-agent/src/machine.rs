//! Facts about the machine the agent runs on: CPUs, memory, disk, OS, kernel.

use std::path::Path;

/// What the Node reports about its machine.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineInfo {
    /// Logical CPUs.
    pub cpus: u64,
    /// Memory in bytes (MemTotal).
    pub memory: u64,
    /// Available memory in bytes (MemAvailable).
    pub memory_available: u64,
    /// Size of the data dir's filesystem in bytes.
    pub disk_total: u64,
    /// Free bytes for unprivileged users on it.
    pub disk_available: u64,
    /// Kernel release (`uname -r`).
    pub kernel_version: String,
    /// PRETTY_NAME from /etc/os-release.
    pub os_image: String,
    /// GOARCH-style architecture (amd64, arm64).
    pub architecture: String,
    /// /etc/machine-id.
    pub machine_id: String,
    /// Current number of processes and the maximum (pid pressure).
    pub pids: (u64, u64),
}

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Count `processor` lines of /proc/cpuinfo (at least 1).
pub fn parse_cpuinfo(s: &str) -> u64 {
    (s.lines().filter(|l| l.starts_with("processor")).count() as u64).max(1)
}

/// A `/proc/meminfo` field in bytes.
pub fn parse_meminfo(s: &str, field: &str) -> u64 {
    s.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// PRETTY_NAME of an os-release file.
pub fn parse_os_release(s: &str) -> String {
    s.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

impl MachineInfo {
    /// Read the machine; `data_dir` selects the filesystem for ephemeral-storage.
    pub fn read(data_dir: &Path) -> Self {
        let meminfo = read("/proc/meminfo");
        let (disk_total, disk_available) = match rustix::fs::statvfs(data_dir) {
            Ok(st) => (st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize),
            Err(_) => (0, 0),
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let pid_max = read("/proc/sys/kernel/pid_max")
            .trim()
            .parse()
            .unwrap_or(32768);
        let procs = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter(|e| {
                    e.as_ref().is_ok_and(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .bytes()
                            .all(|b| b.is_ascii_digit())
                    })
                })
                .count() as u64
            })
            .unwrap_or(0);
        MachineInfo {
            cpus: parse_cpuinfo(&read("/proc/cpuinfo")),
            memory: parse_meminfo(&meminfo, "MemTotal"),
            memory_available: parse_meminfo(&meminfo, "MemAvailable"),
            disk_total,
            disk_available,
            kernel_version: read("/proc/sys/kernel/osrelease").trim().to_string(),
            os_image: parse_os_release(&read("/etc/os-release")),
            architecture: arch.to_string(),
            machine_id: read("/etc/machine-id").trim().to_string(),
            pids: (procs, pid_max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        assert_eq!(parse_cpuinfo("processor\t: 0\nmodel\nprocessor\t: 1\n"), 2);
        assert_eq!(
            parse_meminfo(
                "MemTotal:       16384 kB\nMemAvailable:    1024 kB\n",
                "MemAvailable"
            ),
            1024 * 1024
        );
        assert_eq!(
            parse_os_release("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        let m = MachineInfo::read(Path::new("/"));
        assert!(m.cpus >= 1 && m.memory > 0 && m.disk_total > 0);
    }
}
