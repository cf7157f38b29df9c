//! Capabilities, masked paths and the default seccomp profile, Docker's defaults.

use serde_json::{json, Value};

/// Capabilities a container gets by default (Docker's set).
pub const DEFAULT_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Every capability Linux defines; privileged containers get them all (runc skips those
/// the kernel lacks).
pub const ALL_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Paths hidden from unprivileged containers (Docker's list).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths made read-only in unprivileged containers (Docker's list).
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn normalize(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    upper
        .strip_prefix("CAP_")
        .map(str::to_string)
        .unwrap_or(upper)
}

/// The effective capability set, as OCI names (`CAP_...`): the default (or, privileged,
/// every) set, minus drops (`ALL` drops everything), plus adds. Adds win over drops, as in
/// Docker and containerd.
pub fn capabilities(privileged: bool, add: &[String], drop: &[String]) -> Vec<String> {
    let base: &[&str] = if privileged { ALL_CAPS } else { DEFAULT_CAPS };
    let drops: Vec<String> = drop.iter().map(|c| normalize(c)).collect();
    let mut caps: Vec<String> = if drops.iter().any(|c| c == "ALL") {
        Vec::new()
    } else {
        base.iter()
            .map(|c| c.to_string())
            .filter(|c| !drops.contains(c))
            .collect()
    };
    for cap in add.iter().map(|c| normalize(c)) {
        if cap == "ALL" {
            for c in ALL_CAPS {
                if !caps.iter().any(|have| have == c) {
                    caps.push(c.to_string());
                }
            }
        } else if !caps.contains(&cap) {
            caps.push(cap);
        }
    }
    caps.into_iter().map(|c| format!("CAP_{c}")).collect()
}

/// System calls the default profile refuses with EPERM: kernel keyrings, module loading,
/// rebooting, swap, clock setting, namespaces/mounts (unless CAP_SYS_ADMIN was added, as in
/// Docker's profile), tracing and other host-wide operations.
const DENIED_SYSCALLS: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "move_pages",
    "nfsservctl",
    "open_by_handle_at",
    "perf_event_open",
    "personality",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "_sysctl",
    "sysfs",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

/// Denied unless the container has CAP_SYS_ADMIN.
const SYS_ADMIN_SYSCALLS: &[&str] = &[
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "setns",
    "unshare",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "move_mount",
    "open_tree",
    "name_to_handle_at",
];

/// The default seccomp profile for a container with capabilities `caps` (OCI names).
/// runc ignores names the kernel or libseccomp does not know.
pub fn default_seccomp(caps: &[String]) -> Value {
    let mut names: Vec<&str> = DENIED_SYSCALLS.to_vec();
    if !caps.iter().any(|c| c == "CAP_SYS_ADMIN") {
        names.extend_from_slice(SYS_ADMIN_SYSCALLS);
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [{ "names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn capability_table() {
        let default = capabilities(false, &[], &[]);
        assert_eq!(default.len(), DEFAULT_CAPS.len());
        assert!(default.contains(&"CAP_CHOWN".to_string()));
        assert!(!default.contains(&"CAP_NET_ADMIN".to_string()));

        let added = capabilities(false, &s(&["NET_ADMIN"]), &s(&["cap_chown"]));
        assert!(added.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!added.contains(&"CAP_CHOWN".to_string()));

        assert_eq!(
            capabilities(false, &s(&["NET_BIND_SERVICE"]), &s(&["ALL"])),
            s(&["CAP_NET_BIND_SERVICE"])
        );
        assert_eq!(capabilities(true, &[], &[]).len(), ALL_CAPS.len());
    }

    #[test]
    fn mount_is_denied_without_sys_admin_only() {
        let without = default_seccomp(&capabilities(false, &[], &[])).to_string();
        assert!(without.contains("\"mount\""));
        assert!(without.contains("\"keyctl\""));
        let with = default_seccomp(&capabilities(false, &s(&["SYS_ADMIN"]), &[])).to_string();
        assert!(!with.contains("\"mount\""));
        assert!(with.contains("\"keyctl\""));
    }
}
