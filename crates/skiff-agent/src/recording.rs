//! Recording image and runtime services: they keep every call and simulate containers in
//! memory, so the agent's logic is tested without root or runc. Tests script exits with
//! [`RecordingRuntime::exit_container`] and pull failures with [`RecordingImages::fail`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use skiff_cri::{
    BoxFuture, ContainerConfig, ContainerState, ContainerSummary, ExecIo, ExitReason, ImageConfig,
    ImageError, ImageInfo, ImageService, PullAuth, RuntimeError, RuntimeService, SandboxConfig,
    SandboxInfo, Stats,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the recorded calls from the others.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An in-memory image store: every pull succeeds unless scripted to fail.
#[derive(Default)]
pub struct RecordingImages {
    images: Mutex<BTreeMap<String, ImageInfo>>,
    failures: Mutex<BTreeMap<String, String>>,
    pulls: Mutex<Vec<String>>,
    configs: Mutex<BTreeMap<String, ImageConfig>>,
}

impl RecordingImages {
    /// An empty store.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Make pulls of `image` fail with a registry error carrying `message`.
    pub fn fail(&self, image: &str, message: &str) {
        lock(&self.failures).insert(image.to_string(), message.to_string());
    }

    /// Let pulls of `image` succeed again.
    pub fn heal(&self, image: &str) {
        lock(&self.failures).remove(image);
    }

    /// Give `image` this config when it is pulled.
    pub fn set_config(&self, image: &str, cfg: ImageConfig) {
        lock(&self.configs).insert(image.to_string(), cfg);
    }

    /// Every pull so far, in order.
    pub fn pulls(&self) -> Vec<String> {
        lock(&self.pulls).clone()
    }
}

impl ImageService for RecordingImages {
    fn pull(
        &self,
        image: &str,
        _auth: Option<PullAuth>,
    ) -> BoxFuture<'_, Result<ImageInfo, ImageError>> {
        let image = image.to_string();
        Box::pin(async move {
            lock(&self.pulls).push(image.clone());
            if let Some(msg) = lock(&self.failures).get(&image) {
                return Err(ImageError::Registry {
                    image,
                    status: 404,
                    message: msg.clone(),
                });
            }
            let cfg = lock(&self.configs)
                .get(&image)
                .cloned()
                .unwrap_or_else(|| ImageConfig {
                    cmd: vec!["/bin/sh".into()],
                    env: vec![
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                    ],
                    ..Default::default()
                });
            let info = ImageInfo {
                references: vec![image.clone()],
                digest: format!("sha256:{:064x}", image.len()),
                id: format!("sha256:{:064x}", image.len() + 1),
                size: 1,
                config: cfg,
            };
            lock(&self.images).insert(image, info.clone());
            Ok(info)
        })
    }

    fn get(&self, image: &str) -> Option<ImageInfo> {
        lock(&self.images).get(image).cloned()
    }

    fn layers(&self, _image: &ImageInfo) -> Result<Vec<PathBuf>, ImageError> {
        Ok(vec![PathBuf::from("/nonexistent/recorded-layer")])
    }

    fn list(&self) -> Vec<ImageInfo> {
        lock(&self.images).values().cloned().collect()
    }

    fn remove(&self, image: &str) -> Result<(), ImageError> {
        lock(&self.images)
            .remove(image)
            .map(|_| ())
            .ok_or_else(|| ImageError::NotFound(image.to_string()))
    }
}

/// One recorded runtime call.
#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeCall {
    /// run_sandbox.
    RunSandbox(SandboxConfig),
    /// remove_sandbox.
    RemoveSandbox(String),
    /// create_container.
    Create(ContainerConfig),
    /// start_container.
    Start(String),
    /// stop_container with its grace period.
    Stop(String, Duration),
    /// remove_container.
    Remove(String),
    /// exec.
    Exec(String, Vec<String>),
}

struct FakeContainer {
    cfg: ContainerConfig,
    state: ContainerState,
}

#[derive(Default)]
struct RuntimeInner {
    calls: Vec<RuntimeCall>,
    sandboxes: BTreeSet<String>,
    containers: BTreeMap<String, FakeContainer>,
    next: u32,
    exec_exit: BTreeMap<String, i32>,
    port_forward_target: Option<std::net::SocketAddr>,
}

/// An in-memory runtime: started containers run until told to exit or stopped.
#[derive(Default)]
pub struct RecordingRuntime {
    inner: Mutex<RuntimeInner>,
}

