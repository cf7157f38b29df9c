//! The scheduler wired to the API: watches feed the snapshot and the queue; one task
//! owns both (no locks), schedules in batches and hands binds and reports to bounded
//! background tasks whose outcomes come back over a channel.

use crate::actions;
use crate::algorithm::{Algorithm, Framework, Unschedulable};
use crate::config::SchedulerConfig;
use crate::error::SchedulerError;
use crate::pod_info::PodInfo;
use crate::preemption::{preempt, PdbInfo};
use crate::priority::PriorityResolver;
use crate::queue::{QueuedPod, SchedulingQueue};
use crate::snapshot::Snapshot;
use crate::volume_catalog::VolumeCatalog;
use futures_util::future::FutureExt;
use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info, info_span, warn, Instrument};

/// How long startup waits for PriorityClasses before scheduling without them.
const CLASS_SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a bind waits for a pod's WaitForFirstConsumer claims to be provisioned and
/// bound (upstream's bindTimeoutSeconds is 600; local provisioning takes milliseconds).
const VOLUME_BIND_TIMEOUT: Duration = Duration::from_secs(120);
/// The volume kinds VolumeBinding needs listed before scheduling starts.
const VOLUME_KINDS: usize = 3;
/// Watch events handled between two scheduling batches, so neither starves.
const MAX_EVENTS_PER_TURN: usize = 4096;

/// One watch event from any of the watched resources.
enum Input {
    Node(Event<Node>),
    Pod(Event<Pod>),
    Class(Event<PriorityClass>),
    Pdb(Event<PodDisruptionBudget>),
    Claim(Event<PersistentVolumeClaim>),
    Volume(Event<PersistentVolume>),
    StorageClass(Event<StorageClass>),
}

/// What a background bind reports back.
enum Outcome {
    /// The bind failed; `retry` is false when the API says the pod is gone or bound.
    BindFailed {
        pod: Arc<PodInfo>,
        attempts: u32,
        retry: bool,
    },
}

/// The loop's lifecycle.
enum State {
    /// Listing PriorityClasses first so the first pods get the right priority; on
    /// timeout the loop goes on (pods keep priority 0 until updated).
    SyncingClasses,
    /// Watching; scheduling starts once nodes and pods are listed.
    Running,
    /// Shutdown requested: wait (bounded) for in-flight binds and reports.
    Draining,
}

/// Keys seen during a relist, to find objects deleted while the watch was down.
#[derive(Default)]
struct Relist {
    nodes: Option<HashSet<String>>,
    pods: Option<HashSet<String>>,
}

