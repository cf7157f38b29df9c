//! The per-container shim (`skiff shim ...`), like containerd-shim or conmon: it outlives
//! the agent, holds the container's output pipes, writes the CRI log, reaps the container
//! and records how it exited. Also the sandbox's pause process.
//!
//! `run` is what the runtime starts: it re-executes itself as `serve` in a new session
//! and returns once `serve` reports that `runc create` succeeded (or why it failed), so the
//! runtime never has to wait for the long-lived half.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::console::{ConsoleSocket, PtyReader};
use crate::layout::{self, ExitRecord};
use crate::log_rotate::RotatingLog;
use crate::{cri_log, sys};

/// Command line of `skiff shim`.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "shim", about = "Container shim (internal)")]
pub struct ShimArgs {
    /// What to do.
    #[command(subcommand)]
    pub mode: ShimMode,
}

/// Shim modes.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ShimMode {
    /// Be a sandbox's pause process: sleep until SIGTERM, reaping zombies.
    Pause,
    /// Create a container with runc and supervise it from a detached process.
    Run(SuperviseArgs),
    /// The detached supervisor started by `run`.
    #[command(hide = true)]
    Serve(SuperviseArgs),
    /// Run `runc exec --tty` detached and wait for the process as its subreaper, exiting
    /// with its exit code (runc only hands out the terminal when it detaches).
    Exec(ExecArgs),
}

/// What an exec helper needs to know.
#[derive(Clone, Debug, clap::Args)]
pub struct ExecArgs {
    /// Container id.
    #[arg(long)]
    pub id: String,
    /// runc executable.
    #[arg(long)]
    pub runc: PathBuf,
    /// runc `--root`.
    #[arg(long)]
    pub runc_root: PathBuf,
    /// Where runc sends the terminal's master.
    #[arg(long)]
    pub console_socket: PathBuf,
    /// Command to run (after `--`).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// What a supervisor needs to know.
#[derive(Clone, Debug, clap::Args)]
pub struct SuperviseArgs {
    /// Container id.
    #[arg(long)]
    pub id: String,
    /// OCI bundle directory.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Directory for pid files and `exit.json`.
    #[arg(long)]
    pub state_dir: PathBuf,
    /// runc executable.
    #[arg(long)]
    pub runc: PathBuf,
    /// runc `--root`.
    #[arg(long)]
    pub runc_root: PathBuf,
    /// CRI log file.
    #[arg(long)]
    pub log_path: PathBuf,
    /// The container's memory cgroup directory, read for OOM kills.
    #[arg(long)]
    pub memory_cgroup: Option<PathBuf>,
    /// The container has a terminal: its output comes from the pty master runc sends.
    #[arg(long)]
    pub tty: bool,
    /// The container keeps an open stdin (`stdin: true`): without a TTY the shim holds the
    /// write end of its stdin pipe so reads block instead of seeing end-of-file.
    #[arg(long)]
    pub stdin: bool,
    /// Rotate the CRI log when it would grow past this many bytes (0 = never).
    #[arg(long, default_value_t = crate::log_rotate::DEFAULT_MAX_SIZE)]
    pub log_max_size: u64,
    /// Log files kept per container instance, the live one included.
    #[arg(long, default_value_t = crate::log_rotate::DEFAULT_MAX_FILES)]
    pub log_max_files: usize,
}

impl SuperviseArgs {
    fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--id".into(),
            self.id.clone().into(),
            "--bundle".into(),
            self.bundle.clone().into(),
            "--state-dir".into(),
            self.state_dir.clone().into(),
            "--runc".into(),
            self.runc.clone().into(),
            "--runc-root".into(),
            self.runc_root.clone().into(),
            "--log-path".into(),
            self.log_path.clone().into(),
            "--log-max-size".into(),
            self.log_max_size.to_string().into(),
            "--log-max-files".into(),
            self.log_max_files.to_string().into(),
        ];
        if self.tty {
            args.push("--tty".into());
        }
        if self.stdin {
            args.push("--stdin".into());
        }
        if let Some(cg) = &self.memory_cgroup {
            args.push("--memory-cgroup".into());
            args.push(cg.clone().into());
        }
        args
    }
}

/// Entry point of `skiff shim`; returns the process exit code.
pub fn shim_main(args: ShimArgs) -> i32 {
    match args.mode {
        ShimMode::Pause => pause(),
        ShimMode::Run(a) => launch(&a),
        ShimMode::Serve(a) => serve(&a),
        ShimMode::Exec(a) => exec_tty(&a),
    }
}

