//! runc's console socket: with a TTY, runc sends the pty master over a unix socket we
//! listen on, instead of wiring the process to its own stdio.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::sys;

/// A listening console socket; the socket file is removed on drop.
pub struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Listen on a fresh socket in the temp dir (short, since socket paths max out at 108 bytes).
    pub fn new() -> io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "skiff-console-{}.sock",
            uuid::Uuid::new_v4().simple()
        ));
        let listener = UnixListener::bind(&path)?;
        listener.set_nonblocking(true)?;
        Ok(Self { path, listener })
    }

    /// The socket's path, for `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pty master if runc has connected by now; `None` if not yet.
    pub fn try_receive(&self) -> io::Result<Option<OwnedFd>> {
        match self.listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                sys::recv_fd(stream.as_fd()).map(Some)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a pty master, ending cleanly when the last slave closes (the kernel reports EIO).
pub struct PtyReader<R>(pub R);

impl<R: Read> Read for PtyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(0),
            other => other,
        }
    }
}
