//! [`RuncRuntime`]: sandboxes and containers as runc containers supervised by shims.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use skiff_cri::{
    BoxFuture, ContainerConfig, ContainerState, ContainerSummary, ExecIo, ExitReason, PodNetwork,
    RuntimeError, RuntimeService, SandboxConfig, SandboxInfo, Stats,
};
use tokio::time::{sleep, Instant};

use crate::layout::{self, check_id, ContainerRecord, ExitRecord, Layout, SandboxRecord};
use crate::runc::Runc;
use crate::spec::{self, SandboxView};
use crate::{cgroups, exec, mounts, port_forward, sys};

/// How long to wait for a killed container to be seen stopped.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// How long to wait for a shim to record an exit it has just seen.
const EXIT_RECORD_WAIT: Duration = Duration::from_secs(3);
/// Poll interval for state changes.
const POLL: Duration = Duration::from_millis(25);

/// A [`RuntimeService`] running containers with runc, one shim per container.
#[derive(Clone, Debug)]
pub struct RuncRuntime {
    layout: Layout,
    runc: Runc,
    shim: PathBuf,
    /// Container log rotation: size limit in bytes and files kept (kubelet's defaults).
    log_max_size: u64,
    log_max_files: usize,
    /// Connects sandboxes that don't use the host's network; None leaves them with loopback
    /// only.
    network: Option<Arc<dyn PodNetwork>>,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> RuntimeError {
    RuntimeError::Failed(format!("{what} {}: {e}", path.display()))
}

impl RuncRuntime {
    /// A runtime keeping its state under `root`, running `runc`, starting `shim_exe` as
    /// `<shim_exe> shim ...` (the binary must dispatch `shim` to [`crate::shim_main`]).
    pub fn new(root: PathBuf, runc: PathBuf, shim_exe: PathBuf) -> Result<Self, RuntimeError> {
        let layout = Layout::new(root);
        for dir in [layout.runc_root(), layout.sandboxes(), layout.containers()] {
            std::fs::create_dir_all(&dir).map_err(|e| io_err("creating", &dir, e))?;
        }
        if !runc.is_file() && runc.components().count() > 1 {
            return Err(RuntimeError::Failed(format!(
                "runc not found at {}",
                runc.display()
            )));
        }
        // The pause container bind-mounts the shim, so it must be a real absolute path.
        let shim = std::fs::canonicalize(&shim_exe)
            .map_err(|e| io_err("shim executable", &shim_exe, e))?;
        let runc = Runc {
            bin: runc,
            root: layout.runc_root(),
        };
        Ok(Self {
            layout,
            runc,
            shim,
            log_max_size: crate::log_rotate::DEFAULT_MAX_SIZE,
            log_max_files: crate::log_rotate::DEFAULT_MAX_FILES,
            network: None,
        })
    }

    /// Attach every sandbox that doesn't use the host's network to `network`.
    pub fn with_network(mut self, network: Arc<dyn PodNetwork>) -> Self {
        self.network = Some(network);
        self
    }

    /// Rotate container logs at `max_size` bytes, keeping `max_files` files per instance
    /// (containerLogMaxSize / containerLogMaxFiles; applies to containers created later).
    pub fn with_log_rotation(mut self, max_size: u64, max_files: usize) -> Self {
        self.log_max_size = max_size;
        self.log_max_files = max_files;
        self
    }

    fn sandbox_record(&self, id: &str) -> Result<Option<SandboxRecord>, RuntimeError> {
        check_id(id)?;
        Ok(layout::read_json(
            &self.layout.sandbox_dir(id).join("sandbox.json"),
        )?)
    }

    fn container_record(&self, id: &str) -> Result<Option<ContainerRecord>, RuntimeError> {
        check_id(id)?;
        Ok(layout::read_json(
            &self.layout.container_dir(id).join("container.json"),
        )?)
    }

