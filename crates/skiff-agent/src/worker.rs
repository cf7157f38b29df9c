//! One pod's worker: an explicit state machine from sandbox creation through init and app
//! containers to termination. Triggers (pod updates, timers) only wake it; every step
//! re-reads the pod and the runtime and converges.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Preconditions};
use kube::{Api, Client};
use skiff_cri::{ContainerSummary, ImageService, RuntimeService, SandboxInfo};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::AgentConfig;
use crate::env::{PodFacts, RefData};
use crate::events::{EventRecorder, EventType};
use crate::slot::Slot;
use crate::volumes::PreparedVolume;

/// Shared by every pod worker of a node.
pub(crate) struct WorkerCtx {
    /// API client.
    pub client: Client,
    /// The agent's configuration.
    pub cfg: Arc<AgentConfig>,
    /// Image store and puller.
    pub images: Arc<dyn ImageService>,
    /// Container runtime.
    pub runtime: Arc<dyn RuntimeService>,
    /// Event sink.
    pub events: EventRecorder,
    /// Node allocatable CPU (millicores) and memory (bytes), defaults of resourceFieldRef.
    pub node_cpu_millis: i64,
    pub node_memory: i64,
    /// Evictions the eviction manager ordered, for the pods' workers to carry out.
    pub evictions: crate::eviction_manager::Orders,
}

/// Where a pod's life is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Prepare volumes and create the sandbox. Recovers by retrying with a short delay
    /// (a missing ConfigMap or a runtime failure is reported as an event meanwhile).
    Setup,
    /// Run init container `n` to completion; a failure restarts it (with back-off) unless
    /// restartPolicy is Never, which fails the pod.
    Init(usize),
    /// App containers run; exits are restarted per restartPolicy with CrashLoopBackOff;
    /// probes are evaluated. Leaves when every container is done for good.
    Run,
    /// Every container finished for good (Succeeded or Failed); waits for deletion.
    Finished,
    /// deletionTimestamp is set: preStop, stop, remove, then delete the object for good.
    Terminating,
    /// The object is gone from the API: tear down locally, no API writes.
    Gone,
    /// The worker ends.
    Done,
}

/// Why the node itself ended a pod: both end it Failed with reason Evicted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NodeVerdict {
    /// The eviction manager evicted it (the kubelet's message).
    Evicted(String),
    /// Admission refused it under node pressure.
    Rejected(String),
}

/// How a worker learns about its pod: `None` = deleted from the API.
pub(crate) type PodUpdates = watch::Receiver<Option<Pod>>;

/// One pod's worker.
pub(crate) struct PodWorker {
    pub ctx: Arc<WorkerCtx>,
    pub pod: Pod,
    pub uid: String,
    pub sandbox: Option<SandboxInfo>,
    pub slots: Vec<Slot>,
    pub refs: RefData,
    pub refs_at: Option<Instant>,
    pub volumes: BTreeMap<String, PreparedVolume>,
    pub start_time: Time,
    pub pod_ip: String,
    pub last_status: Option<serde_json::Value>,
    /// resourceVersion of the pod our last status write produced: older copies arriving
    /// later on the watch are not someone else's change.
    pub last_status_rv: u64,
    pub condition_times: BTreeMap<String, (String, Time)>,
    pub state: State,
    /// Set when the node itself ended the pod (eviction, admission refusal).
    pub evicted: Option<NodeVerdict>,
    /// Whether the node's admission check ran for this pod.
    pub admission_checked: bool,
}

/// Grace period of containers stopped by an eviction (the kubelet's for hard thresholds).
const EVICTION_GRACE: Duration = Duration::from_secs(1);
/// How often running containers are polled.
const POLL: Duration = Duration::from_secs(1);
/// How often referenced ConfigMaps/Secrets are re-read to refresh volumes.
const REFS_REFRESH: Duration = Duration::from_secs(10);

