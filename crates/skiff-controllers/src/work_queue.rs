//! The work queue feeding a controller's reconciles: event handlers push object keys; the
//! kube-runtime applier de-duplicates them, runs at most one reconcile per key at a time and
//! schedules the requeues reconciles ask for. Every queue feeds its controller's
//! [`QueueMetrics`] (depth, adds, reconcile latency, errors).

use crate::error::ControllerError;
use crate::metrics::QueueMetrics;
use futures_util::{Stream, StreamExt};
use kube::runtime::controller::{applier, Action, Config};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The sending side: cheap to clone into event handlers.
pub struct Enqueue<K: Resource<DynamicType = ()>> {
    tx: mpsc::UnboundedSender<ObjectRef<K>>,
    metrics: Arc<QueueMetrics>,
}

impl<K: Resource<DynamicType = ()>> Clone for Enqueue<K> {
    fn clone(&self) -> Self {
        Enqueue {
            tx: self.tx.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

fn key_of<K: Resource<DynamicType = ()>>(r: &ObjectRef<K>) -> String {
    format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name)
}

impl<K: Resource<DynamicType = ()>> Enqueue<K> {
    /// Ask for a reconcile of `namespace/name`.
    pub fn push(&self, namespace: &str, name: &str) {
        let r = ObjectRef::new(name).within(namespace);
        self.metrics.added(key_of(&r));
        // A closed queue means the controller is shutting down: nothing left to do.
        let _ = self.tx.send(r);
    }
}

/// The receiving side, handed to [`drive`].
pub struct Dequeue<K: Resource<DynamicType = ()>> {
    rx: mpsc::UnboundedReceiver<ObjectRef<K>>,
    metrics: Arc<QueueMetrics>,
}

/// A new queue.
pub fn queue<K: Resource<DynamicType = ()>>() -> (Enqueue<K>, Dequeue<K>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let metrics = QueueMetrics::new();
    (
        Enqueue {
            tx,
            metrics: metrics.clone(),
        },
        Dequeue { rx, metrics },
    )
}

/// A boxed reconcile future.
pub type ReconcileFuture = Pin<Box<dyn Future<Output = Result<Action, ControllerError>> + Send>>;

/// [`drive`] with [`retry_after_error`], started once `ready` completes (typically the
/// first lists of every cache the reconciles read: a pass over half-filled caches acts on
/// a world it has not seen) — or never, when `shutdown` comes first.
pub async fn drive_when_ready<K, C, S>(
    name: &'static str,
    reconcile: fn(Arc<K>, Arc<C>) -> ReconcileFuture,
    ctx: Arc<C>,
    store: Store<K>,
    queue: Dequeue<K>,
    ready: impl Future<Output = ()>,
    shutdown: S,
) where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    C: Send + Sync + 'static,
    S: Future<Output = ()> + Clone + Send + 'static,
{
    tokio::select! {
        _ = ready => {}
        _ = shutdown.clone() => return,
    }
    drive(
        name,
        reconcile,
        retry_after_error,
        ctx,
        store,
        queue,
        shutdown,
    )
    .await
}

/// Run reconciles for the keys in `queue` (objects looked up in `store`) until `shutdown`.
pub async fn drive<K, C>(
    name: &'static str,
    reconcile: fn(Arc<K>, Arc<C>) -> ReconcileFuture,
    error_policy: fn(Arc<K>, &ControllerError, Arc<C>) -> Action,
    ctx: Arc<C>,
    store: Store<K>,
    queue: Dequeue<K>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    C: Send + Sync + 'static,
{
    let Dequeue { mut rx, metrics } = queue;
    metrics.register(name);
    let (m, cached) = (metrics.clone(), store.clone());
    let keys = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .inspect(move |r| {
            // The applier drops keys whose object is gone; they leave the queue here.
            if cached.get(r).is_none() {
                m.taken(&key_of(r));
            }
        })
        .map(Ok::<_, Infallible>)
        .take_until(shutdown);
    let reconcile = move |obj: Arc<K>, ctx: Arc<C>| -> ReconcileFuture {
        let metrics = metrics.clone();
        metrics.taken(&key_of(&ObjectRef::from_obj(obj.as_ref())));
        Box::pin(async move { metrics.time(reconcile(obj, ctx)).await })
    };
    let keys: Pin<Box<dyn Stream<Item = Result<ObjectRef<K>, Infallible>> + Send>> = Box::pin(keys);
    applier(reconcile, error_policy, ctx, store, keys, Config::default())
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(controller = name, error = %e, "reconcile");
            }
        })
        .await;
}

/// How long a failed reconcile waits before its retry.
pub const RETRY_AFTER_ERROR: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a reconcile that lost a write conflict waits: the cache is just behind.
pub const RETRY_AFTER_CONFLICT: std::time::Duration = std::time::Duration::from_millis(200);

/// The error policy the work-queue controllers share: log (write conflicts quietly, as
/// they are expected when caches lag) and retry the key, soon after a conflict and after
/// [`RETRY_AFTER_ERROR`] otherwise.
pub fn retry_after_error<K, C>(obj: Arc<K>, e: &ControllerError, _: Arc<C>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    let (kind, name) = (K::kind(&()), obj.meta().name.clone().unwrap_or_default());
    if e.http_code() == Some(409) {
        tracing::debug!(%kind, %name, error = %e, "write conflict; retrying");
        return Action::requeue(RETRY_AFTER_CONFLICT);
    }
    tracing::warn!(%kind, %name, error = %e, "reconcile failed; retrying");
    Action::requeue(RETRY_AFTER_ERROR)
}
