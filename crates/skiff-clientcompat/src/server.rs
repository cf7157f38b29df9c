//! A `skiff server` child process on a free loopback port with a throw-away data dir.

use crate::binary::locate_skiff_binary;
use crate::error::{io, HarnessError};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to write its kubeconfig and start listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `skiff server`; killed (SIGKILL) and its data dir removed when dropped, so a
/// failing test never leaks a process.
pub struct SkiffServer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl SkiffServer {
    /// Start the server found by [`locate_skiff_binary`] and wait until it accepts TCP
    /// connections with its kubeconfig written.
    pub fn start() -> Result<SkiffServer, HarnessError> {
        let bin = locate_skiff_binary()?;
        // The port is picked by binding :0 and released before the server binds it, so
        // another process can grab it in between; one retry covers that race.
        match SkiffServer::start_with(&bin) {
            Err(HarnessError::ExitedEarly { .. }) => SkiffServer::start_with(&bin),
            other => other,
        }
    }

    /// Start a specific binary.
    pub fn start_with(bin: &Path) -> Result<SkiffServer, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-clientcompat-")
            .tempdir()
            .map_err(io("creating a temp dir"))?;
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("server.log"))
            .map_err(io("creating the server log"))?;
        if !bin.is_file() {
            return Err(HarnessError::MissingBinary(bin.to_path_buf()));
        }
        let child = guarded_command(bin)
            .args([
                "server",
                // API-only: no embedded node agent (it would run pods with runc and pull
                // images), no scheduler (tests bring their own) and no controllers.
                "--disable-agent",
                "--disable-scheduler",
                "--disable-controllers",
                "--bind-address",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io(format!("starting {}", bin.display())))?;
        let mut server = SkiffServer { child, dir, port };
        server.wait_listening()?;
        Ok(server)
    }

    fn wait_listening(&mut self) -> Result<(), HarnessError> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(io("polling the server process"))?
            {
                return Err(HarnessError::ExitedEarly {
                    status: status.to_string(),
                    log: self.log(),
                });
            }
            if self.kubeconfig_path().is_file()
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(HarnessError::NotReady {
            seconds: STARTUP_TIMEOUT.as_secs(),
            log: self.log(),
        })
    }

    /// The HTTPS port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The admin kubeconfig the server wrote (client certificate auth).
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("data").join("kubeconfig.yaml")
    }

    /// The server's stderr so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for SkiffServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// util-linux's `setpriv`, present on every Debian system.
const SETPRIV: &str = "/usr/bin/setpriv";

/// A command running `bin` that the kernel kills when the spawning thread dies.
///
/// `Drop` covers panics, but not a test process killed by a signal (a runner's timeout,
/// Ctrl-C): `setpriv --pdeathsig KILL` makes such a death take the server with it, with
/// no unsafe `pre_exec` here. The parent-death signal follows the spawning *thread*, so
/// a server must be started on the thread that outlives it (a test's own thread, not a
/// short-lived blocking-pool thread).
fn guarded_command(bin: &Path) -> Command {
    if Path::new(SETPRIV).is_file() {
        let mut cmd = Command::new(SETPRIV);
        cmd.args(["--pdeathsig", "KILL", "--"]).arg(bin);
        cmd
    } else {
        Command::new(bin)
    }
}

fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("binding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("reading the bound port"))?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_that_exits_at_once_is_reported_with_its_status() {
        // `false` ignores its arguments and exits 1: the harness must say so rather than
        // wait for the full startup timeout.
        let Some(bin) = ["/bin/false", "/usr/bin/false"]
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
        else {
            panic!("no `false` binary on this machine");
        };
        let started = Instant::now();
        match SkiffServer::start_with(bin) {
            Err(HarnessError::ExitedEarly { status, .. }) => {
                assert_eq!(status, "exit status: 1")
            }
            Err(other) => panic!("expected ExitedEarly, got {other}"),
            Ok(_) => panic!("`false` cannot be a running server"),
        }
        assert!(started.elapsed() < STARTUP_TIMEOUT);
    }

    #[test]
    fn a_missing_binary_is_reported_by_path() {
        let err = SkiffServer::start_with(Path::new("/nonexistent/skiff"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("/nonexistent/skiff is not a file (build it with `cargo build -p skiff`)")
        );
    }

    #[test]
    fn the_server_dies_with_the_thread_that_started_it() {
        // `sleep` stands in for a server that would otherwise outlive a killed test.
        let Some(sleep) = ["/bin/sleep", "/usr/bin/sleep"]
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
        else {
            panic!("no `sleep` binary on this machine");
        };
        if !Path::new(SETPRIV).is_file() {
            panic!("{SETPRIV} missing: install util-linux");
        }
        let child = std::thread::spawn(move || {
            let child = guarded_command(sleep)
                .arg("600")
                .spawn()
                .map_err(|e| e.to_string())?;
            // setpriv arms the signal before it execs `sleep`; a thread that ended before
            // that would not be watched at all, which a real test thread never does.
            let comm = format!("/proc/{}/comm", child.id());
            let armed = Instant::now() + Duration::from_secs(5);
            while std::fs::read_to_string(&comm)
                .map(|c| c.trim() != "sleep")
                .unwrap_or(false)
                && Instant::now() < armed
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok::<_, String>(child)
        })
        .join()
        .unwrap_or_else(|_| Err("spawning thread panicked".into()));
        let mut child = child.unwrap_or_else(|e| panic!("spawn: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let status = status.unwrap_or_else(|| panic!("child outlived its spawning thread"));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "status: {status}");
    }
}
