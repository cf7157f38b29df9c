//! The node agent's container interfaces (the role CRI plays for the kubelet): an image
//! service and a runtime service. `skiff-images` and `skiff-runtime` implement them for real
//! (OCI registries, overlayfs, runc); `skiff-agent` drives them and also has a simulated
//! implementation for scale tests. Types only; no I/O here.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// ---------------------------------------------------------------- images

/// Registry credentials (from a pod's imagePullSecrets).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PullAuth {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

/// The parts of an image's config a container needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageConfig {
    /// ENTRYPOINT.
    pub entrypoint: Vec<String>,
    /// CMD.
    pub cmd: Vec<String>,
    /// ENV, as `KEY=value`.
    pub env: Vec<String>,
    /// WORKDIR ("" = /).
    pub working_dir: String,
    /// USER ("" = root), as in the image config: `name`, `uid`, `uid:gid`, `name:group`.
    pub user: String,
}

/// An image in the local store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageInfo {
    /// Every reference that names it (`docker.io/library/busybox:1.36`).
    pub references: Vec<String>,
    /// Manifest digest (`sha256:...`), the image's identity.
    pub digest: String,
    /// Image ID: the config digest (`sha256:...`), shown as `imageID` in container statuses.
    pub id: String,
    /// Total size of its layers in bytes (compressed).
    pub size: u64,
    /// Runtime configuration.
    pub config: ImageConfig,
}

/// Why an image operation failed; the text is shown to users in ErrImagePull events.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The registry (or local store) has no such image or tag.
    #[error("{0}: not found")]
    NotFound(String),
    /// The registry refused the credentials.
    #[error("pull access denied for {0}, repository does not exist or may require authorization")]
    Unauthorized(String),
    /// The registry answered with an error.
    #[error("registry error for {image}: {status} {message}")]
    Registry {
        /// The image.
        image: String,
        /// HTTP status.
        status: u16,
        /// Body or reason.
        message: String,
    },
    /// The registry could not be reached.
    #[error("failed to reach registry for {image}: {message}")]
    Network {
        /// The image.
        image: String,
        /// What went wrong.
        message: String,
    },
    /// The reference or archive is malformed.
    #[error("invalid image: {0}")]
    Invalid(String),
    /// Local storage failed.
    #[error("image store: {0}")]
    Io(#[from] std::io::Error),
}

/// Local image store and puller.
pub trait ImageService: Send + Sync + 'static {
    /// Pull `image` (a reference such as `busybox:1.36` or `reg:5000/app@sha256:...`) for this
    /// platform, unless it is already present and complete.
    fn pull(
        &self,
        image: &str,
        auth: Option<PullAuth>,
    ) -> BoxFuture<'_, Result<ImageInfo, ImageError>>;
    /// The local image a reference or digest names, if present.
    fn get(&self, image: &str) -> Option<ImageInfo>;
    /// Unpacked layer directories of a local image, lowest layer first (overlayfs lowerdirs
    /// are given top first: reverse this).
    fn layers(&self, image: &ImageInfo) -> Result<Vec<PathBuf>, ImageError>;
    /// Every local image.
    fn list(&self) -> Vec<ImageInfo>;
    /// Remove a local image (its layers go when no other image uses them).
    fn remove(&self, image: &str) -> Result<(), ImageError>;
}

// ---------------------------------------------------------------- runtime

/// A pod sandbox to create: the namespaces its containers share.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SandboxConfig {
    /// Pod UID.
    pub pod_uid: String,
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// Hostname inside the pod (UTS namespace).
    pub hostname: String,
    /// Share the host's network namespace (hostNetwork: true).
    pub host_network: bool,
    /// cgroup parent of the pod (e.g. `/skiff/burstable/pod<uid>`).
    pub cgroup_parent: String,
    /// Contents of /etc/resolv.conf for the pod ("" = copy the host's).
    pub resolv_conf: String,
    /// Extra /etc/hosts lines.
    pub hosts: Vec<String>,
}

/// A running sandbox.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SandboxInfo {
    /// Runtime's sandbox id.
    pub id: String,
    /// Path of the network namespace containers join (None with host networking).
    pub netns: Option<PathBuf>,
    /// Pod IP, once the network is set up (the runtime may leave it to the network plugin).
    pub ip: Option<String>,
}

