//! The runc command line, with a private `--root` so only our containers are visible.

use std::path::PathBuf;
use std::process::{Output, Stdio};

use serde::Deserialize;
use skiff_cri::RuntimeError;
use tokio::process::Command;

/// runc's `state` output (the fields we use).
#[derive(Clone, Debug, Deserialize)]
pub struct RuncState {
    /// Host pid of the container's init (0 once stopped).
    pub pid: i64,
    /// `created`, `running`, `paused` or `stopped`.
    pub status: String,
}

/// A runc binary and its state root.
#[derive(Clone, Debug)]
pub struct Runc {
    /// The runc executable.
    pub bin: PathBuf,
    /// Its `--root`.
    pub root: PathBuf,
}

fn does_not_exist(output: &Output) -> bool {
    String::from_utf8_lossy(&output.stderr).contains("does not exist")
}

impl Runc {
    /// A command with the global flags set.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.root);
        cmd.stdin(Stdio::null()).kill_on_drop(false);
        cmd
    }

    async fn output(&self, args: &[&str]) -> Result<Output, RuntimeError> {
        self.command()
            .args(args)
            .output()
            .await
            .map_err(|e| RuntimeError::Failed(format!("cannot run {}: {e}", self.bin.display())))
    }

    fn failure(args: &[&str], output: &Output) -> RuntimeError {
        RuntimeError::Failed(format!(
            "runc {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }

    /// The container's state; `None` when runc does not know it.
    pub async fn state(&self, id: &str) -> Result<Option<RuncState>, RuntimeError> {
        let args = ["state", id];
        let out = self.output(&args).await?;
        if out.status.success() {
            serde_json::from_slice(&out.stdout).map(Some).map_err(|e| {
                RuntimeError::Failed(format!("runc state {id}: unreadable output: {e}"))
            })
        } else if does_not_exist(&out) {
            Ok(None)
        } else {
            Err(Self::failure(&args, &out))
        }
    }

    /// Start a created container.
    pub async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let args = ["start", id];
        let out = self.output(&args).await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Self::failure(&args, &out))
        }
    }

    /// Signal the container's init. A container that is gone or already stopped is fine.
    pub async fn kill(&self, id: &str, signal: &str) -> Result<(), RuntimeError> {
        let args = ["kill", id, signal];
        let out = self.output(&args).await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success()
            || does_not_exist(&out)
            || stderr.contains("not running")
            || stderr.contains("process already finished")
        {
            Ok(())
        } else {
            Err(Self::failure(&args, &out))
        }
    }

    /// Delete the container (killing it first if needed). Unknown containers are fine.
    pub async fn delete(&self, id: &str) -> Result<(), RuntimeError> {
        let args = ["delete", "--force", id];
        let out = self.output(&args).await?;
        if out.status.success() || does_not_exist(&out) {
            Ok(())
        } else {
            Err(Self::failure(&args, &out))
        }
    }
}
