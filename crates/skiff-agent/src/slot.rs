//! What the agent tracks about one container of a pod across its instances (restarts).

use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::ContainerStateTerminated;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::probes::ProbeState;

/// One container of a pod.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Container name.
    pub name: String,
    /// Init container (runs to completion before the app containers).
    pub init: bool,
    /// Runtime id of the current instance.
    pub id: Option<String>,
    /// Restarts so far (also the instance number of the current one).
    pub restart_count: i32,
    /// Why it is not running (reason, message), shown as the waiting state.
    pub waiting: Option<(String, String)>,
    /// Start time of the running instance.
    pub running_since: Option<SystemTime>,
    /// The current instance's termination, if it ended.
    pub terminated: Option<ContainerStateTerminated>,
    /// The previous instance's termination (lastState).
    pub last_terminated: Option<ContainerStateTerminated>,
    /// Image ID of the current instance.
    pub image_id: String,
    /// Restart back-off (CrashLoopBackOff): 10 s doubling to 5 min, reset after 10 min.
    pub crash_backoff: Backoff,
    /// Earliest time of the next start attempt.
    pub next_start: Option<Instant>,
    /// Pull back-off (ImagePullBackOff): 10 s doubling to 5 min.
    pub pull_backoff: Backoff,
    /// Earliest time of the next pull.
    pub next_pull: Option<Instant>,
    /// Message of the last pull failure, repeated while backing off.
    pub pull_error: Option<String>,
    /// Startup probe state of the running instance.
    pub startup: Option<ProbeState>,
    /// Liveness probe state of the running instance.
    pub liveness: Option<ProbeState>,
    /// Readiness probe state of the running instance.
    pub readiness: Option<ProbeState>,
    /// Finished for good: will not be started again.
    pub done: bool,
}

/// Upstream's back-off bounds.
const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const BACKOFF_RESET: Duration = Duration::from_secs(600);

impl Slot {
    /// A container never started.
    pub fn new(name: &str, init: bool) -> Self {
        Slot {
            name: name.to_string(),
            init,
            id: None,
            restart_count: 0,
            waiting: Some(("ContainerCreating".into(), String::new())),
            running_since: None,
            terminated: None,
            last_terminated: None,
            image_id: String::new(),
            crash_backoff: Backoff::new(BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_RESET),
            next_start: None,
            pull_backoff: Backoff::new(BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_RESET),
            next_pull: None,
            pull_error: None,
            startup: None,
            liveness: None,
            readiness: None,
            done: false,
        }
    }

    /// Whether the current instance is running.
    pub fn running(&self) -> bool {
        self.id.is_some() && self.running_since.is_some() && self.terminated.is_none()
    }

    /// Ready: running, startup passed, and readiness passing (or no readiness probe).
    pub fn ready(&self) -> bool {
        self.running()
            && self.startup.as_ref().is_none_or(|p| p.passing)
            && self.readiness.as_ref().is_none_or(|p| p.passing)
    }

    /// Startup probe passed (or none).
    pub fn started(&self) -> bool {
        self.running() && self.startup.as_ref().is_none_or(|p| p.passing)
    }
}