/// A mount into a container.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    /// Host path (bind) or "" (tmpfs).
    pub source: PathBuf,
    /// Path inside the container.
    pub destination: String,
    /// Read-only.
    pub read_only: bool,
    /// tmpfs instead of a bind mount (emptyDir medium Memory).
    pub tmpfs: bool,
}

/// cgroup limits of a container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    /// cpu.shares (from the CPU request; 2 minimum, 1024 per core).
    pub cpu_shares: Option<u64>,
    /// CFS quota in µs per `cpu_period` (from the CPU limit).
    pub cpu_quota: Option<i64>,
    /// CFS period in µs (100000).
    pub cpu_period: Option<u64>,
    /// Memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// pids.max.
    pub pids_limit: Option<i64>,
}

/// Security settings of a container (from its securityContext).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Security {
    /// uid, gid, supplementary gids.
    pub user: Option<(u32, u32, Vec<u32>)>,
    /// Privileged container.
    pub privileged: bool,
    /// Read-only root filesystem.
    pub read_only_rootfs: bool,
    /// Capabilities to add (without the CAP_ prefix, e.g. NET_ADMIN).
    pub cap_add: Vec<String>,
    /// Capabilities to drop (`ALL` allowed).
    pub cap_drop: Vec<String>,
    /// no_new_privs (allowPrivilegeEscalation: false).
    pub no_new_privileges: bool,
    /// Apply the runtime's default seccomp profile.
    pub seccomp_default: bool,
}

/// A container to create in a sandbox.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerConfig {
    /// Runtime id (unique on the node).
    pub id: String,
    /// Sandbox it joins.
    pub sandbox_id: String,
    /// Container name in the pod.
    pub name: String,
    /// Image layers, lowest first (from ImageService::layers).
    pub layers: Vec<PathBuf>,
    /// Full command line (entrypoint + args already resolved).
    pub command: Vec<String>,
    /// Environment, `KEY=value`.
    pub env: Vec<String>,
    /// Working directory ("" = image default or /).
    pub working_dir: String,
    /// Mounts.
    pub mounts: Vec<Mount>,
    /// cgroup limits.
    pub resources: Resources,
    /// cgroup parent (the pod's).
    pub cgroup_parent: String,
    /// Security settings.
    pub security: Security,
    /// Allocate a TTY.
    pub tty: bool,
    /// Keep stdin open (attach).
    pub stdin: bool,
    /// Where the runtime writes the container's output in the CRI log format
    /// (`<RFC3339Nano> <stdout|stderr> <F|P> <text>` per line).
    pub log_path: PathBuf,
}

/// Why a container stopped, as containerStatuses report it.
#[derive(Clone, Debug, PartialEq)]
pub enum ExitReason {
    /// Exit code 0.
    Completed,
    /// Non-zero exit.
    Error,
    /// Killed by the OOM killer.
    OomKilled,
}

/// Where a container is in its life.
#[derive(Clone, Debug, PartialEq)]
pub enum ContainerState {
    /// Created, not started.
    Created,
    /// Running.
    Running {
        /// Host pid of its init process.
        pid: u32,
        /// When it started.
        started_at: SystemTime,
    },
    /// Finished.
    Exited {
        /// Exit code (128 + signal for signals).
        exit_code: i32,
        /// Why.
        reason: ExitReason,
        /// When it started.
        started_at: Option<SystemTime>,
        /// When it finished.
        finished_at: SystemTime,
    },
    /// The runtime cannot tell (e.g. its state was lost).
    Unknown,
}

/// A container the runtime knows, for adoption after an agent restart.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSummary {
    /// Runtime id.
    pub id: String,
    /// Sandbox id.
    pub sandbox_id: String,
    /// Container name.
    pub name: String,
    /// Current state.
    pub state: ContainerState,
}

/// Bytes a directory tree occupies on disk, as `du` counts them (symlinks not followed,
/// unreadable parts skipped).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => m.blocks() * 512 + disk_usage(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// CPU and memory usage of a container or pod, from cgroups.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Cumulative CPU time in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Working set in bytes (usage minus inactive file).
    pub memory_working_set: u64,
}