    /// Start `shim run` for a bundle and wait until `runc create` has succeeded or failed.
    async fn launch_shim(
        &self,
        id: &str,
        dir: &Path,
        log_path: &Path,
        memory_cgroup: Option<PathBuf>,
        tty: bool,
        stdin: bool,
    ) -> Result<(), RuntimeError> {
        let mut cmd = tokio::process::Command::new(&self.shim);
        cmd.arg("shim")
            .arg("run")
            .arg("--id")
            .arg(id)
            .arg("--bundle")
            .arg(dir)
            .arg("--state-dir")
            .arg(dir)
            .arg("--runc")
            .arg(&self.runc.bin)
            .arg("--runc-root")
            .arg(&self.runc.root)
            .arg("--log-path")
            .arg(log_path)
            .arg("--log-max-size")
            .arg(self.log_max_size.to_string())
            .arg("--log-max-files")
            .arg(self.log_max_files.to_string())
            .stdin(std::process::Stdio::null());
        if let Some(cg) = memory_cgroup {
            cmd.arg("--memory-cgroup").arg(cg);
        }
        if tty {
            cmd.arg("--tty");
        }
        if stdin {
            cmd.arg("--stdin");
        }
        let out = cmd.output().await.map_err(|e| {
            RuntimeError::Failed(format!("cannot start shim {}: {e}", self.shim.display()))
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(RuntimeError::Failed(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }

    async fn run_sandbox_impl(&self, cfg: SandboxConfig) -> Result<SandboxInfo, RuntimeError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match self.setup_sandbox(&id, &cfg).await {
            Ok(info) => Ok(info),
            Err(e) => {
                // Leave nothing half-made behind.
                let _ = self.remove_sandbox_impl(&id).await;
                Err(e)
            }
        }
    }

    async fn setup_sandbox(
        &self,
        id: &str,
        cfg: &SandboxConfig,
    ) -> Result<SandboxInfo, RuntimeError> {
        let dir = self.layout.sandbox_dir(id);
        let etc = dir.join("etc");
        let rootfs = dir.join("rootfs");
        for d in [&etc, &rootfs] {
            std::fs::create_dir_all(d).map_err(|e| io_err("creating", d, e))?;
        }
        let hostname = if cfg.hostname.is_empty() {
            cfg.name.clone()
        } else {
            cfg.hostname.clone()
        };
        let mut hosts =
            String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        for line in &cfg.hosts {
            hosts.push_str(line.trim_end());
            hosts.push('\n');
        }
        let resolv = if cfg.resolv_conf.is_empty() {
            std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
        } else {
            cfg.resolv_conf.clone()
        };
        for (name, text) in [
            ("hosts", hosts),
            ("hostname", format!("{hostname}\n")),
            ("resolv.conf", resolv),
        ] {
            let path = etc.join(name);
            std::fs::write(&path, text).map_err(|e| io_err("writing", &path, e))?;
        }
        // The shim is dynamically linked: give the pause rootfs the host's library dirs,
        // mirroring symlinks (merged /usr) and binding real directories read-only.
        let mut libs = Vec::new();
        for lib in ["/lib", "/lib64", "/usr/lib", "/usr/lib64"] {
            let host = Path::new(lib);
            let Ok(meta) = std::fs::symlink_metadata(host) else {
                continue;
            };
            let inside = rootfs.join(lib.trim_start_matches('/'));
            if meta.file_type().is_symlink() {
                if let Ok(target) = std::fs::read_link(host) {
                    if let Some(parent) = inside.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    if !inside.exists() {
                        std::os::unix::fs::symlink(target, &inside)?;
                    }
                }
            } else if meta.is_dir() {
                libs.push(host.to_path_buf());
            }
        }
        let parent = cgroups::normalize_parent(&cfg.cgroup_parent, "/skiff");
        let cgroups_path = format!("{parent}/{id}");
        let config = spec::pause_spec(
            &rootfs,
            &self.shim,
            &libs,
            &hostname,
            cfg.host_network,
            &cgroups_path,
        );
        layout::write_json(&dir.join("config.json"), &config)?;
        let record = SandboxRecord {
            id: id.to_string(),
            pod_uid: cfg.pod_uid.clone(),
            name: cfg.name.clone(),
            namespace: cfg.namespace.clone(),
            hostname,
            host_network: cfg.host_network,
            cgroup_parent: parent,
            cgroups_path,
        };
        layout::write_json(&dir.join("sandbox.json"), &record)?;
        self.launch_shim(id, &dir, &dir.join("pause.log"), None, false, false)
            .await?;
        self.runc.start(id).await?;
        let pid = self.pause_pid(id).await?;
        let netns = (!cfg.host_network).then(|| PathBuf::from(format!("/proc/{pid}/ns/net")));
        let ip = match (&self.network, &netns) {
            (Some(network), Some(path)) => Some(network.attach(id, path).await?),
            _ => None,
        };
        Ok(SandboxInfo {
            id: id.to_string(),
            netns,
            ip,
        })
    }

    async fn pause_pid(&self, sandbox_id: &str) -> Result<u32, RuntimeError> {
        match self.runc.state(sandbox_id).await? {
            Some(s) if s.status == "running" && s.pid > 0 => u32::try_from(s.pid)
                .map_err(|_| RuntimeError::Failed(format!("bad pause pid {}", s.pid))),
            Some(s) => Err(RuntimeError::Failed(format!(
                "sandbox {sandbox_id} is {}, not running",
                s.status
            ))),
            None => Err(RuntimeError::Failed(format!(
                "sandbox {sandbox_id} has no pause container"
            ))),
        }
    }

    async fn remove_sandbox_impl(&self, id: &str) -> Result<(), RuntimeError> {
        check_id(id)?;
        let dir = self.layout.sandbox_dir(id);
        if !dir.exists() {
            return Ok(());
        }
        for c in self.container_records()? {
            if c.sandbox_id == id {
                self.stop_impl(&c.id, Duration::ZERO).await?;
                self.remove_container_impl(&c.id).await?;
            }
        }
        let record: Option<SandboxRecord> =
            layout::read_json(&dir.join("sandbox.json")).ok().flatten();
        if let Some(network) = &self.network {
            // Its address goes back to the pool even if the interface went with the netns.
            network.detach(id).await?;
        }
        self.runc.kill(id, "KILL").await?;
        self.runc.delete(id).await?;
        self.end_shim(&dir).await;
        if let Some(r) = record {
            cgroups::remove(&r.cgroups_path);
            // The pod-level cgroup goes when its last sandbox does (busy = still in use).
            cgroups::remove(&r.cgroup_parent);
        }
        std::fs::remove_dir_all(&dir).map_err(|e| io_err("removing", &dir, e))?;
        Ok(())
    }

    /// Wait briefly for a state dir's shim to finish, then kill it if it lingers.
    async fn end_shim(&self, dir: &Path) {
        let Some(pid) = layout::read_pid(&dir.join(layout::SHIM_PID_FILE)) else {
            return;
        };
        let deadline = Instant::now() + EXIT_RECORD_WAIT;
        while shim_alive(pid, dir) && Instant::now() < deadline {
            sleep(POLL).await;
        }
        if shim_alive(pid, dir) {
            let _ = sys::kill(pid, libc::SIGKILL);
        }
    }

    fn container_records(&self) -> Result<Vec<ContainerRecord>, RuntimeError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.layout.containers())?.flatten() {
            if let Ok(Some(r)) =
                layout::read_json::<ContainerRecord>(&entry.path().join("container.json"))
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn create_container_impl(&self, cfg: ContainerConfig) -> Result<(), RuntimeError> {
        check_id(&cfg.id)?;
        let sandbox = self
            .sandbox_record(&cfg.sandbox_id)?
            .ok_or_else(|| RuntimeError::NotFound(format!("sandbox {}", cfg.sandbox_id)))?;
        if cfg.command.is_empty() {
            return Err(RuntimeError::Failed("container has no command".into()));
        }
        let dir = self.layout.container_dir(&cfg.id);
        if dir.exists() {
            return Err(RuntimeError::Failed(format!(
                "container {} already exists",
                cfg.id
            )));
        }
        let pause_pid = self.pause_pid(&sandbox.id).await?;
        std::fs::create_dir_all(&dir).map_err(|e| io_err("creating", &dir, e))?;
        let result = self.setup_container(&cfg, &sandbox, pause_pid, &dir).await;
        if result.is_err() {
            let _ = self.remove_container_impl(&cfg.id).await;
        }
        result
    }

    async fn setup_container(
        &self,
        cfg: &ContainerConfig,
        sandbox: &SandboxRecord,
        pause_pid: u32,
        dir: &Path,
    ) -> Result<(), RuntimeError> {
        let parent = cgroups::normalize_parent(&cfg.cgroup_parent, &sandbox.cgroup_parent);
        let record = ContainerRecord {
            id: cfg.id.clone(),
            sandbox_id: sandbox.id.clone(),
            name: cfg.name.clone(),
            cgroups_path: format!("{parent}/{}", cfg.id),
            log_path: cfg.log_path.clone(),
        };
        // Written first so removal after a failed create knows what to clean up.
        layout::write_json(&dir.join("container.json"), &record)?;
        let (upper, work, rootfs) = (dir.join("upper"), dir.join("work"), dir.join("rootfs"));
        for d in [&upper, &work, &rootfs] {
            std::fs::create_dir_all(d).map_err(|e| io_err("creating", d, e))?;
        }
        mounts::mount_rootfs(&cfg.layers, &upper, &work, &rootfs)?;
        let view = SandboxView {
            etc_dir: self.layout.sandbox_dir(&sandbox.id).join("etc"),
            pause_pid,
            host_network: sandbox.host_network,
            hostname: sandbox.hostname.clone(),
        };
        let memsw = cgroups::controller_dir("memory", "/")
            .join("memory.memsw.limit_in_bytes")
            .exists();
        let config = spec::container_spec(cfg, &rootfs, &view, &record.cgroups_path, memsw);
        layout::write_json(&dir.join("config.json"), &config)?;
        if let Some(logs) = cfg.log_path.parent() {
            std::fs::create_dir_all(logs).map_err(|e| io_err("creating", logs, e))?;
        }
        let memory = cgroups::controller_dir("memory", &record.cgroups_path);
        self.launch_shim(
            &cfg.id,
            dir,
            &cfg.log_path,
            Some(memory),
            cfg.tty,
            cfg.stdin,
        )
        .await
    }

    async fn start_impl(&self, id: &str) -> Result<(), RuntimeError> {
        if self.container_record(id)?.is_none() {
            return Err(RuntimeError::NotFound(format!("container {id}")));
        }
        self.runc.start(id).await?;
        let path = self.layout.container_dir(id).join(layout::STARTED_FILE);
        std::fs::write(&path, layout::now_rfc3339()).map_err(|e| io_err("writing", &path, e))?;
        Ok(())
    }

    /// Whether runc still has the container's init alive.
    async fn is_live(&self, id: &str) -> Result<bool, RuntimeError> {
        Ok(matches!(self.runc.state(id).await?, Some(s) if s.status != "stopped"))
    }

    async fn wait_dead(&self, id: &str, timeout: Duration) -> Result<bool, RuntimeError> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_live(id).await? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            sleep(POLL).await;
        }
    }

    async fn stop_impl(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        if self.container_record(id)?.is_none() || !self.is_live(id).await? {
            return Ok(());
        }
        if !grace.is_zero() {
            self.runc.kill(id, "TERM").await?;
        }
        if grace.is_zero() || !self.wait_dead(id, grace).await? {
            self.runc.kill(id, "KILL").await?;
            if !self.wait_dead(id, KILL_WAIT).await? {
                return Err(RuntimeError::Failed(format!(
                    "container {id} did not die after SIGKILL"
                )));
            }
        }
        // Let the shim record the exit before callers ask for the state.
        let exit = self.layout.container_dir(id).join(layout::EXIT_FILE);
        let deadline = Instant::now() + EXIT_RECORD_WAIT;
        while !exit.exists() && Instant::now() < deadline {
            sleep(POLL).await;
        }
        Ok(())
    }

    async fn remove_container_impl(&self, id: &str) -> Result<(), RuntimeError> {
        check_id(id)?;
        let dir = self.layout.container_dir(id);
        if !dir.exists() {
            return Ok(());
        }
        let record = self.container_record(id).ok().flatten();
        self.runc.delete(id).await?;
        self.end_shim(&dir).await;
        let rootfs = dir.join("rootfs");
        mounts::unmount_all(&rootfs).map_err(|e| io_err("unmounting", &rootfs, e))?;
        if let Some(r) = record {
            cgroups::remove(&r.cgroups_path);
            // runc made the pod-level parent too; it goes once empty (busy = still in use).
            if let Some((parent, _)) = r.cgroups_path.rsplit_once('/') {
                cgroups::remove(parent);
            }
        }
        std::fs::remove_dir_all(&dir).map_err(|e| io_err("removing", &dir, e))?;
        Ok(())
    }

    async fn state_impl(&self, id: &str) -> Result<ContainerState, RuntimeError> {
        if self.container_record(id)?.is_none() {
            return Err(RuntimeError::NotFound(format!("container {id}")));
        }
        let dir = self.layout.container_dir(id);
        let started_at = std::fs::read_to_string(dir.join(layout::STARTED_FILE))
            .ok()
            .and_then(|t| layout::parse_time(&t));
        let exit_path = dir.join(layout::EXIT_FILE);
        if let Some(exit) = layout::read_json::<ExitRecord>(&exit_path)? {
            return Ok(exited(&exit, started_at));
        }
        match self.runc.state(id).await? {
            Some(s) if s.status == "created" => Ok(ContainerState::Created),
            Some(s) if s.status == "running" || s.status == "paused" => {
                Ok(ContainerState::Running {
                    pid: u32::try_from(s.pid).unwrap_or(0),
                    started_at: started_at.unwrap_or(SystemTime::UNIX_EPOCH),
                })
            }
            Some(_) => {
                // Stopped: the shim may be writing the record right now.
                let deadline = Instant::now() + EXIT_RECORD_WAIT;
                while Instant::now() < deadline {
                    if let Some(exit) = layout::read_json::<ExitRecord>(&exit_path)? {
                        return Ok(exited(&exit, started_at));
                    }
                    let shim = layout::read_pid(&dir.join(layout::SHIM_PID_FILE));
                    if !shim.is_some_and(|pid| shim_alive(pid, &dir)) {
                        break;
                    }
                    sleep(POLL).await;
                }
                Ok(ContainerState::Unknown)
            }
            None => Ok(ContainerState::Unknown),
        }
    }

    async fn list_containers_impl(&self) -> Result<Vec<ContainerSummary>, RuntimeError> {
        let mut out = Vec::new();
        for r in self.container_records()? {
            let state = self
                .state_impl(&r.id)
                .await
                .unwrap_or(ContainerState::Unknown);
            out.push(ContainerSummary {
                id: r.id,
                sandbox_id: r.sandbox_id,
                name: r.name,
                state,
            });
        }
        Ok(out)
    }

    fn list_sandboxes_impl(&self) -> Result<Vec<String>, RuntimeError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.layout.sandboxes())?.flatten() {
            if let Ok(Some(r)) =
                layout::read_json::<SandboxRecord>(&entry.path().join("sandbox.json"))
            {
                out.push(r.id);
            }
        }
        Ok(out)
    }

