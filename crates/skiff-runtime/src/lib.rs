//! Runs pod sandboxes and containers with runc: [`RuncRuntime`] implements
//! [`skiff_cri::RuntimeService`], and [`shim_main`] is the per-container shim (`skiff shim`)
//! that keeps containers running, logged and reaped across agent restarts.
//!
//! State lives under the runtime root:
//! `runc/` (runc's private `--root`), `sandboxes/<id>/` (pause bundle, `etc/` files shared
//! by the pod's containers) and `containers/<id>/` (bundle, overlay upper/work dirs, the
//! mounted `rootfs/`, pid files, `exit.json`).

mod cgroups;
mod console;
mod cri_log;
mod exec;
mod layout;
mod log_rotate;
mod mounts;
mod port_forward;
mod runc;
mod runtime;
mod security;
mod shim;
mod spec;
mod sys;

pub use log_rotate::{RotatingLog, DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE};
pub use runtime::RuncRuntime;
pub use shim::{shim_main, ExecArgs, ShimArgs, ShimMode, SuperviseArgs};