/// I/O of an exec or attach session.
pub struct ExecIo {
    /// Data for the process's stdin, if any.
    pub stdin: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    /// Receives stdout (and stderr too, with a TTY).
    pub stdout: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    /// Receives stderr (without a TTY).
    pub stderr: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    /// Terminal size changes (width, height).
    pub resize: Option<tokio::sync::mpsc::Receiver<(u16, u16)>>,
    /// Allocate a TTY.
    pub tty: bool,
}

/// Runtime failures.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No such container or sandbox.
    #[error("not found: {0}")]
    NotFound(String),
    /// runc (or the OS) refused; the message is shown in the container's status.
    #[error("{0}")]
    Failed(String),
    /// Local I/O failed.
    #[error("runtime i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Connects pod sandboxes to the node's pod network (what a CNI plugin does for containerd).
pub trait PodNetwork: std::fmt::Debug + Send + Sync + 'static {
    /// Give the sandbox's network namespace (`netns`, a path) an interface and an address;
    /// returns the pod IP.
    fn attach(&self, sandbox_id: &str, netns: &Path)
        -> BoxFuture<'_, Result<String, RuntimeError>>;
    /// Undo [`PodNetwork::attach`]. Idempotent: a sandbox never attached is fine.
    fn detach(&self, sandbox_id: &str) -> BoxFuture<'_, Result<(), RuntimeError>>;
}

/// Creates and runs pod sandboxes and containers.
pub trait RuntimeService: Send + Sync + 'static {
    /// Create a sandbox (namespaces, hostname, resolv.conf, cgroup parent).
    fn run_sandbox(&self, cfg: SandboxConfig) -> BoxFuture<'_, Result<SandboxInfo, RuntimeError>>;
    /// Stop and remove a sandbox and everything in it. Idempotent.
    fn remove_sandbox(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>>;
    /// Create a container (not started).
    fn create_container(&self, cfg: ContainerConfig) -> BoxFuture<'_, Result<(), RuntimeError>>;
    /// Start a created container.
    fn start_container(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>>;
    /// SIGTERM, then SIGKILL after `grace`. Idempotent.
    fn stop_container(&self, id: &str, grace: Duration) -> BoxFuture<'_, Result<(), RuntimeError>>;
    /// Remove a stopped container. Idempotent.
    fn remove_container(&self, id: &str) -> BoxFuture<'_, Result<(), RuntimeError>>;
    /// Current state of a container.
    fn container_state(&self, id: &str) -> BoxFuture<'_, Result<ContainerState, RuntimeError>>;
    /// Every container the runtime knows (survives agent restarts).
    fn list_containers(&self) -> BoxFuture<'_, Result<Vec<ContainerSummary>, RuntimeError>>;
    /// Every sandbox id the runtime knows.
    fn list_sandboxes(&self) -> BoxFuture<'_, Result<Vec<String>, RuntimeError>>;
    /// Run a command in a running container; returns its exit code.
    fn exec(
        &self,
        id: &str,
        command: Vec<String>,
        io: ExecIo,
    ) -> BoxFuture<'_, Result<i32, RuntimeError>>;
    /// Resource usage.
    fn stats(&self, id: &str) -> BoxFuture<'_, Result<Stats, RuntimeError>>;
    /// Bytes the container's writable layer holds on disk; 0 from runtimes that cannot
    /// tell.
    fn writable_layer_usage(&self, id: &str) -> BoxFuture<'_, Result<u64, RuntimeError>> {
        let _ = id;
        Box::pin(async { Ok(0) })
    }
    /// Connect to `127.0.0.1:port` inside a sandbox's network namespace (port-forward).
    fn port_forward(
        &self,
        sandbox_id: &str,
        port: u16,
    ) -> BoxFuture<'_, Result<tokio::net::TcpStream, RuntimeError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_nested_files_once() {
        let dir = std::env::temp_dir().join(format!("skiff-du-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).expect("mkdir");
        std::fs::write(dir.join("a/b/f"), vec![1u8; 64 * 1024]).expect("write");
        std::os::unix::fs::symlink("/usr", dir.join("a/link")).expect("symlink");
        let used = disk_usage(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        // The file and three directories; the symlink's target is not followed.
        assert!((64 * 1024..1 << 20).contains(&used), "{used}");
        assert_eq!(disk_usage(Path::new("/nonexistent/skiff")), 0);
    }
}