/// Start the detached supervisor and relay its verdict on `runc create`.
fn launch(args: &SuperviseArgs) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("shim: cannot find own executable: {e}");
            return 1;
        }
    };
    let shim_log = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(args.state_dir.join("shim.log"))
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "shim: cannot open shim.log in {}: {e}",
                args.state_dir.display()
            );
            return 1;
        }
    };
    let child = Command::new(exe)
        .arg("shim")
        .arg("serve")
        .args(args.to_args())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(shim_log)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shim: cannot start supervisor: {e}");
            return 1;
        }
    };
    let Some(stdout) = child.stdout.take() else {
        eprintln!("shim: supervisor has no stdout");
        return 1;
    };
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    // The supervisor is not waited for on purpose: it outlives us and init reaps it.
    drop(child);
    match line.trim_end() {
        "ok" => 0,
        "" => {
            eprintln!(
                "shim: supervisor exited before reporting; see {}",
                args.state_dir.join("shim.log").display()
            );
            1
        }
        msg => {
            eprintln!("{}", msg.strip_prefix("error: ").unwrap_or(msg));
            1
        }
    }
}

/// Tell `launch` how creation went; it only reads one line.
fn report(msg: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{msg}");
    let _ = out.flush();
}

/// The last error runc logged (its JSON log), for a useful message.
fn runc_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["level"] == "error").then(|| v["msg"].as_str().unwrap_or_default().to_string())
    })
}

fn oom_killed(memory_cgroup: Option<&Path>) -> bool {
    let Some(dir) = memory_cgroup else {
        return false;
    };
    // cgroup v1: `oom_kill N` counts OOM kills in this cgroup (Linux >= 4.13).
    std::fs::read_to_string(dir.join("memory.oom_control"))
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
        })
        .is_some_and(|n| n > 0)
}