struct Core {
    client: Client,
    cfg: SchedulerConfig,
    algorithm: Algorithm,
    snapshot: Snapshot,
    queue: SchedulingQueue,
    priorities: PriorityResolver,
    pdbs: HashMap<String, PdbInfo>,
    known_nodes: HashSet<String>,
    known_pods: HashSet<String>,
    relist: Relist,
    nodes_synced: bool,
    pods_synced: bool,
    /// Objects of a volume kind seen during its relist, swapped in when it completes.
    volume_relist: VolumeCatalog,
    /// Volume kinds listed at least once.
    volume_kinds_synced: HashSet<&'static str>,
    tasks: JoinSet<()>,
    permits: Arc<Semaphore>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// Run the scheduler until `shutdown` becomes true (or its sender is dropped).
pub async fn run(
    client: Client,
    cfg: SchedulerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SchedulerError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut core = Core {
        algorithm: Algorithm::new(Framework::default(), cfg.percentage_of_nodes_to_score),
        permits: Arc::new(Semaphore::new(cfg.bind_concurrency.max(1))),
        client: client.clone(),
        cfg,
        snapshot: Snapshot::new(),
        queue: SchedulingQueue::new(),
        priorities: PriorityResolver::default(),
        pdbs: HashMap::new(),
        known_nodes: HashSet::new(),
        known_pods: HashSet::new(),
        relist: Relist::default(),
        nodes_synced: false,
        pods_synced: false,
        volume_relist: VolumeCatalog::default(),
        volume_kinds_synced: HashSet::new(),
        tasks: JoinSet::new(),
        outcomes: tx,
    };
    let mut classes = watch_stream(Api::<PriorityClass>::all(client.clone()), Input::Class);
    let mut inputs: Option<stream::SelectAll<BoxStream<'static, Result<Input, watcher::Error>>>> =
        None;
    let mut state = State::SyncingClasses;
    let class_deadline = Instant::now() + CLASS_SYNC_TIMEOUT;
    loop {
        state = match state {
            State::SyncingClasses => {
                tokio::select! {
                    ev = classes.next() => match ev {
                        Some(Ok(input)) => {
                            let done = matches!(input, Input::Class(Event::InitDone));
                            core.on_input(input);
                            if done { State::Running } else { State::SyncingClasses }
                        }
                        Some(Err(e)) => {
                            warn!(error = %e, "watching PriorityClasses");
                            State::SyncingClasses
                        }
                        None => return Err(SchedulerError::WatchesEnded),
                    },
                    _ = tokio::time::sleep_until(class_deadline) => {
                        warn!("PriorityClasses not listed in time; scheduling without them");
                        State::Running
                    }
                    _ = shutdown.changed() => State::Draining,
                }
            }
            State::Running => {
                let all = inputs.get_or_insert_with(|| {
                    let classes = std::mem::replace(&mut classes, stream::empty().boxed());
                    stream::select_all(vec![
                        classes,
                        watch_stream(Api::<Node>::all(client.clone()), Input::Node),
                        watch_stream(Api::<Pod>::all(client.clone()), Input::Pod),
                        watch_stream(Api::<PodDisruptionBudget>::all(client.clone()), Input::Pdb),
                        watch_stream(
                            Api::<PersistentVolumeClaim>::all(client.clone()),
                            Input::Claim,
                        ),
                        watch_stream(Api::<PersistentVolume>::all(client.clone()), Input::Volume),
                        watch_stream(
                            Api::<StorageClass>::all(client.clone()),
                            Input::StorageClass,
                        ),
                    ])
                });
                if *shutdown.borrow() {
                    State::Draining
                } else {
                    core.turn(all, &mut rx, &mut shutdown).await?
                }
            }
            State::Draining => {
                let grace = core.cfg.shutdown_grace;
                let drained = tokio::time::timeout(grace, async {
                    while core.tasks.join_next().await.is_some() {}
                })
                .await;
                if drained.is_err() {
                    warn!(
                        left = core.tasks.len(),
                        "shutdown grace over; abandoning binds in flight"
                    );
                    core.tasks.abort_all();
                }
                return Ok(());
            }
        };
    }
}

fn watch_stream<K>(
    api: Api<K>,
    wrap: fn(Event<K>) -> Input,
) -> BoxStream<'static, Result<Input, watcher::Error>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, watcher::Config::default())
        .default_backoff()
        .map(move |r| r.map(wrap))
        .boxed()
}

use kube::runtime::watcher::watcher;

