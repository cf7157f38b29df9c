//! The peer: plain runc starting the same busybox command from a prepared bundle
//! (`runc create` + `runc start`, no image store, overlay, sandbox, cgroup hierarchy or API),
//! the floor under any runc-based pod start.

use crate::error::BenchError;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A bundle directory and a private runc state root; containers are removed on drop.
pub struct Peer {
    bundle: PathBuf,
    root: PathBuf,
    ids: Vec<String>,
}

fn fail(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Node(format!("runc peer: {what}: {e}"))
}

fn busybox() -> Result<PathBuf, BenchError> {
    ["/usr/bin/busybox", "/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| fail("busybox", "not installed (apt-get install busybox-static)"))
}

impl Peer {
    /// Prepare a bundle under `dir`: a busybox rootfs and `runc spec`'s config running
    /// `sleep 3600`.
    pub fn prepare(dir: &Path) -> Result<Peer, BenchError> {
        let bundle = dir.join("bundle");
        let bin = bundle.join("rootfs/bin");
        std::fs::create_dir_all(&bin).map_err(|e| fail("mkdir", e))?;
        std::fs::copy(busybox()?, bin.join("busybox")).map_err(|e| fail("copy busybox", e))?;
        for applet in ["sh", "sleep"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet))
                .map_err(|e| fail("symlink", e))?;
        }
        let st = Command::new("runc")
            .args(["spec", "--bundle"])
            .arg(&bundle)
            .status()
            .map_err(|e| fail("runc spec", e))?;
        if !st.success() {
            return Err(fail("runc spec", st));
        }
        let path = bundle.join("config.json");
        let text = std::fs::read(&path).map_err(|e| fail("read config.json", e))?;
        let mut spec: Value = serde_json::from_slice(&text).map_err(|e| fail("config.json", e))?;
        spec["process"]["args"] = json!(["sleep", "3600"]);
        spec["process"]["terminal"] = json!(false);
        // Shared by every container of the run, like an image's lower layers.
        spec["root"]["readonly"] = json!(true);
        std::fs::write(&path, serde_json::to_vec(&spec).unwrap_or_default())
            .map_err(|e| fail("write config.json", e))?;
        Ok(Peer {
            bundle,
            root: dir.join("runc-root"),
            ids: Vec::new(),
        })
    }

    fn runc(&self, args: &[&str]) -> Result<(), BenchError> {
        let st = Command::new("runc")
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| fail("runc", e))?;
        if st.success() {
            Ok(())
        } else {
            Err(fail(&format!("runc {}", args.join(" ")), st))
        }
    }

    /// Start `count` containers one after another; each one's create+start time.
    pub fn measure(&mut self, count: usize) -> Result<Vec<Duration>, BenchError> {
        let bundle = self.bundle.display().to_string();
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let id = format!("skiff-bench-peer-{}-{i}", std::process::id());
            let t0 = Instant::now();
            self.runc(&["create", "--bundle", &bundle, &id])?;
            self.ids.push(id.clone());
            self.runc(&["start", &id])?;
            out.push(t0.elapsed());
        }
        Ok(out)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        for id in std::mem::take(&mut self.ids) {
            let _ = self.runc(&["delete", "--force", &id]);
        }
    }
}
