//! `runc exec` with the session's streams wired to the process.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;

use skiff_cri::{ExecIo, RuntimeError};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::console::{ConsoleSocket, PtyReader};
use crate::runc::Runc;
use crate::sys;

async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(mut from: R, mut to: W) {
    // A reader that went away (client closed) must not fail the exec; the process decides.
    let _ = tokio::io::copy(&mut from, &mut to).await;
    let _ = to.shutdown().await;
}

/// Run `command` in container `id`; returns its exit code (128 + signal when killed).
pub async fn run(
    runc: &Runc,
    shim: &Path,
    id: &str,
    command: Vec<String>,
    io: ExecIo,
) -> Result<i32, RuntimeError> {
    if command.is_empty() {
        return Err(RuntimeError::Failed("exec needs a command".into()));
    }
    if io.tty {
        return run_tty(runc, shim, id, command, io).await;
    }
    let mut cmd = runc.command();
    cmd.arg("exec").arg(id).args(&command);
    cmd.stdin(if io.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(if io.stdout.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| RuntimeError::Failed(format!("cannot run {}: {e}", runc.bin.display())))?;

    let mut tasks = Vec::new();
    if let (Some(input), Some(pipe)) = (io.stdin, child.stdin.take()) {
        // Not awaited: stdin may never end (an interactive client), the process decides.
        tokio::spawn(pump(input, pipe));
    }
    if let (Some(out), Some(pipe)) = (io.stdout, child.stdout.take()) {
        tasks.push(tokio::spawn(pump(pipe, out)));
    }
    // Keep stderr even without a receiver, for runc's own error message.
    let stderr_pipe = child.stderr.take();
    let stderr_task = tokio::spawn(async move {
        let mut captured = Vec::new();
        if let Some(pipe) = stderr_pipe {
            match io.stderr {
                Some(mut out) => {
                    let mut pipe = pipe;
                    let mut buf = vec![0u8; 8192];
                    loop {
                        use tokio::io::AsyncReadExt;
                        match pipe.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let chunk = buf.get(..n).unwrap_or_default();
                                if captured.len() < 4096 {
                                    captured.extend_from_slice(chunk);
                                }
                                let _ = out.write_all(chunk).await;
                            }
                        }
                    }
                    let _ = out.shutdown().await;
                }
                None => {
                    pump(pipe, &mut captured).await;
                }
            }
        }
        captured
    });
    let status = child
        .wait()
        .await
        .map_err(|e| RuntimeError::Failed(format!("waiting for runc exec: {e}")))?;
    for t in tasks {
        let _ = t.await;
    }
    let captured = stderr_task.await.unwrap_or_default();
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(255);
    // runc's own failures (e.g. no such executable) exit 255 with a message: surface it.
    if code == 255 {
        let text = String::from_utf8_lossy(&captured);
        if let Some(line) = text
            .lines()
            .rev()
            .find(|l| l.contains("exec failed") || l.contains("runc exec"))
        {
            return Err(RuntimeError::Failed(line.trim().to_string()));
        }
    }
    Ok(code)
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(255)
}

/// `runc exec --tty`: the process gets a pty whose master runc sends to our console
/// socket; stdin goes to the master, the master's output (stdout and stderr merged, as on
/// any terminal) to stdout, and resizes become TIOCSWINSZ on the master.
async fn run_tty(
    runc: &Runc,
    shim: &Path,
    id: &str,
    command: Vec<String>,
    io: ExecIo,
) -> Result<i32, RuntimeError> {
    let console =
        ConsoleSocket::new().map_err(|e| RuntimeError::Failed(format!("console socket: {e}")))?;
    // The helper (our child, a subreaper) is what waits for the detached process.
    let mut cmd = tokio::process::Command::new(shim);
    cmd.arg("shim")
        .arg("exec")
        .arg("--id")
        .arg(id)
        .arg("--runc")
        .arg(&runc.bin)
        .arg("--runc-root")
        .arg(&runc.root)
        .arg("--console-socket")
        .arg(console.path())
        .arg("--")
        .args(&command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| RuntimeError::Failed(format!("cannot run {}: {e}", shim.display())))?;
    let stderr_pipe = child.stderr.take();
    let stderr_task = tokio::spawn(async move {
        let mut captured = Vec::new();
        if let Some(pipe) = stderr_pipe {
            pump(pipe, &mut captured).await;
        }
        captured
    });
    let master = loop {
        match console.try_receive() {
            Ok(Some(fd)) => break fd,
            Ok(None) => {}
            Err(e) => {
                return Err(RuntimeError::Failed(format!(
                    "receiving the exec terminal: {e}"
                )))
            }
        }
        if child.try_wait()?.is_some() {
            let captured = stderr_task.await.unwrap_or_default();
            return Err(helper_error(&captured));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    let master = std::sync::Arc::new(master);
    let reader = std::fs::File::from(master.try_clone()?);
    let writer = tokio::fs::File::from_std(std::fs::File::from(master.try_clone()?));

    let mut aux = Vec::new();
    if let Some(input) = io.stdin {
        aux.push(tokio::spawn(pump(input, writer)));
    }
    if let Some(mut resize) = io.resize {
        let master = master.clone();
        aux.push(tokio::spawn(async move {
            while let Some((cols, rows)) = resize.recv().await {
                let _ = sys::set_winsize(std::os::fd::AsFd::as_fd(&*master), cols, rows);
            }
        }));
    }
    // Blocking reads on the master end with EIO once the process (the last slave) exits.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let read_thread = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut reader = PtyReader(reader);
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0
                || tx
                    .blocking_send(buf.get(..n).unwrap_or_default().to_vec())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut stdout = io.stdout;
    let forward = tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if let Some(out) = stdout.as_mut() {
                let _ = out.write_all(&chunk).await;
            }
        }
        if let Some(out) = stdout.as_mut() {
            let _ = out.shutdown().await;
        }
    });
    let status = child.wait().await?;
    // Drop our extra master handles so the reader sees the end of output.
    for task in aux {
        task.abort();
    }
    drop(master);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), forward).await;
    drop(read_thread);
    let code = exit_code(status);
    let captured = stderr_task.await.unwrap_or_default();
    if code == crate::shim::EXEC_HELPER_FAILED && !captured.is_empty() {
        return Err(helper_error(&captured));
    }
    Ok(code)
}

fn helper_error(stderr: &[u8]) -> RuntimeError {
    let text = String::from_utf8_lossy(stderr);
    // runc logs `time=... level=error msg="..."`; the message is the useful part.
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("exec failed");
    let msg = line
        .split_once("msg=")
        .map(|(_, m)| m.trim_matches('"'))
        .unwrap_or_else(|| line.strip_prefix("error: ").unwrap_or(line));
    RuntimeError::Failed(format!("runc exec: {msg}"))
}
