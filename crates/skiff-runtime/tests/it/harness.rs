//! Test fixture: a private runtime root, a busybox layer, a unique cgroup parent, and a
//! guard that removes every container, mount, cgroup and shim even when a test fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use skiff_cri::{ContainerConfig, ContainerState, RuntimeService, SandboxConfig, SandboxInfo};
use skiff_runtime::RuncRuntime;

pub const RUNC: &str = "/usr/sbin/runc";
const BUSYBOX: &str = "/usr/bin/busybox";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub runtime: RuncRuntime,
    pub layer: PathBuf,
    /// Top-level cgroup unique to this test, e.g. `/skiff-test-<uuid>`.
    pub cgroup_top: String,
}

/// Why this machine cannot run the tests, if it cannot.
fn missing_capability() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
            })
        });
    if uid.as_deref() != Some("0") {
        return Some("not running as root".into());
    }
    if !Path::new(RUNC).exists() {
        return Some(format!("{RUNC} not installed"));
    }
    if !Path::new(BUSYBOX).exists() {
        return Some(format!("{BUSYBOX} not installed"));
    }
    if !Path::new("/sys/fs/cgroup/memory").is_dir() {
        return Some("no cgroup v1 memory hierarchy".into());
    }
    None
}

fn busybox_layer(dir: &Path) -> PathBuf {
    let layer = dir.join("layers/busybox");
    for d in ["bin", "etc", "tmp", "proc", "dev", "sys"] {
        std::fs::create_dir_all(layer.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, layer.join("bin/busybox")).unwrap();
    let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if !applet.is_empty() && applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", layer.join("bin").join(applet));
        }
    }
    layer
}

impl Fixture {
    /// A fixture, or `None` (after saying why) when the machine lacks root, runc or busybox.
    pub fn new(test: &str) -> Option<Self> {
        if let Some(reason) = missing_capability() {
            eprintln!("skipping {test}: {reason}");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("skiff-runtime-it-")
            .tempdir()
            .unwrap();
        let layer = busybox_layer(dir.path());
        let runtime = RuncRuntime::new(
            dir.path().join("runtime"),
            RUNC.into(),
            env!("CARGO_BIN_EXE_skiff-runtime-test-shim").into(),
        )
        .unwrap();
        let cgroup_top = format!("/skiff-test-{}", uuid::Uuid::new_v4().simple());
        Some(Self {
            dir,
            runtime,
            layer,
            cgroup_top,
        })
    }

    pub fn runc_root(&self) -> PathBuf {
        self.dir.path().join("runtime/runc")
    }

    pub fn sandbox_config(&self, name: &str) -> SandboxConfig {
        SandboxConfig {
            pod_uid: format!("uid-{name}"),
            name: name.into(),
            namespace: "default".into(),
            hostname: name.into(),
            cgroup_parent: format!("{}/pod-{name}", self.cgroup_top),
            hosts: vec!["10.0.0.9\textra-host".into()],
            ..Default::default()
        }
    }

    pub async fn sandbox(&self, name: &str) -> SandboxInfo {
        self.runtime
            .run_sandbox(self.sandbox_config(name))
            .await
            .unwrap()
    }

    pub fn container(&self, sandbox: &SandboxInfo, id: &str, script: &str) -> ContainerConfig {
        ContainerConfig {
            id: id.into(),
            sandbox_id: sandbox.id.clone(),
            name: id.into(),
            layers: vec![self.layer.clone()],
            command: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec!["GREETING=hello".into()],
            // Empty: the container goes under its sandbox's (pod's) cgroup parent.
            cgroup_parent: String::new(),
            log_path: self.dir.path().join(format!("logs/{id}.log")),
            ..Default::default()
        }
    }

    /// Create and start a container.
    pub async fn run(&self, cfg: ContainerConfig) {
        let id = cfg.id.clone();
        self.runtime.create_container(cfg).await.unwrap();
        self.runtime.start_container(&id).await.unwrap();
    }

    pub fn log(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("logs/{id}.log"))).unwrap_or_default()
    }

    /// Poll until the container has exited; its state.
    pub async fn wait_exit(&self, id: &str, timeout: Duration) -> ContainerState {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let state = self.runtime.container_state(id).await.unwrap();
            if matches!(state, ContainerState::Exited { .. })
                || tokio::time::Instant::now() > deadline
            {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Assert that nothing of ours is left: runc containers, mounts, cgroups.
    pub fn assert_clean(&self) {
        let out = Command::new(RUNC)
            .arg("--root")
            .arg(self.runc_root())
            .args(["list", "-q"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "",
            "runc containers left"
        );
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let ours = self.dir.path().to_string_lossy().to_string();
        assert!(!mountinfo.contains(&ours), "mounts left under {ours}");
        for controller in ["memory", "cpu", "pids"] {
            let dir = Path::new("/sys/fs/cgroup")
                .join(controller)
                .join(self.cgroup_top.trim_start_matches('/'));
            let leftovers: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.path().is_dir())
                        .map(|e| e.path())
                        .collect()
                })
                .unwrap_or_default();
            assert!(leftovers.is_empty(), "cgroups left: {leftovers:?}");
        }
    }
}

fn remove_cgroup_tree(path: &Path) {
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(path);
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Best-effort teardown with plain commands, independent of the code under test.
        let root = self.runc_root();
        if let Ok(out) = Command::new(RUNC)
            .arg("--root")
            .arg(&root)
            .args(["list", "-q"])
            .output()
        {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = Command::new(RUNC)
                    .arg("--root")
                    .arg(&root)
                    .args(["delete", "--force", id])
                    .status();
            }
        }
        // Shims exit once their container is gone; kill any that linger.
        let state = self.dir.path().join("runtime");
        for kind in ["containers", "sandboxes"] {
            for entry in std::fs::read_dir(state.join(kind))
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Ok(pid) = std::fs::read_to_string(entry.path().join("shim.pid")) {
                    let cmdline =
                        std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap_or_default();
                    let needle = entry.path().to_string_lossy().to_string();
                    if String::from_utf8_lossy(&cmdline).contains(&needle) {
                        let _ = Command::new("kill").args(["-9", pid.trim()]).status();
                    }
                }
                let rootfs = entry.path().join("rootfs");
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(&rootfs)
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    remove_cgroup_tree(&e.path().join(self.cgroup_top.trim_start_matches('/')));
                }
            }
        }
    }
}
