//! Running the iproute2 / util-linux tools that configure links, addresses and routes.

use crate::error::NetError;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Run `program args…` with `input` on stdin; its stdout, or its stderr as the error.
pub async fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<String, NetError> {
    let command = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| NetError::Command {
            command: command.clone(),
            stderr: e.to_string(),
        })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| NetError::Command {
                command: command.clone(),
                stderr: e.to_string(),
            })?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| NetError::Command {
            command: command.clone(),
            stderr: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let input_note = input
            .map(|i| format!(" (input: {})", i.trim()))
            .unwrap_or_default();
        Err(NetError::Command {
            command: format!("{command}{input_note}"),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// `ip` with a batch of commands on stdin (one process for many changes).
pub async fn ip_batch(lines: &[String]) -> Result<(), NetError> {
    run("ip", &["-batch", "-"], Some(&(lines.join("\n") + "\n"))).await?;
    Ok(())
}

/// Write a sysctl of the current network namespace (`net.ipv4.ip_forward` style name).
pub fn sysctl(name: &str, value: &str) -> Result<(), NetError> {
    let path = std::path::PathBuf::from("/proc/sys").join(name.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| NetError::io("writing", &path, e))
}