impl Core {
    /// One turn of the running loop: absorb ready events and outcomes, schedule a
    /// batch, or wait for something to happen.
    async fn turn(
        &mut self,
        inputs: &mut stream::SelectAll<BoxStream<'static, Result<Input, watcher::Error>>>,
        rx: &mut mpsc::UnboundedReceiver<Outcome>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<State, SchedulerError> {
        for _ in 0..MAX_EVENTS_PER_TURN {
            match inputs.next().now_or_never() {
                Some(Some(Ok(input))) => self.on_input(input),
                Some(Some(Err(e))) => warn!(error = %e, "watch error; the watcher retries"),
                Some(None) => return Err(SchedulerError::WatchesEnded),
                None => break,
            }
        }
        while let Ok(o) = rx.try_recv() {
            self.on_outcome(o);
        }
        while self.tasks.try_join_next().is_some() {}
        let synced =
            self.nodes_synced && self.pods_synced && self.volume_kinds_synced.len() == VOLUME_KINDS;
        if synced && self.schedule_batch() > 0 {
            tokio::task::yield_now().await;
            return Ok(State::Running);
        }
        let wake = self
            .queue
            .next_wakeup()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
        tokio::select! {
            ev = inputs.next() => match ev {
                Some(Ok(input)) => self.on_input(input),
                Some(Err(e)) => warn!(error = %e, "watch error; the watcher retries"),
                None => return Err(SchedulerError::WatchesEnded),
            },
            Some(o) = rx.recv() => self.on_outcome(o),
            _ = tokio::time::sleep_until(wake) => {}
            _ = shutdown.changed() => return Ok(State::Draining),
        }
        Ok(State::Running)
    }

    fn on_input(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Class(ev) => match ev {
                Event::Apply(pc) | Event::InitApply(pc) => self.priorities.upsert(&pc),
                Event::Delete(pc) => self.priorities.remove(&pc.name_any()),
                Event::Init | Event::InitDone => {}
            },
            Input::Pdb(ev) => match ev {
                Event::Apply(p) | Event::InitApply(p) => {
                    let key = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
                    self.pdbs.insert(key, PdbInfo::from_pdb(&p));
                }
                Event::Delete(p) => {
                    let key = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
                    self.pdbs.remove(&key);
                }
                Event::Init => self.pdbs.clear(),
                Event::InitDone => {}
            },
            Input::Claim(ev) => {
                let cat = &mut self.snapshot.volumes;
                match ev {
                    Event::Init => self.volume_relist.clear_claims(),
                    Event::InitApply(o) => self.volume_relist.upsert_claim(o),
                    Event::Apply(o) => cat.upsert_claim(o),
                    Event::Delete(o) => cat.remove_claim(&o),
                    Event::InitDone => {
                        cat.take_claims_from(&mut self.volume_relist);
                        self.volume_kinds_synced.insert("claims");
                    }
                }
                self.queue.move_all_unschedulable(now);
            }
            Input::Volume(ev) => {
                let cat = &mut self.snapshot.volumes;
                match ev {
                    Event::Init => self.volume_relist.clear_volumes(),
                    Event::InitApply(o) => self.volume_relist.upsert_volume(o),
                    Event::Apply(o) => cat.upsert_volume(o),
                    Event::Delete(o) => cat.remove_volume(&o),
                    Event::InitDone => {
                        cat.take_volumes_from(&mut self.volume_relist);
                        self.volume_kinds_synced.insert("volumes");
                    }
                }
                self.queue.move_all_unschedulable(now);
            }
            Input::StorageClass(ev) => {
                let cat = &mut self.snapshot.volumes;
                match ev {
                    Event::Init => self.volume_relist.clear_classes(),
                    Event::InitApply(o) => self.volume_relist.upsert_class(o),
                    Event::Apply(o) => cat.upsert_class(o),
                    Event::Delete(o) => cat.remove_class(&o),
                    Event::InitDone => {
                        cat.take_classes_from(&mut self.volume_relist);
                        self.volume_kinds_synced.insert("classes");
                    }
                }
                self.queue.move_all_unschedulable(now);
            }
            Input::Node(ev) => match ev {
                Event::Init => self.relist.nodes = Some(HashSet::new()),
                Event::InitApply(n) => {
                    if let Some(seen) = self.relist.nodes.as_mut() {
                        seen.insert(n.name_any());
                    }
                    self.on_node(&n, now);
                }
                Event::Apply(n) => self.on_node(&n, now),
                Event::Delete(n) => {
                    self.known_nodes.remove(&n.name_any());
                    self.snapshot.remove_node(&n.name_any());
                }
                Event::InitDone => {
                    let seen = self.relist.nodes.take().unwrap_or_default();
                    for gone in self.known_nodes.difference(&seen) {
                        self.snapshot.remove_node(gone);
                    }
                    self.known_nodes = seen;
                    self.nodes_synced = true;
                    debug!(nodes = self.snapshot.num_nodes(), "nodes listed");
                }
            },
            Input::Pod(ev) => match ev {
                Event::Init => self.relist.pods = Some(HashSet::new()),
                Event::InitApply(p) => {
                    if let Some(seen) = self.relist.pods.as_mut() {
                        seen.insert(pod_key(&p));
                    }
                    self.on_pod(&p, now);
                }
                Event::Apply(p) => self.on_pod(&p, now),
                Event::Delete(p) => self.on_pod_deleted(&pod_key(&p), now),
                Event::InitDone => {
                    let seen = self.relist.pods.take().unwrap_or_default();
                    let gone: Vec<String> = self.known_pods.difference(&seen).cloned().collect();
                    for key in gone {
                        self.on_pod_deleted(&key, now);
                    }
                    self.pods_synced = true;
                    debug!(pending = self.queue.len(), "pods listed");
                }
            },
        }
    }

