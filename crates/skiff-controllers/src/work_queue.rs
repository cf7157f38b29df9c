//! The work queue feeding a controller's reconciles: event handlers push object keys; the
//! kube-runtime applier de-duplicates them, runs at most one reconcile per key at a time and
//! schedules the requeues reconciles ask for.

use crate::error::ControllerError;
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
pub struct Enqueue<K: Resource<DynamicType = ()>>(mpsc::UnboundedSender<ObjectRef<K>>);

impl<K: Resource<DynamicType = ()>> Clone for Enqueue<K> {
    fn clone(&self) -> Self {
        Enqueue(self.0.clone())
    }
}

impl<K: Resource<DynamicType = ()>> Enqueue<K> {
    /// Ask for a reconcile of `namespace/name`.
    pub fn push(&self, namespace: &str, name: &str) {
        // A closed queue means the controller is shutting down: nothing left to do.
        let _ = self.0.send(ObjectRef::new(name).within(namespace));
    }
}

/// The receiving side, handed to [`drive`].
pub struct Dequeue<K: Resource<DynamicType = ()>>(mpsc::UnboundedReceiver<ObjectRef<K>>);

/// A new queue.
pub fn queue<K: Resource<DynamicType = ()>>() -> (Enqueue<K>, Dequeue<K>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Enqueue(tx), Dequeue(rx))
}

/// A boxed reconcile future.
pub type ReconcileFuture = Pin<Box<dyn Future<Output = Result<Action, ControllerError>> + Send>>;

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
    let mut rx = queue.0;
    let keys = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(Ok::<_, Infallible>)
        .take_until(shutdown);
    let keys: Pin<Box<dyn Stream<Item = Result<ObjectRef<K>, Infallible>> + Send>> = Box::pin(keys);
    applier(reconcile, error_policy, ctx, store, keys, Config::default())
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(controller = name, error = %e, "reconcile");
            }
        })
        .await;
}