/// The detached supervisor: create the container, copy its output, wait, record the exit.
fn serve(args: &SuperviseArgs) -> i32 {
    // Leave the agent's session so its signals and terminal never reach us.
    if let Err(e) = sys::setsid() {
        eprintln!("shim: setsid: {e}");
    }
    if let Err(e) = sys::set_child_subreaper() {
        report(&format!("error: cannot become a subreaper: {e}"));
        return 1;
    }
    let _ = std::fs::write(
        args.state_dir.join(layout::SHIM_PID_FILE),
        std::process::id().to_string(),
    );
    let log = match RotatingLog::open(&args.log_path, args.log_max_size, args.log_max_files) {
        Ok(f) => Arc::new(Mutex::new(f)),
        Err(e) => {
            report(&format!(
                "error: cannot open log {}: {e}",
                args.log_path.display()
            ));
            return 1;
        }
    };
    let runc_log = args.state_dir.join("runc.log");
    let pid_file = args.state_dir.join(layout::INIT_PID_FILE);
    let console = if args.tty {
        match ConsoleSocket::new() {
            Ok(c) => Some(c),
            Err(e) => {
                report(&format!("error: cannot create a console socket: {e}"));
                return 1;
            }
        }
    } else {
        None
    };
    let mut create = Command::new(&args.runc);
    create
        .arg("--root")
        .arg(&args.runc_root)
        .arg("--log")
        .arg(&runc_log)
        .arg("--log-format")
        .arg("json")
        .arg("create");
    if let Some(c) = &console {
        create.arg("--console-socket").arg(c.path());
    }
    let spawned = create
        .arg("--bundle")
        .arg(&args.bundle)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&args.id)
        .stdin(if args.stdin && !args.tty {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut runc = match spawned {
        Ok(c) => c,
        Err(e) => {
            report(&format!("error: cannot run {}: {e}", args.runc.display()));
            return 1;
        }
    };
    // Held for the shim's life: the container's open stdin (nothing writes to it yet).
    let _stdin = runc.stdin.take();
    // The container's init inherits runc's stdout/stderr: these pipes are its output.
    let (done_tx, done_rx) = mpsc::channel();
    let mut readers = 0;
    for (stream, pipe) in [
        (
            "stdout",
            runc.stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ),
        (
            "stderr",
            runc.stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ),
    ] {
        let Some(pipe) = pipe else { continue };
        let (log, done) = (log.clone(), done_tx.clone());
        readers += 1;
        std::thread::spawn(move || {
            if let Err(e) = cri_log::copy_stream(pipe, stream, log) {
                eprintln!("shim: copying {stream}: {e}");
            }
            let _ = done.send(());
        });
    }
    let status = match runc.wait() {
        Ok(s) => s,
        Err(e) => {
            report(&format!("error: waiting for runc create: {e}"));
            return 1;
        }
    };
    if !status.success() {
        let msg =
            runc_error(&runc_log).unwrap_or_else(|| format!("runc create exited with {status}"));
        report(&format!("error: {msg}"));
        return 1;
    }
    let Some(init) = layout::read_pid(&pid_file) else {
        report("error: runc create wrote no pid file");
        return 1;
    };
    if let Some(console) = console {
        // runc has sent the master before `create` returned; with a TTY it is the output.
        let master = match console.try_receive() {
            Ok(Some(fd)) => std::fs::File::from(fd),
            Ok(None) => {
                report("error: runc did not send the container's terminal");
                return 1;
            }
            Err(e) => {
                report(&format!("error: receiving the container's terminal: {e}"));
                return 1;
            }
        };
        let (log, done) = (log.clone(), done_tx.clone());
        readers += 1;
        std::thread::spawn(move || {
            if let Err(e) = cri_log::copy_stream(PtyReader(master), "stdout", log) {
                eprintln!("shim: copying the terminal: {e}");
            }
            let _ = done.send(());
        });
    }
    report("ok");

    let exit_code = wait_for(init);
    // Give the readers a moment to drain what the container wrote last.
    for _ in 0..readers {
        if done_rx.recv_timeout(Duration::from_secs(2)).is_err() {
            break;
        }
    }
    let record = ExitRecord {
        exit_code,
        finished_at: layout::now_rfc3339(),
        oom_killed: exit_code != 0 && oom_killed(args.memory_cgroup.as_deref()),
    };
    if let Err(e) = layout::write_json(&args.state_dir.join(layout::EXIT_FILE), &record) {
        eprintln!("shim: writing exit record: {e}");
        return 1;
    }
    0
}

/// Reap children until `init` exits; its exit code.
fn wait_for(init: i32) -> i32 {
    loop {
        match sys::wait_any(true) {
            Ok(Some((pid, code))) if pid == init => return code,
            Ok(Some(_)) => continue,
            // Not our child (the subreaper flag did not take): poll instead; the code is lost.
            Ok(None) | Err(_) => {
                while sys::process_exists(init) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                eprintln!("shim: container init {init} was not our child; exit code unknown");
                return 255;
            }
        }
    }
}

/// The pause process: bring up loopback, then sleep until SIGTERM/SIGINT, reaping zombies
/// (it is pid 1 of the sandbox's pid namespace).
fn pause() -> i32 {
    if let Err(e) = sys::loopback_up() {
        eprintln!("pause: cannot bring up lo: {e}");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pause: {e}");
            return 1;
        }
    };
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut chld)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::child()),
        ) else {
            eprintln!("pause: cannot install signal handlers");
            return 1;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return 0,
                _ = int.recv() => return 0,
                _ = chld.recv() => while let Ok(Some(_)) = sys::wait_any(false) {},
            }
        }
    })
}

/// Exit code for failures of the helper itself (runc's own code for such failures too).
pub const EXEC_HELPER_FAILED: i32 = 255;

fn exec_tty(args: &ExecArgs) -> i32 {
    if let Err(e) = sys::set_child_subreaper() {
        eprintln!("error: cannot become a subreaper: {e}");
        return EXEC_HELPER_FAILED;
    }
    let pid_file =
        std::env::temp_dir().join(format!("skiff-exec-{}.pid", uuid::Uuid::new_v4().simple()));
    let status = Command::new(&args.runc)
        .arg("--root")
        .arg(&args.runc_root)
        .arg("exec")
        .arg("--detach")
        .arg("--tty")
        .arg("--console-socket")
        .arg(&args.console_socket)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&args.id)
        .args(&args.command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status();
    let pid = layout::read_pid(&pid_file);
    let _ = std::fs::remove_file(&pid_file);
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            eprintln!("error: runc exec exited with {s}");
            return EXEC_HELPER_FAILED;
        }
        Err(e) => {
            eprintln!("error: cannot run {}: {e}", args.runc.display());
            return EXEC_HELPER_FAILED;
        }
    }
    let Some(pid) = pid else {
        eprintln!("error: runc exec wrote no pid file");
        return EXEC_HELPER_FAILED;
    };
    wait_for(pid)
}