    fn on_node(&mut self, node: &Node, now: Instant) {
        self.known_nodes.insert(node.name_any());
        if self.snapshot.upsert_node(node) {
            self.queue.move_all_unschedulable(now);
        }
    }

    fn on_pod(&mut self, pod: &Pod, now: Instant) {
        let info = PodInfo::from_pod(pod, self.priorities.priority_of(pod));
        let key = info.key();
        tracing::trace!(pod = %key, node = ?info.node_name, scheduler = %info.scheduler_name, deleting = info.deleting, terminal = info.terminal, placed = self.snapshot.is_placed(&key), "pod event");
        self.known_pods.insert(key.clone());
        if info.node_name.is_some() {
            self.queue.delete(&key);
            let freed = info.terminal && self.snapshot.is_placed(&key);
            self.snapshot.add_or_update_bound_pod(info);
            if freed {
                self.queue.move_all_unschedulable(now);
            }
        } else if self.is_ours(&info) && !info.deleting && !info.terminal {
            // An assumed pod is waiting for its bind; its own status updates must not
            // queue it a second time.
            if !self.snapshot.is_placed(&key) {
                self.queue.add_or_update(info, now);
            }
        } else {
            self.queue.delete(&key);
        }
    }

    fn on_pod_deleted(&mut self, key: &str, now: Instant) {
        self.known_pods.remove(key);
        self.queue.delete(key);
        if self.snapshot.is_placed(key) {
            self.snapshot.remove_pod(key);
            self.queue.move_all_unschedulable(now);
        }
    }

    fn is_ours(&self, pod: &PodInfo) -> bool {
        pod.scheduler_name == self.cfg.scheduler_name
    }

    fn on_outcome(&mut self, o: Outcome) {
        match o {
            Outcome::BindFailed {
                pod,
                attempts,
                retry,
            } => {
                let key = pod.key();
                // Unreserve: idempotent, and a pod the watch saw bound stays counted.
                self.snapshot.forget(&key);
                if retry && self.known_pods.contains(&key) && !self.snapshot.is_placed(&key) {
                    self.queue.add_backoff(pod, attempts, Instant::now());
                }
            }
        }
    }

    fn schedule_batch(&mut self) -> usize {
        let now = Instant::now();
        let mut n = 0;
        while n < self.cfg.batch_size {
            let Some(q) = self.queue.pop(now) else { break };
            n += 1;
            self.schedule_one(q, now);
        }
        n
    }

