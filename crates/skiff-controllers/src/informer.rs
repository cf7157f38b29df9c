//! A shared cache of one kind whose watch events reach registered handlers after the
//! cache has applied them, so a handler (and the reconcile it enqueues) never sees a cache
//! older than the event that triggered it.

use futures_util::StreamExt;
use kube::runtime::reflector::{self, store::Writer, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use std::sync::Arc;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Called with each object the watch delivers; `deleted` is true for deletions.
pub type Handler<K> = Arc<dyn Fn(&K, bool) + Send + Sync>;

/// A cache being set up: register handlers, then [`Informer::spawn`] it.
pub struct Informer<K: Resource<DynamicType = ()> + Clone + 'static> {
    writer: Writer<K>,
    reader: Store<K>,
    handlers: Vec<Handler<K>>,
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    /// A new, empty cache.
    pub fn new() -> Informer<K> {
        let (reader, writer) = reflector::store::<K>();
        Informer {
            writer,
            reader,
            handlers: Vec::new(),
        }
    }

    /// A read handle on the cache.
    pub fn store(&self) -> Store<K> {
        self.reader.clone()
    }

    /// Register a handler for every event.
    pub fn on_event(&mut self, h: impl Fn(&K, bool) + Send + Sync + 'static) {
        self.handlers.push(Arc::new(h));
    }

    /// Start watching every namespace; the task lives in `tasks`.
    pub fn spawn(self, client: &Client, tasks: &mut JoinSet<()>) {
        let handlers = self.handlers;
        let stream = reflector::reflector(
            self.writer,
            // Caches drop managedFields, as kube-controller-manager's informers do: no
            // controller reads them, and their nested field sets were most of each cached
            // object's memory (measured: ≈36 KiB per pod with them).
            watcher::watcher(Api::<K>::all(client.clone()), watcher::Config::default())
                .modify(|o| o.meta_mut().managed_fields = None),
        )
        .default_backoff();
        let kind = K::kind(&()).to_string();
        tasks.spawn(
            async move {
                let mut stream = std::pin::pin!(stream);
                while let Some(ev) = stream.next().await {
                    let (obj, deleted) = match &ev {
                        Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => {
                            (o, false)
                        }
                        Ok(watcher::Event::Delete(o)) => (o, true),
                        Ok(_) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "cache watch failed; retrying");
                            continue;
                        }
                    };
                    for h in &handlers {
                        h(obj, deleted);
                    }
                }
            }
            .instrument(tracing::info_span!("informer", %kind)),
        );
    }
}

impl<K> Default for Informer<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    fn default() -> Self {
        Informer::new()
    }
}