    async fn exec_impl(
        &self,
        id: &str,
        command: Vec<String>,
        io: ExecIo,
    ) -> Result<i32, RuntimeError> {
        if self.container_record(id)?.is_none() {
            return Err(RuntimeError::NotFound(format!("container {id}")));
        }
        if !matches!(self.runc.state(id).await?, Some(s) if s.status == "running") {
            return Err(RuntimeError::Failed(format!(
                "container {id} is not running"
            )));
        }
        exec::run(&self.runc, &self.shim, id, command, io).await
    }

    async fn port_forward_impl(
        &self,
        sandbox_id: &str,
        port: u16,
    ) -> Result<tokio::net::TcpStream, RuntimeError> {
        let Some(sandbox) = self.sandbox_record(sandbox_id)? else {
            return Err(RuntimeError::NotFound(format!("sandbox {sandbox_id}")));
        };
        let netns = if sandbox.host_network {
            None
        } else {
            let pid = self.pause_pid(sandbox_id).await?;
            Some(PathBuf::from(format!("/proc/{pid}/ns/net")))
        };
        port_forward::dial(netns, port).await
    }

    fn stats_impl(&self, id: &str) -> Result<Stats, RuntimeError> {
        // A container's own cgroup, or for a sandbox the whole pod's.
        let path = if let Some(c) = self.container_record(id)? {
            c.cgroups_path
        } else if let Some(s) = self.sandbox_record(id)? {
            s.cgroup_parent
        } else {
            return Err(RuntimeError::NotFound(format!("container {id}")));
        };
        cgroups::stats(&path)
            .map_err(|e| RuntimeError::Failed(format!("reading cgroup stats of {id}: {e}")))
    }
}