    fn schedule_one(&mut self, q: QueuedPod, now: Instant) {
        let key = q.pod.key();
        match self.algorithm.schedule(&q.pod, &self.snapshot) {
            Ok(r) => {
                debug!(pod = %key, node = %r.node, evaluated = r.evaluated, feasible = r.feasible, "scheduled");
                self.snapshot.assume(&q.pod, &r.node);
                self.queue.done(&key);
                let claims = self.delayed_claims(&q.pod);
                self.spawn_bind(q, r.node, claims);
            }
            Err(u) => {
                let Unschedulable { mut fit, state } = *u;
                let mut nominated = None;
                if let Some(state) = state.as_ref() {
                    let pdbs: Vec<PdbInfo> = self.pdbs.values().cloned().collect();
                    match preempt(
                        &self.algorithm.framework,
                        state,
                        &q.pod,
                        &self.snapshot,
                        &fit,
                        &pdbs,
                    ) {
                        Ok(p) => {
                            info!(pod = %key, node = %p.node, victims = p.victims.len(), "preempting");
                            for v in p.victims {
                                self.spawn_evict(v, q.pod.clone(), p.node.clone());
                            }
                            nominated = Some(p.node);
                        }
                        Err(msg) => fit.post_filter_msg = Some(msg),
                    }
                }
                self.queue.requeue_unschedulable(&key, now);
                let message = fit.message();
                debug!(pod = %key, %message, "unschedulable");
                let client = self.client.clone();
                let pod = q.pod.clone();
                self.tasks.spawn(
                    async move {
                        if let Err(e) = actions::report_unschedulable(
                            &client,
                            &pod,
                            &message,
                            nominated.as_deref(),
                        )
                        .await
                        {
                            warn!(error = %e, "reporting an unschedulable pod");
                        }
                    }
                    .instrument(info_span!("report_unschedulable", pod = %key)),
                );
            }
        }
    }

    /// The pod's claims still without a volume: VolumeBinding's PreBind binds them on the
    /// chosen node before the pod is bound.
    fn delayed_claims(&self, pod: &PodInfo) -> Vec<String> {
        pod.claims
            .iter()
            .filter(|c| {
                self.snapshot
                    .volumes
                    .claim(&pod.namespace, c)
                    .is_some_and(|pvc| {
                        pvc.spec
                            .as_ref()
                            .and_then(|s| s.volume_name.as_deref())
                            .unwrap_or("")
                            .is_empty()
                    })
            })
            .cloned()
            .collect()
    }

    fn spawn_bind(&mut self, q: QueuedPod, node: String, claims: Vec<String>) {
        let client = self.client.clone();
        let permits = self.permits.clone();
        let outcomes = self.outcomes.clone();
        let span = info_span!("bind", pod = %q.pod.key(), node = %node);
        self.tasks.spawn(
            async move {
                // The semaphore is never closed; an error would only mean shutdown.
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                let volumes = if claims.is_empty() {
                    Ok(())
                } else {
                    actions::prebind_claims(&client, &q.pod, &claims, &node, VOLUME_BIND_TIMEOUT)
                        .await
                };
                if let Err(e) = volumes {
                    // The pod is not bound: whatever failed, it goes back to the queue.
                    warn!(error = %e, "binding the pod's volumes failed");
                    let _ = outcomes.send(Outcome::BindFailed {
                        pod: q.pod,
                        attempts: q.attempts,
                        retry: true,
                    });
                    return;
                }
                match actions::bind(&client, &q.pod, &node).await {
                    Ok(()) => {
                        if let Err(e) = actions::report_scheduled(&client, &q.pod, &node).await {
                            warn!(error = %e, "emitting the Scheduled event");
                        }
                    }
                    Err(e) => {
                        // 404: the pod is gone; 409: it is already bound. Either way the
                        // watch brings the truth, so only other failures are retried.
                        let retry = !matches!(e.http_code(), Some(404) | Some(409));
                        warn!(error = %e, retry, "binding failed");
                        let _ = outcomes.send(Outcome::BindFailed {
                            pod: q.pod,
                            attempts: q.attempts,
                            retry,
                        });
                    }
                }
            }
            .instrument(span),
        );
    }

    fn spawn_evict(&mut self, victim: Arc<PodInfo>, preemptor: Arc<PodInfo>, node: String) {
        let client = self.client.clone();
        let span = info_span!("preempt", victim = %victim.key(), preemptor = %preemptor.key());
        self.tasks.spawn(
            async move {
                if let Err(e) = actions::evict_victim(&client, &victim, &preemptor, &node).await {
                    warn!(error = %e, "deleting a preemption victim");
                }
            }
            .instrument(span),
        );
    }
}

fn pod_key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.namespace().unwrap_or_else(|| "default".into()),
        p.name_any()
    )
}