impl RecordingRuntime {
    /// An empty runtime.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<RuntimeCall> {
        lock(&self.inner).calls.clone()
    }

    /// The config of every container ever created, in order.
    pub fn created(&self) -> Vec<ContainerConfig> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                RuntimeCall::Create(cfg) => Some(cfg),
                _ => None,
            })
            .collect()
    }

    /// Ids of running containers named `name`.
    pub fn running(&self, name: &str) -> Vec<String> {
        lock(&self.inner)
            .containers
            .iter()
            .filter(|(_, c)| {
                c.cfg.name == name && matches!(c.state, ContainerState::Running { .. })
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Make every running container named `name` exit with `code` (137 with `oom` = OOMKilled).
    pub fn exit_container(&self, name: &str, code: i32, oom: bool) {
        let mut inner = lock(&self.inner);
        for c in inner.containers.values_mut() {
            if c.cfg.name != name {
                continue;
            }
            if let ContainerState::Running { started_at, .. } = c.state {
                let reason = if oom {
                    ExitReason::OomKilled
                } else if code == 0 {
                    ExitReason::Completed
                } else {
                    ExitReason::Error
                };
                c.state = ContainerState::Exited {
                    exit_code: code,
                    reason,
                    started_at: Some(started_at),
                    finished_at: SystemTime::now(),
                };
            }
        }
    }

    /// Exit code of execs whose command starts with `first_arg` (default 0).
    pub fn set_exec_exit(&self, first_arg: &str, code: i32) {
        lock(&self.inner)
            .exec_exit
            .insert(first_arg.to_string(), code);
    }

    /// Pretend a container is already running (adoption tests).
    pub fn insert_running(&self, cfg: ContainerConfig) {
        let mut inner = lock(&self.inner);
        inner.sandboxes.insert(cfg.sandbox_id.clone());
        let state = ContainerState::Running {
            pid: 4242,
            started_at: SystemTime::now(),
        };
        inner
            .containers
            .insert(cfg.id.clone(), FakeContainer { cfg, state });
    }

    /// Where port-forward dials go (a local listener standing in for the pod's port).
    pub fn set_port_forward_target(&self, addr: std::net::SocketAddr) {
        lock(&self.inner).port_forward_target = Some(addr);
    }

    /// Whether a sandbox exists.
    pub fn has_sandbox(&self, id: &str) -> bool {
        lock(&self.inner).sandboxes.contains(id)
    }
}

impl RuntimeService for RecordingRuntime {
    fn run_sandbox(&self, cfg: SandboxConfig) -> BoxFuture<'_, Result<SandboxInfo, RuntimeError>> {
        Box::pin(async move {
            let mut inner = lock(&self.inner);
            inner.next += 1;
            let id = format!("sandbox-{}", inner.next);
            let ip = if cfg.host_network {
                None
            } else {
                Some(format!("10.42.0.{}", inner.next % 250 + 2))
            };
            inner.calls.push(RuntimeCall::RunSandbox(cfg));
            inner.sandboxes.insert(id.clone());
            Ok(SandboxInfo {
                id,
                netns: None,
                ip,
            })
        })
    }

    fn remove_sandbox(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move {
            let mut inner = lock(&self.inner);
            inner.calls.push(RuntimeCall::RemoveSandbox(id.clone()));
            inner.sandboxes.remove(&id);
            inner.containers.retain(|_, c| c.cfg.sandbox_id != id);
            Ok(())
        })
    }

    fn create_container(&self, cfg: ContainerConfig) -> BoxFuture<'_, Result<(), RuntimeError>> {
        Box::pin(async move {
            let mut inner = lock(&self.inner);
            if !inner.sandboxes.contains(&cfg.sandbox_id) {
                return Err(RuntimeError::NotFound(cfg.sandbox_id.clone()));
            }
            if inner.containers.contains_key(&cfg.id) {
                return Err(RuntimeError::Failed(format!("container {} exists", cfg.id)));
            }
            inner.calls.push(RuntimeCall::Create(cfg.clone()));
            inner.containers.insert(
                cfg.id.clone(),
                FakeContainer {
                    cfg,
                    state: ContainerState::Created,
                },
            );
            Ok(())
        })
    }

    fn start_container(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move {
            let mut inner = lock(&self.inner);
            inner.calls.push(RuntimeCall::Start(id.clone()));
            let c = inner
                .containers
                .get_mut(&id)
                .ok_or_else(|| RuntimeError::NotFound(id.clone()))?;
            c.state = ContainerState::Running {
                pid: 4242,
                started_at: SystemTime::now(),
            };
            // Write one log line like the real runtime, so log serving is testable.
            if let Some(dir) = c.cfg.log_path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let line = format!(
                "{} stdout F started {}\n",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                c.cfg.name
            );
            let _ = std::fs::write(&c.cfg.log_path, line);
            Ok(())
        })
    }

    fn stop_container(&self, id: &str, grace: Duration) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move {
            let mut inner = lock(&self.inner);
            inner.calls.push(RuntimeCall::Stop(id.clone(), grace));
            if let Some(c) = inner.containers.get_mut(&id) {
                if let ContainerState::Running { started_at, .. } = c.state {
                    c.state = ContainerState::Exited {
                        exit_code: 137,
                        reason: ExitReason::Error,
                        started_at: Some(started_at),
                        finished_at: SystemTime::now(),
                    };
                }
            }
            Ok(())
        })
    }

    fn remove_container(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move {
            let mut inner = lock(&self.inner);
            inner.calls.push(RuntimeCall::Remove(id.clone()));
            inner.containers.remove(&id);
            Ok(())
        })
    }

    fn container_state(&self, id: &str) -> BoxFuture<'_, Result<ContainerState, RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move {
            lock(&self.inner)
                .containers
                .get(&id)
                .map(|c| c.state.clone())
                .ok_or(RuntimeError::NotFound(id))
        })
    }

    fn list_containers(&self) -> BoxFuture<'_, Result<Vec<ContainerSummary>, RuntimeError>> {
        Box::pin(async move {
            Ok(lock(&self.inner)
                .containers
                .iter()
                .map(|(id, c)| ContainerSummary {
                    id: id.clone(),
                    sandbox_id: c.cfg.sandbox_id.clone(),
                    name: c.cfg.name.clone(),
                    state: c.state.clone(),
                })
                .collect())
        })
    }

    fn list_sandboxes(&self) -> BoxFuture<'_, Result<Vec<String>, RuntimeError>> {
        Box::pin(async move { Ok(lock(&self.inner).sandboxes.iter().cloned().collect()) })
    }

    fn exec(
        &self,
        id: &str,
        command: Vec<String>,
        io: ExecIo,
    ) -> BoxFuture<'_, Result<i32, RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move {
            let code = {
                let mut inner = lock(&self.inner);
                let code = command
                    .first()
                    .and_then(|c| inner.exec_exit.get(c).copied())
                    .unwrap_or(0);
                inner.calls.push(RuntimeCall::Exec(id, command.clone()));
                code
            };
            // Behave like `cat` when given stdin, else print the command line, so stream
            // tests see data flow both ways.
            if let Some(mut out) = io.stdout {
                use tokio::io::AsyncWriteExt;
                match io.stdin {
                    Some(mut input) => {
                        let _ = tokio::io::copy(&mut input, &mut out).await;
                    }
                    None => {
                        let _ = out
                            .write_all(format!("{}\n", command.join(" ")).as_bytes())
                            .await;
                    }
                }
                let _ = out.shutdown().await;
            }
            if let Some(mut err) = io.stderr {
                use tokio::io::AsyncWriteExt;
                let _ = err.write_all(b"stderr line\n").await;
                let _ = err.shutdown().await;
            }
            Ok(code)
        })
    }

    fn port_forward(
        &self,
        sandbox_id: &str,
        port: u16,
    ) -> BoxFuture<'_, Result<tokio::net::TcpStream, RuntimeError>> {
        let sandbox_id = sandbox_id.to_string();
        Box::pin(async move {
            let target = {
                let inner = lock(&self.inner);
                if !inner.sandboxes.contains(&sandbox_id) {
                    return Err(RuntimeError::NotFound(format!("sandbox {sandbox_id}")));
                }
                inner.port_forward_target
            };
            let target = target.ok_or_else(|| {
                RuntimeError::Failed(format!("dial 127.0.0.1:{port}: connection refused"))
            })?;
            Ok(tokio::net::TcpStream::connect(target).await?)
        })
    }

    fn stats(&self, id: &str) -> BoxFuture<'_, Result<Stats, RuntimeError>> {
        let id = id.to_string();
        Box::pin(async move {
            if lock(&self.inner).containers.contains_key(&id) {
                Ok(Stats {
                    cpu_usage_ns: 1_000_000,
                    memory_working_set: 4 << 20,
                })
            } else {
                Err(RuntimeError::NotFound(id))
            }
        })
    }
}