/// A shim pid still names our shim (pids get reused: check it runs from this state dir).
fn shim_alive(pid: i32, dir: &Path) -> bool {
    if !sys::process_exists(pid) {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let needle = dir.as_os_str().as_encoded_bytes();
    // A zombie has an empty cmdline: it is done.
    !cmdline.is_empty() && cmdline.windows(needle.len()).any(|w| w == needle)
}

fn exited(exit: &ExitRecord, started_at: Option<SystemTime>) -> ContainerState {
    let reason = if exit.oom_killed {
        ExitReason::OomKilled
    } else if exit.exit_code == 0 {
        ExitReason::Completed
    } else {
        ExitReason::Error
    };
    ContainerState::Exited {
        exit_code: exit.exit_code,
        reason,
        started_at,
        finished_at: layout::parse_time(&exit.finished_at).unwrap_or_else(SystemTime::now),
    }
}

impl RuntimeService for RuncRuntime {
    fn run_sandbox(&self, cfg: SandboxConfig) -> BoxFuture<'_, Result<SandboxInfo, RuntimeError>> {
        Box::pin(self.run_sandbox_impl(cfg))
    }
    fn remove_sandbox(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move { self.remove_sandbox_impl(&id).await })
    }
    fn create_container(&self, cfg: ContainerConfig) -> BoxFuture<'_, Result<(), RuntimeError>> {
        Box::pin(self.create_container_impl(cfg))
    }
    fn start_container(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move { self.start_impl(&id).await })
    }
    fn stop_container(&self, id: &str, grace: Duration) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move { self.stop_impl(&id, grace).await })
    }
    fn remove_container(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move { self.remove_container_impl(&id).await })
    }
    fn container_state(&self, id: &str) -> BoxFuture<'_, Result<ContainerState, RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move { self.state_impl(&id).await })
    }
    fn list_containers(&self) -> BoxFuture<'_, Result<Vec<ContainerSummary>, RuntimeError>> {
        Box::pin(self.list_containers_impl())
    }
    fn list_sandboxes(&self) -> BoxFuture<'_, Result<Vec<String>, RuntimeError>> {
        Box::pin(async move { self.list_sandboxes_impl() })
    }
    fn exec(
        &self,
        id: &str,
        command: Vec<String>,
        io: ExecIo,
    ) -> BoxFuture<'_, Result<i32, RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move { self.exec_impl(&id, command, io).await })
    }
    fn stats(&self, id: &str) -> BoxFuture<'_, Result<Stats, RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move { self.stats_impl(&id) })
    }
    fn writable_layer_usage(&self, id: &str) -> BoxFuture<'_, Result<u64, RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move {
            if self.container_record(&id)?.is_none() {
                return Err(RuntimeError::NotFound(format!("container {id}")));
            }
            // The overlay's upper directory is everything the container wrote.
            Ok(skiff_cri::disk_usage(
                &self.layout.container_dir(&id).join("upper"),
            ))
        })
    }
    fn port_forward(
        &self,
        sandbox_id: &str,
        port: u16,
    ) -> BoxFuture<'_, Result<tokio::net::TcpStream, RuntimeError>> {
        let id = sandbox_id.to_string();
        Box::pin(async move { self.port_forward_impl(&id, port).await })
    }
}
