//! Where the runtime keeps its state under its root, and the records it writes there. All
//! state lives in files so a new runtime (after an agent restart) sees everything.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use skiff_cri::RuntimeError;

/// Paths under the runtime root.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
    /// runc's private state directory (`runc --root`), so we never see other containers.
    pub fn runc_root(&self) -> PathBuf {
        self.root.join("runc")
    }
    /// Directory holding one directory per sandbox.
    pub fn sandboxes(&self) -> PathBuf {
        self.root.join("sandboxes")
    }
    /// Directory holding one directory per container.
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
    /// A sandbox's directory.
    pub fn sandbox_dir(&self, id: &str) -> PathBuf {
        self.sandboxes().join(id)
    }
    /// A container's directory.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }
}

/// Refuse ids that could escape the state directories or confuse runc.
pub fn check_id(id: &str) -> Result<(), RuntimeError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::Failed(format!(
            "invalid id {id:?}: use 1-128 characters from [A-Za-z0-9_.-], not starting with '.'"
        )))
    }
}

/// What the runtime remembers about a sandbox (`sandbox.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SandboxRecord {
    /// Sandbox id (also the pause container's runc id).
    pub id: String,
    /// Pod UID.
    pub pod_uid: String,
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// Hostname.
    pub hostname: String,
    /// Host networking.
    pub host_network: bool,
    /// The pod's cgroup parent.
    pub cgroup_parent: String,
    /// cgroupsPath of the pause container.
    pub cgroups_path: String,
}

/// What the runtime remembers about a container (`container.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Container id (also its runc id).
    pub id: String,
    /// Sandbox it belongs to.
    pub sandbox_id: String,
    /// Name in the pod.
    pub name: String,
    /// cgroupsPath given to runc.
    pub cgroups_path: String,
    /// CRI log file.
    pub log_path: PathBuf,
}

/// How a container ended (`exit.json`), written by its shim.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExitRecord {
    /// Exit code, 128 + signal when killed by one.
    pub exit_code: i32,
    /// RFC 3339 time of the exit.
    pub finished_at: String,
    /// The memory cgroup's OOM killer fired.
    pub oom_killed: bool,
}

/// Name of the exit record in a state directory.
pub const EXIT_FILE: &str = "exit.json";
/// Name of the start-time record in a container directory.
pub const STARTED_FILE: &str = "started_at";
/// Name of the shim's pid file in a state directory.
pub const SHIM_PID_FILE: &str = "shim.pid";
/// Name of the container init's pid file in a state directory.
pub const INIT_PID_FILE: &str = "init.pid";

/// Write `value` as JSON atomically (temp file + rename), so readers never see half a file.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(value).map_err(io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

/// Read a JSON record; `Ok(None)` when the file does not exist.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parse an RFC 3339 time written by this crate.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(SystemTime::from)
}

/// Now, as RFC 3339 with nanoseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Read a pid file.
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_escape_are_refused() {
        for bad in ["", "..", "../x", "a/b", ".hidden", "a b"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        for good in ["abc", "pod-1_x.y", "0123456789abcdef"] {
            assert!(check_id(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn times_round_trip() {
        let t = now_rfc3339();
        assert!(parse_time(&t).is_some());
    }
}
