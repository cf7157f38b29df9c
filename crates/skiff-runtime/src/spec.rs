//! OCI runtime configs (`config.json`) for pause and app containers. Pure functions of
//! their inputs, so they are unit-tested without root.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use skiff_cri::ContainerConfig;

use crate::security;

/// PATH for containers whose environment has none (the usual image default).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a container needs to know about its sandbox.
#[derive(Clone, Debug)]
pub struct SandboxView {
    /// Directory with the pod's `hosts`, `hostname` and `resolv.conf`.
    pub etc_dir: PathBuf,
    /// Host pid of the pause process, whose namespaces containers join.
    pub pause_pid: u32,
    /// The pod uses the host's network namespace.
    pub host_network: bool,
    /// Hostname of the pod.
    pub hostname: String,
}

/// Mounts every container gets: /proc, /dev and friends, /sys read-only, cgroups.
fn base_mounts() -> Vec<Value> {
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ]
}

fn bind(source: &Path, destination: &str, read_only: bool) -> Value {
    let mut options = vec!["rbind", "rprivate"];
    options.push(if read_only { "ro" } else { "rw" });
    json!({"destination": destination, "type": "bind", "source": source, "options": options})
}

fn namespace(kind: &str, pid: Option<u32>) -> Value {
    match pid {
        Some(pid) => {
            let file = if kind == "network" { "net" } else { kind };
            json!({"type": kind, "path": format!("/proc/{pid}/ns/{file}")})
        }
        None => json!({"type": kind}),
    }
}

/// The config of an app container whose root filesystem is already mounted at `rootfs`.
/// `memsw` says whether the host can limit memory+swap (then swap is disabled by setting
/// it equal to the memory limit).
pub fn container_spec(
    cfg: &ContainerConfig,
    rootfs: &Path,
    sandbox: &SandboxView,
    cgroups_path: &str,
    memsw: bool,
) -> Value {
    let sec = &cfg.security;
    let (uid, gid, gids) = sec.user.clone().unwrap_or((0, 0, Vec::new()));
    let mut env = cfg.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", sandbox.hostname));
    }
    let cwd = if cfg.working_dir.is_empty() {
        "/".to_string()
    } else {
        cfg.working_dir.clone()
    };
    let caps = security::capabilities(sec.privileged, &sec.cap_add, &sec.cap_drop);

    let mut mounts = base_mounts();
    if sec.privileged {
        // Privileged containers may write to /sys, as in Docker.
        for m in &mut mounts {
            if m["destination"] == "/sys" {
                m["options"] = json!(["nosuid", "noexec", "nodev", "rw"]);
            }
        }
    }
    for file in ["hosts", "hostname", "resolv.conf"] {
        mounts.push(bind(
            &sandbox.etc_dir.join(file),
            &format!("/etc/{file}"),
            false,
        ));
    }
    for m in &cfg.mounts {
        if m.tmpfs {
            let mode = if m.read_only { "ro" } else { "rw" };
            mounts.push(
                json!({"destination": m.destination, "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "nodev", "mode=1777", mode]}),
            );
        } else {
            mounts.push(bind(&m.source, &m.destination, m.read_only));
        }
    }

    let pid = Some(sandbox.pause_pid);
    let mut namespaces = vec![
        namespace("pid", None),
        namespace("mount", None),
        namespace("ipc", pid),
        namespace("uts", pid),
    ];
    if !sandbox.host_network {
        namespaces.push(namespace("network", pid));
    }

    let mut resources = json!({
        "devices": [{"allow": sec.privileged, "access": "rwm"}],
    });
    let r = &cfg.resources;
    let mut cpu = serde_json::Map::new();
    if let Some(shares) = r.cpu_shares {
        cpu.insert("shares".into(), json!(shares));
    }
    if let Some(quota) = r.cpu_quota {
        cpu.insert("quota".into(), json!(quota));
    }
    if let Some(period) = r.cpu_period {
        cpu.insert("period".into(), json!(period));
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(limit) = r.memory_limit {
        resources["memory"] = if memsw {
            json!({"limit": limit, "swap": limit})
        } else {
            json!({"limit": limit})
        };
    }
    if let Some(pids) = r.pids_limit {
        resources["pids"] = json!({"limit": pids});
    }

    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": resources,
    });
    if !sec.privileged {
        linux["maskedPaths"] = json!(security::MASKED_PATHS);
        linux["readonlyPaths"] = json!(security::READONLY_PATHS);
        if sec.seccomp_default {
            linux["seccomp"] = security::default_seccomp(&caps);
        }
    }

    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": cfg.tty,
            "user": {"uid": uid, "gid": gid, "additionalGids": gids},
            "args": cfg.command,
            "env": env,
            "cwd": cwd,
            "capabilities": {
                // No ambient set, as containerd: a non-root process keeps capabilities only
                // through file capabilities, which is what Kubernetes users get today.
                "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps,
            },
            "noNewPrivileges": sec.no_new_privileges,
        },
        "root": {"path": rootfs, "readonly": sec.read_only_rootfs},
        "hostname": sandbox.hostname,
        "mounts": mounts,
        "linux": linux,
    })
}

