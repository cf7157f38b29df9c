//! The few system calls std does not offer: mounts, the subreaper flag, sessions, waiting
//! for any child, signals and bringing up loopback. Every `unsafe` block of the crate is here.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Mount an overlay filesystem with `options` (`lowerdir=...,upperdir=...,workdir=...`).
pub fn mount_overlay(target: &Path, options: &str) -> io::Result<()> {
    let source = cstring(b"overlay")?;
    let fstype = cstring(b"overlay")?;
    let target = cstring(target.as_os_str().as_bytes())?;
    let data = cstring(options.as_bytes())?;
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            data.as_ptr().cast::<libc::c_void>(),
        )
    };
    check(rc)
}

/// Detach the mount at `target` (lazily, so a process still inside it cannot block removal).
pub fn unmount(target: &Path) -> io::Result<()> {
    let target = cstring(target.as_os_str().as_bytes())?;
    // SAFETY: `target` is a valid NUL-terminated string that outlives the call.
    check(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) })
}

/// Become the reaper of orphaned descendants, so a container's init (whose parent, runc,
/// exits after `runc create`) is re-parented to us and we see its exit status.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a plain integer argument.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) })
}

/// Start a new session, leaving the caller's process group and controlling terminal.
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid has no arguments and only fails with EPERM.
    check(unsafe { libc::setsid() })
}

/// Reap one exited child. Returns its pid and its exit code (128 + signal when killed);
/// `None` when `block` is false and no child has exited, or when there are no children.
pub fn wait_any(block: bool) -> io::Result<Option<(i32, i32)>> {
    let mut status: libc::c_int = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: `status` is a valid out-pointer for the duration of the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, flags) };
        if pid < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => return Ok(None),
                _ => return Err(err),
            }
        }
        if pid == 0 {
            return Ok(None);
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            // Stopped/continued notifications are not exits; keep waiting.
            continue;
        };
        return Ok(Some((pid, code)));
    }
}

/// Send `signal` to `pid`.
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers.
    check(unsafe { libc::kill(pid, signal) })
}

/// Whether a process with this pid exists (zombies included).
pub fn process_exists(pid: i32) -> bool {
    pid > 0 && kill(pid, 0).is_ok()
}

/// Set the loopback interface of the current network namespace up: a fresh namespace
/// starts with `lo` down, and pods expect 127.0.0.1 to work.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket creation; the fd is closed below on every path.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq for SIOCGIFFLAGS/SIOCSIFFLAGS; fd is open.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            Err(io::Error::last_os_error())
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: fd was returned by socket() above and is not used after this.
    unsafe { libc::close(fd) };
    result
}

/// Receive one file descriptor sent with SCM_RIGHTS (runc's `--console-socket` protocol:
/// the pty master, with the console's name as data).
pub fn recv_fd(sock: std::os::fd::BorrowedFd<'_>) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut data = [0u8; 1024];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    loop {
        // SAFETY: msg points at `iov`, `data` and `control`, all alive and sized as declared.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
    // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR checks msg_controllen.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    if cmsg.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "console socket: no file descriptor received",
        ));
    }
    // SAFETY: cmsg is non-null and points into `control`; for SCM_RIGHTS its data is an int.
    unsafe {
        if (*cmsg).cmsg_level != libc::SOL_SOCKET || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "console socket: unexpected control message",
            ));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
        Ok(std::os::fd::OwnedFd::from_raw_fd(fd))
    }
}

/// Set a terminal's size (the pty master's, as the process sees it on the slave).
pub fn set_winsize(fd: std::os::fd::BorrowedFd<'_>, cols: u16, rows: u16) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid winsize for TIOCSWINSZ and the fd is open.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) })
}

/// Move the calling thread into the network namespace `fd` refers to (only this thread:
/// network namespaces are per thread).
pub fn enter_netns(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the fd is open for the duration of the call; setns only reads it.
    check(unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) })
}