impl PodWorker {
    /// A worker for `pod`; `adopted` are runtime containers of this pod found at agent start.
    pub fn new(ctx: Arc<WorkerCtx>, pod: Pod, adopted: Vec<ContainerSummary>) -> Self {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let mut slots: Vec<Slot> = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| Slot::new(&c.name, true))
            .collect();
        slots.extend(spec.containers.iter().map(|c| Slot::new(&c.name, false)));
        let start_time = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.clone())
            .unwrap_or_else(crate::time::now);
        let mut w = PodWorker {
            ctx,
            pod,
            uid,
            sandbox: None,
            slots,
            refs: RefData::default(),
            refs_at: None,
            volumes: BTreeMap::new(),
            start_time,
            pod_ip: String::new(),
            last_status: None,
            last_status_rv: 0,
            condition_times: BTreeMap::new(),
            state: State::Setup,
            evicted: None,
            admission_checked: false,
        };
        w.adopt(adopted);
        w
    }

    /// Re-attach to containers that survived an agent restart.
    fn adopt(&mut self, adopted: Vec<ContainerSummary>) {
        if adopted.is_empty() {
            return;
        }
        let saved = std::fs::read_to_string(self.sandbox_file()).ok();
        let saved: Option<serde_json::Value> = saved.and_then(|s| serde_json::from_str(&s).ok());
        let ip = saved
            .as_ref()
            .and_then(|v| v.get("ip").and_then(|i| i.as_str()).map(str::to_string))
            .or_else(|| self.pod.status.as_ref().and_then(|s| s.pod_ip.clone()));
        let sandbox_id = adopted[0].sandbox_id.clone();
        self.sandbox = Some(SandboxInfo {
            id: sandbox_id,
            netns: None,
            ip: ip.clone(),
        });
        let mut any_app = false;
        for c in adopted {
            let instance =
                c.id.rsplit('_')
                    .next()
                    .and_then(|n| n.parse::<i32>().ok())
                    .unwrap_or(0);
            let Some(slot) = self.slots.iter_mut().find(|s| s.name == c.name) else {
                continue;
            };
            if slot.id.is_some() && slot.restart_count > instance {
                continue;
            }
            slot.id = Some(c.id.clone());
            slot.restart_count = instance;
            slot.waiting = None;
            if !slot.init {
                any_app = true;
            }
            if let skiff_cri::ContainerState::Running { started_at, .. } = c.state {
                slot.running_since = Some(started_at);
            }
        }
        self.state = if any_app {
            for s in self.slots.iter_mut().filter(|s| s.init) {
                s.done = true;
            }
            State::Run
        } else {
            State::Setup
        };
        tracing::info!(pod = %self.key(), state = ?self.state, "adopted running containers");
    }

    /// `namespace/name` for logs.
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.pod.metadata.namespace.as_deref().unwrap_or_default(),
            self.pod.metadata.name.as_deref().unwrap_or_default()
        )
    }

    pub(crate) fn sandbox_file(&self) -> std::path::PathBuf {
        self.ctx.cfg.pod_dir(&self.uid).join("sandbox.json")
    }

    pub(crate) fn host_network(&self) -> bool {
        self.pod.spec.as_ref().and_then(|s| s.host_network) == Some(true)
    }

    pub(crate) fn facts(&self) -> PodFacts {
        PodFacts {
            pod_ip: self.pod_ip.clone(),
            host_ip: self.ctx.cfg.internal_ip.clone(),
            node_cpu_millis: self.ctx.node_cpu_millis,
            node_memory: self.ctx.node_memory,
        }
    }

    pub(crate) fn restart_policy(&self) -> String {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".into())
    }

    pub(crate) async fn event(
        &self,
        container: Option<&str>,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        self.ctx
            .events
            .pod_event(&self.pod, container, kind, reason, message)
            .await;
    }

    /// Drive the pod until it is deleted or `shutdown` fires (then containers keep running,
    /// to be adopted by the next agent).
    pub async fn run(mut self, mut updates: PodUpdates, mut shutdown: watch::Receiver<bool>) {
        loop {
            // Always take the latest value: `changed()` below marks it seen without reading it.
            let latest = updates.borrow_and_update().clone();
            match latest {
                Some(p) => {
                    // Never forget a deletion seen earlier (a stale copy must not undo it).
                    let deleting = self.pod.metadata.deletion_timestamp.clone();
                    self.pod = p;
                    if self.pod.metadata.deletion_timestamp.is_none() {
                        self.pod.metadata.deletion_timestamp = deleting;
                    }
                    self.notice_foreign_conditions();
                }
                None => {
                    if !matches!(self.state, State::Done) {
                        self.state = State::Gone;
                    }
                }
            }
            if self.pod.metadata.deletion_timestamp.is_some()
                && !matches!(self.state, State::Terminating | State::Gone | State::Done)
            {
                self.state = State::Terminating;
            }
            let (next, wait) = self.step().await;
            if next != self.state {
                tracing::debug!(pod = %self.key(), from = ?self.state, to = ?next, "pod state");
            }
            self.state = next;
            if matches!(self.state, State::Done) {
                break;
            }
            if !matches!(self.state, State::Gone) {
                self.write_status().await;
            }
            let updates_closed = tokio::select! {
                _ = tokio::time::sleep(wait) => false,
                r = updates.changed() => r.is_err(),
                _ = shutdown.changed() => {
                    tracing::debug!(pod = %self.key(), "agent shutting down; containers keep running");
                    return;
                }
            };
            if updates_closed {
                // The manager dropped us without a verdict: it is shutting down.
                return;
            }
        }
    }

    /// One step of the state machine; returns the next state and how long to wait at most.
    async fn step(&mut self) -> (State, Duration) {
        if matches!(self.state, State::Setup | State::Init(_) | State::Run) {
            if let Some(message) = self.ctx.evictions.take(&self.uid) {
                return self.evict(message).await;
            }
        }
        match self.state {
            State::Setup => self.step_setup().await,
            State::Init(n) => self.step_init(n).await,
            State::Run => self.step_run().await,
            State::Finished => (State::Finished, Duration::from_secs(60)),
            State::Terminating => self.step_terminating().await,
            State::Gone => {
                self.teardown(Duration::from_secs(2)).await;
                (State::Done, Duration::ZERO)
            }
            State::Done => (State::Done, Duration::ZERO),
        }
    }

    async fn refresh_refs(&mut self, force: bool) -> Result<(), String> {
        let due = self.refs_at.is_none_or(|t| t.elapsed() >= REFS_REFRESH);
        if !force && !due {
            return Ok(());
        }
        match crate::refs::fetch_refs(&self.ctx.client, &self.pod).await {
            Ok(r) => {
                self.refs = r;
                self.refs_at = Some(Instant::now());
            }
            Err(e) => return Err(e.to_string()),
        }
        let dir = self.ctx.cfg.pod_dir(&self.uid);
        let facts = self.facts();
        match crate::volumes::prepare_volumes(&self.pod, &dir, &self.refs, &facts) {
            Ok(v) => {
                self.volumes = v;
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn step_setup(&mut self) -> (State, Duration) {
        if !self.admission_checked {
            self.admission_checked = true;
            let fresh = self.sandbox.is_none()
                && self
                    .pod
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .is_none_or(|p| p == "Pending");
            if fresh {
                let machine = crate::machine::MachineInfo::read(&self.ctx.cfg.data_dir);
                let pressures = self.ctx.cfg.eviction_hard.pressures(&machine);
                if let Some(message) =
                    crate::eviction_manager::refuse_admission(&self.pod, pressures)
                {
                    self.event(None, EventType::Warning, "Evicted", &message)
                        .await;
                    for slot in &mut self.slots {
                        slot.done = true;
                    }
                    self.evicted = Some(NodeVerdict::Rejected(message));
                    return (State::Finished, Duration::ZERO);
                }
            }
        }
        if let Err(msg) = self.refresh_refs(true).await {
            self.event(
                None,
                EventType::Warning,
                "FailedMount",
                &format!("MountVolume.SetUp failed: {msg}"),
            )
            .await;
            return (State::Setup, Duration::from_secs(5));
        }
        if self.sandbox.is_none() {
            let spec = self.pod.spec.clone().unwrap_or_default();
            let hostname = spec
                .hostname
                .clone()
                .unwrap_or_else(|| self.pod.metadata.name.clone().unwrap_or_default());
            let cfg = skiff_cri::SandboxConfig {
                pod_uid: self.uid.clone(),
                name: self.pod.metadata.name.clone().unwrap_or_default(),
                namespace: self.pod.metadata.namespace.clone().unwrap_or_default(),
                hostname,
                host_network: self.host_network(),
                cgroup_parent: crate::resources::qos_class(&self.pod).cgroup_parent(&self.uid),
                resolv_conf: crate::resolv_conf::for_pod(
                    &self.pod,
                    &crate::resolv_conf::ResolvConf::parse(
                        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
                    ),
                    self.ctx.cfg.cluster_dns.as_deref(),
                    &self.ctx.cfg.cluster_domain,
                ),
                hosts: spec
                    .host_aliases
                    .iter()
                    .flatten()
                    .map(|h| {
                        format!(
                            "{}\t{}",
                            h.ip,
                            h.hostnames.clone().unwrap_or_default().join(" ")
                        )
                    })
                    .collect(),
            };
            match self.ctx.runtime.run_sandbox(cfg).await {
                Ok(sb) => {
                    let saved = serde_json::json!({"id": sb.id, "ip": sb.ip});
                    if let Err(e) = std::fs::create_dir_all(self.ctx.cfg.pod_dir(&self.uid))
                        .and_then(|_| std::fs::write(self.sandbox_file(), saved.to_string()))
                    {
                        tracing::warn!(pod = %self.key(), error = %e, "cannot record sandbox");
                    }
                    self.sandbox = Some(sb);
                }
                Err(e) => {
                    let msg = format!("Failed to create pod sandbox: {e}");
                    self.event(None, EventType::Warning, "FailedCreatePodSandBox", &msg)
                        .await;
                    return (State::Setup, Duration::from_secs(5));
                }
            }
        }
        self.pod_ip = if self.host_network() {
            self.ctx.cfg.internal_ip.clone()
        } else {
            self.sandbox
                .as_ref()
                .and_then(|s| s.ip.clone())
                .unwrap_or_default()
        };
        // Volumes may use status.podIP (downward API): refresh now that it is known.
        let _ = self.refresh_refs(true).await;
        (State::Init(0), Duration::ZERO)
    }

    async fn step_init(&mut self, n: usize) -> (State, Duration) {
        let Some(idx) = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.init)
            .map(|(i, _)| i)
            .nth(n)
        else {
            return (State::Run, Duration::ZERO);
        };
        self.poll_slot(idx).await;
        let slot = &self.slots[idx];
        if slot.done {
            let ok = slot.terminated.as_ref().is_some_and(|t| t.exit_code == 0);
            return if ok {
                (State::Init(n + 1), Duration::ZERO)
            } else {
                (State::Finished, Duration::ZERO)
            };
        }
        if slot.id.is_none() || slot.terminated.is_some() {
            self.maybe_start(idx).await;
        }
        (State::Init(n), self.wait_hint(idx))
    }

    async fn step_run(&mut self) -> (State, Duration) {
        if let Err(msg) = self.refresh_refs(false).await {
            tracing::debug!(pod = %self.key(), error = %msg, "volume refresh failed");
        }
        let apps: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.init)
            .map(|(i, _)| i)
            .collect();
        let mut wait = POLL;
        for &idx in &apps {
            self.poll_slot(idx).await;
            let s = &self.slots[idx];
            if !s.done && (s.id.is_none() || s.terminated.is_some()) {
                self.maybe_start(idx).await;
            }
            if self.slots[idx].running() {
                self.run_probes(idx).await;
            }
            wait = wait.min(self.wait_hint(idx));
        }
        if apps.iter().all(|&i| self.slots[i].done) {
            return (State::Finished, Duration::ZERO);
        }
        (State::Run, wait)
    }

    fn wait_hint(&self, idx: usize) -> Duration {
        let s = &self.slots[idx];
        let now = Instant::now();
        let mut wait = POLL;
        for t in [s.next_start, s.next_pull].into_iter().flatten() {
            if t > now {
                wait = wait.min(t - now);
            }
        }
        wait
    }

    /// Read the runtime's view of the slot's current instance and apply restart rules.
    pub(crate) async fn poll_slot(&mut self, idx: usize) {
        let Some(id) = self.slots[idx].id.clone() else {
            return;
        };
        if self.slots[idx].terminated.is_some() {
            return;
        }
        let state = match self.ctx.runtime.container_state(&id).await {
            Ok(s) => s,
            Err(skiff_cri::RuntimeError::NotFound(_)) => skiff_cri::ContainerState::Unknown,
            Err(e) => {
                tracing::warn!(pod = %self.key(), container = %self.slots[idx].name, error = %e, "container state");
                return;
            }
        };
        match state {
            skiff_cri::ContainerState::Running { started_at, .. } => {
                let slot = &mut self.slots[idx];
                if slot.running_since.is_none() {
                    slot.running_since = Some(started_at);
                }
                slot.waiting = None;
            }
            skiff_cri::ContainerState::Created => {}
            skiff_cri::ContainerState::Exited {
                exit_code,
                reason,
                started_at,
                finished_at,
            } => {
                let reason = match reason {
                    skiff_cri::ExitReason::Completed => "Completed",
                    skiff_cri::ExitReason::Error => "Error",
                    skiff_cri::ExitReason::OomKilled => "OOMKilled",
                };
                let term = k8s_openapi::api::core::v1::ContainerStateTerminated {
                    exit_code,
                    reason: Some(reason.into()),
                    started_at: started_at
                        .or(self.slots[idx].running_since)
                        .map(crate::time::from_system),
                    finished_at: Some(crate::time::from_system(finished_at)),
                    container_id: Some(format!("skiff://{id}")),
                    ..Default::default()
                };
                self.container_exited(idx, term).await;
            }
            skiff_cri::ContainerState::Unknown => {
                let term = k8s_openapi::api::core::v1::ContainerStateTerminated {
                    exit_code: 137,
                    reason: Some("ContainerStatusUnknown".into()),
                    message: Some(
                        "The container could not be located when the pod was terminated".into(),
                    ),
                    finished_at: Some(crate::time::now()),
                    ..Default::default()
                };
                self.container_exited(idx, term).await;
            }
        }
    }

    /// Apply restartPolicy to an instance that ended.
    async fn container_exited(
        &mut self,
        idx: usize,
        term: k8s_openapi::api::core::v1::ContainerStateTerminated,
    ) {
        let policy = self.restart_policy();
        let pod_name = self.pod.metadata.name.clone().unwrap_or_default();
        let pod_ns = self.pod.metadata.namespace.clone().unwrap_or_default();
        let uid = self.uid.clone();
        let slot = &mut self.slots[idx];
        let failed = term.exit_code != 0;
        let restart = self.evicted.is_none()
            && match policy.as_str() {
                "Never" => false,
                "OnFailure" => failed,
                // Init containers of an Always pod are retried only on failure, as upstream.
                _ => !slot.init || failed,
            };
        let ran_for = slot
            .running_since
            .and_then(|s| std::time::SystemTime::now().duration_since(s).ok())
            .unwrap_or_default();
        slot.terminated = Some(term);
        slot.running_since = None;
        slot.startup = None;
        slot.liveness = None;
        slot.readiness = None;
        if !restart {
            slot.done = true;
            slot.waiting = None;
            return;
        }
        // A container that ran for 10 minutes starts its back-off afresh.
        if ran_for > Duration::from_secs(600) {
            slot.crash_backoff.reset();
        }
        // As upstream: the first restart is immediate, later ones wait 10 s doubling to 5 min.
        let delay = if slot.restart_count == 0 {
            Duration::ZERO
        } else {
            slot.crash_backoff.failure(Instant::now())
        };
        slot.next_start = Some(Instant::now() + delay);
        if delay > Duration::ZERO {
            let name = slot.name.clone();
            slot.waiting = Some((
                "CrashLoopBackOff".into(),
                format!(
                    "back-off {} restarting failed container={name} pod={pod_name}_{pod_ns}({uid})",
                    fmt_secs(delay)
                ),
            ));
            let msg = format!(
                "Back-off restarting failed container {name} in pod {pod_name}_{pod_ns}({uid})"
            );
            self.event(Some(&name), EventType::Warning, "BackOff", &msg)
                .await;
        }
    }

    /// Carry out an eviction: stop every container at once (none restarts) and end the
    /// pod Failed with reason Evicted; it stays until someone deletes it, as upstream.
    async fn evict(&mut self, message: String) -> (State, Duration) {
        tracing::info!(pod = %self.key(), %message, "evicting");
        self.evicted = Some(NodeVerdict::Evicted(message.clone()));
        self.event(None, EventType::Warning, "Evicted", &message)
            .await;
        for idx in 0..self.slots.len() {
            self.poll_slot(idx).await;
            if let (Some(id), true) = (self.slots[idx].id.clone(), self.slots[idx].running()) {
                let name = self.slots[idx].name.clone();
                self.killing(&name).await;
                if let Err(e) = self.ctx.runtime.stop_container(&id, EVICTION_GRACE).await {
                    tracing::warn!(pod = %self.key(), error = %e, "stop container");
                }
                self.poll_slot(idx).await;
            }
            let slot = &mut self.slots[idx];
            slot.done = true;
            slot.waiting = None;
            slot.next_start = None;
        }
        (State::Finished, Duration::ZERO)
    }

    /// The kubelet's event for a container it is about to stop.
    async fn killing(&self, name: &str) {
        let message = format!("Stopping container {name}");
        self.event(Some(name), EventType::Normal, "Killing", &message)
            .await;
    }

    /// Stop everything of the pod, remove the sandbox and the pod's directory.
    async fn teardown(&mut self, grace: Duration) {
        for idx in 0..self.slots.len() {
            if let Some(id) = self.slots[idx].id.clone() {
                if let Err(e) = self.ctx.runtime.stop_container(&id, grace).await {
                    tracing::warn!(pod = %self.key(), error = %e, "stop container");
                }
                if let Err(e) = self.ctx.runtime.remove_container(&id).await {
                    tracing::warn!(pod = %self.key(), error = %e, "remove container");
                }
            }
        }
        if let Some(sb) = self.sandbox.take() {
            if let Err(e) = self.ctx.runtime.remove_sandbox(&sb.id).await {
                tracing::warn!(pod = %self.key(), error = %e, "remove sandbox");
            }
        }
        let _ = std::fs::remove_dir_all(self.ctx.cfg.pod_dir(&self.uid));
        // Logs go with the pod, as with the kubelet (nothing can ask for them any more).
        let ns = self.pod.metadata.namespace.clone().unwrap_or_default();
        let name = self.pod.metadata.name.clone().unwrap_or_default();
        let _ = std::fs::remove_dir_all(self.ctx.cfg.pod_log_dir(&ns, &name, &self.uid));
        self.ctx.events.forget(&self.uid);
    }

    async fn step_terminating(&mut self) -> (State, Duration) {
        tracing::debug!(pod = %self.key(), "terminating");
        let grace = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .or(self
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds))
            .unwrap_or(30)
            .max(0) as u64;
        let deadline = Instant::now() + Duration::from_secs(grace);
        let spec = self.pod.spec.clone().unwrap_or_default();
        // preStop hooks of running containers, bounded by the grace period.
        for idx in 0..self.slots.len() {
            self.poll_slot(idx).await;
            let slot = &self.slots[idx];
            let (Some(id), true) = (slot.id.clone(), slot.running()) else {
                continue;
            };
            let name = slot.name.clone();
            let pre_stop = spec
                .containers
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| c.lifecycle.as_ref())
                .and_then(|l| l.pre_stop.clone());
            if let Some(h) = pre_stop {
                if let Some(exec) = h.exec {
                    let io = skiff_cri::ExecIo {
                        stdin: None,
                        stdout: None,
                        stderr: None,
                        resize: None,
                        tty: false,
                    };
                    let left = deadline.saturating_duration_since(Instant::now());
                    let cmd = exec.command.unwrap_or_default();
                    match tokio::time::timeout(left, self.ctx.runtime.exec(&id, cmd.clone(), io))
                        .await
                    {
                        Ok(Ok(0)) => {}
                        Ok(Ok(code)) => {
                            let msg = format!("PreStopHook {cmd:?} exited with {code}");
                            self.event(Some(&name), EventType::Warning, "FailedPreStopHook", &msg)
                                .await;
                        }
                        Ok(Err(e)) => {
                            self.event(
                                Some(&name),
                                EventType::Warning,
                                "FailedPreStopHook",
                                &e.to_string(),
                            )
                            .await;
                        }
                        Err(_) => {}
                    }
                } else {
                    self.event(
                        Some(&name),
                        EventType::Warning,
                        "FailedPreStopHook",
                        "only exec preStop hooks are supported yet",
                    )
                    .await;
                }
            }
            self.killing(&name).await;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tracing::debug!(pod = %self.key(), ?left, "stopping containers");
        self.teardown(left).await;
        tracing::debug!(pod = %self.key(), "containers and sandbox removed; deleting the pod");
        let api: Api<Pod> = Api::namespaced(
            self.ctx.client.clone(),
            self.pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api
            .delete(self.pod.metadata.name.as_deref().unwrap_or_default(), &dp)
            .await
        {
            Ok(_) => (State::Done, Duration::ZERO),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
                (State::Done, Duration::ZERO)
            }
            Err(e) => {
                tracing::warn!(pod = %self.key(), error = %e, "final delete failed; retrying");
                (State::Terminating, Duration::from_secs(2))
            }
        }
    }
}

/// `10s`, `5m0s` as Go prints durations in back-off messages.
pub(crate) fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