/// The config of a sandbox's pause container: `shim` bound at `/pause` (plus the host
/// library directories `libs`, read-only, since the shim is dynamically linked), running
/// `/pause shim pause` in new pid, mount, IPC, UTS and (unless `host_network`) network
/// namespaces.
pub fn pause_spec(
    rootfs: &Path,
    shim: &Path,
    libs: &[PathBuf],
    hostname: &str,
    host_network: bool,
    cgroups_path: &str,
) -> Value {
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        bind(shim, "/pause", true),
    ];
    for lib in libs {
        mounts.push(bind(lib, &lib.to_string_lossy(), true));
    }
    let mut namespaces = vec![
        namespace("pid", None),
        namespace("mount", None),
        namespace("ipc", None),
        namespace("uts", None),
    ];
    if !host_network {
        namespaces.push(namespace("network", None));
    }
    // Only what bringing up loopback needs.
    let caps = ["CAP_NET_ADMIN"];
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/pause", "shim", "pause"],
            "env": [DEFAULT_PATH],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": true,
        },
        "root": {"path": rootfs, "readonly": true},
        "hostname": hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "maskedPaths": security::MASKED_PATHS,
            "readonlyPaths": security::READONLY_PATHS,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_cri::{Mount, Resources, Security};

    fn view() -> SandboxView {
        SandboxView {
            etc_dir: "/s/etc".into(),
            pause_pid: 42,
            host_network: false,
            hostname: "web-0".into(),
        }
    }

    #[test]
    fn containers_join_the_pause_namespaces() {
        let cfg = ContainerConfig {
            command: vec!["sh".into()],
            ..Default::default()
        };
        let spec = container_spec(&cfg, Path::new("/r"), &view(), "/skiff/pod1/c1", true);
        let ns = spec["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.contains(&json!({"type": "network", "path": "/proc/42/ns/net"})));
        assert!(ns.contains(&json!({"type": "ipc", "path": "/proc/42/ns/ipc"})));
        assert!(ns.contains(&json!({"type": "pid"})));
        assert_eq!(spec["linux"]["cgroupsPath"], "/skiff/pod1/c1");
        assert_eq!(spec["process"]["env"][0], DEFAULT_PATH);
        let dests: Vec<_> = spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].clone())
            .collect();
        assert!(dests.contains(&json!("/etc/resolv.conf")));
        // Seccomp is opt-in (seccomp_default), as Kubernetes' Unconfined default.
        assert!(spec["linux"].get("seccomp").is_none());
        let host = SandboxView {
            host_network: true,
            ..view()
        };
        let spec = container_spec(&cfg, Path::new("/r"), &host, "/x", true);
        assert!(!spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network"));
    }

    #[test]
    fn limits_security_and_mounts() {
        let cfg = ContainerConfig {
            command: vec!["sh".into()],
            resources: Resources {
                cpu_shares: Some(512),
                cpu_quota: Some(50_000),
                cpu_period: Some(100_000),
                memory_limit: Some(16 << 20),
                pids_limit: Some(100),
            },
            security: Security {
                user: Some((1000, 1000, vec![5])),
                read_only_rootfs: true,
                no_new_privileges: true,
                seccomp_default: true,
                ..Default::default()
            },
            mounts: vec![
                Mount {
                    source: "/data".into(),
                    destination: "/d".into(),
                    read_only: true,
                    tmpfs: false,
                },
                Mount {
                    source: "".into(),
                    destination: "/t".into(),
                    read_only: false,
                    tmpfs: true,
                },
            ],
            ..Default::default()
        };
        let spec = container_spec(&cfg, Path::new("/r"), &view(), "/p/c", false);
        let res = &spec["linux"]["resources"];
        assert_eq!(
            res["cpu"],
            json!({"shares": 512, "quota": 50000, "period": 100000})
        );
        assert_eq!(res["memory"], json!({"limit": 16 << 20}));
        assert_eq!(res["pids"]["limit"], 100);
        assert_eq!(
            spec["process"]["user"],
            json!({"uid": 1000, "gid": 1000, "additionalGids": [5]})
        );
        assert!(spec["process"]["capabilities"].get("ambient").is_none());
        assert_eq!(spec["root"]["readonly"], true);
        assert_eq!(spec["process"]["noNewPrivileges"], true);
        assert!(spec["linux"]["seccomp"]["syscalls"].is_array());
        assert!(spec["linux"]["maskedPaths"].is_array());
        let mounts = spec["mounts"].as_array().unwrap();
        assert!(mounts
            .iter()
            .any(|m| m["destination"] == "/d"
                && m["options"].as_array().unwrap().contains(&json!("ro"))));
        assert!(mounts
            .iter()
            .any(|m| m["destination"] == "/t" && m["type"] == "tmpfs"));
    }

    #[test]
    fn privileged_has_everything_and_no_masks() {
        let cfg = ContainerConfig {
            security: Security {
                privileged: true,
                seccomp_default: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let spec = container_spec(&cfg, Path::new("/r"), &view(), "/p/c", true);
        assert!(spec["linux"].get("maskedPaths").is_none());
        assert!(spec["linux"].get("seccomp").is_none());
        assert_eq!(spec["linux"]["resources"]["devices"][0]["allow"], true);
        assert_eq!(
            spec["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            security::ALL_CAPS.len()
        );
    }
}
