//! A shared cache of one kind whose watch events reach registered handlers after the
//! cache has applied them, so a handler (and the reconcile it enqueues) never sees a cache
//! older than the event that triggered it.

use futures_util::StreamExt;
use kube::runtime::reflector::{self, store::Writer, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use std::collections::HashSet;
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
    synced: tokio::sync::watch::Sender<bool>,
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
            synced: tokio::sync::watch::channel(false).0,
        }
    }

    /// A read handle on the cache.
    pub fn store(&self) -> Store<K> {
        self.reader.clone()
    }

    /// Turns true once the cache holds its first full list. (kube's
    /// `Store::wait_until_ready` wakes only one of several waiters: its oneshot keeps the
    /// last waker.)
    pub fn synced(&self) -> tokio::sync::watch::Receiver<bool> {
        self.synced.subscribe()
    }

    /// Register a handler for every event.
    pub fn on_event(&mut self, h: impl Fn(&K, bool) + Send + Sync + 'static) {
        self.handlers.push(Arc::new(h));
    }

    /// Start watching every namespace; the task lives in `tasks`.
    pub fn spawn(self, client: &Client, tasks: &mut JoinSet<()>) {
        let handlers = self.handlers;
        let synced = self.synced;
        let reader = self.reader;
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
                // The cache as it was when a (re)list began: the store only takes the
                // listed objects at InitDone, all at once.
                let mut before_list: Vec<Arc<K>> = Vec::new();
                while let Some(ev) = stream.next().await {
                    match ev {
                        Ok(watcher::Event::Apply(o)) => notify(&handlers, &o, false),
                        Ok(watcher::Event::Delete(o)) => notify(&handlers, &o, true),
                        Ok(watcher::Event::Init) => before_list = reader.state(),
                        // Not in the store yet: a handler (or the reconcile it enqueues)
                        // would look it up and find nothing. Announced at InitDone.
                        Ok(watcher::Event::InitApply(_)) => {}
                        Ok(watcher::Event::InitDone) => {
                            let listed = reader.state();
                            for (obj, deleted) in list_changes(&before_list, &listed) {
                                notify(&handlers, obj, deleted);
                            }
                            before_list = Vec::new();
                            synced.send_replace(true);
                        }
                        Err(e) => tracing::warn!(error = %e, "cache watch failed; retrying"),
                    }
                }
            }
            .instrument(tracing::info_span!("informer", %kind)),
        );
    }
}

/// Wait until `store` holds its first full list; false if its writer is gone.
///
/// kube-runtime's `Store::wait_until_ready` shares one oneshot receiver between every
/// clone of a store and wakes only the task that polled it last: with two controllers
/// waiting on one cache, the other never starts. Re-polling every 100 ms lets every waiter
/// see the ready store. Prefer [`Informer::synced`] where the informer is at hand.
pub async fn store_ready<K>(store: &Store<K>) -> bool
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    loop {
        let wait = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            store.wait_until_ready(),
        );
        if let Ok(ready) = wait.await {
            return ready.is_ok();
        }
    }
}

/// Wait until every cache behind `synced` (from [`Informer::synced`]) holds its first list.
pub async fn all_synced(synced: Vec<tokio::sync::watch::Receiver<bool>>) {
    for mut rx in synced {
        let _ = rx.wait_for(|s| *s).await;
    }
}

fn notify<K>(handlers: &[Handler<K>], obj: &K, deleted: bool) {
    for h in handlers {
        h(obj, deleted);
    }
}

/// What a completed (re)list tells the handlers: objects gone since the cache was last
/// complete are deletions (upstream's relist "DeletedFinalStateUnknown"), every listed
/// object is an update.
fn list_changes<'a, K>(before: &'a [Arc<K>], listed: &'a [Arc<K>]) -> Vec<(&'a K, bool)>
where
    K: Resource<DynamicType = ()>,
{
    let present: HashSet<ObjectRef<K>> = listed
        .iter()
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect();
    before
        .iter()
        .filter(|o| !present.contains(&ObjectRef::from_obj(o.as_ref())))
        .map(|o| (o.as_ref(), true))
        .chain(listed.iter().map(|o| (o.as_ref(), false)))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::ResourceExt;

    fn cm(name: &str) -> Arc<ConfigMap> {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.to_string());
        c.metadata.namespace = Some("default".to_string());
        Arc::new(c)
    }

    #[tokio::test]
    async fn every_waiter_sees_the_store_ready() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        // Three controllers waiting on one cache before its first list arrives.
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store_ready(&store).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(cm("a").as_ref().clone()));
        writer.apply_watcher_event(&watcher::Event::InitDone);
        for w in waiters {
            let ready = tokio::time::timeout(std::time::Duration::from_secs(2), w)
                .await
                .expect("every waiter wakes")
                .expect("waiter task");
            assert!(ready);
        }
    }

    #[test]
    fn a_relist_reports_vanished_objects_as_deleted_and_every_listed_one() {
        let before = vec![cm("kept"), cm("gone")];
        let listed = vec![cm("kept"), cm("new")];
        let seen: Vec<(String, bool)> = list_changes(&before, &listed)
            .into_iter()
            .map(|(o, deleted)| (o.name_any(), deleted))
            .collect();
        assert_eq!(
            seen,
            [
                ("gone".to_string(), true),
                ("kept".to_string(), false),
                ("new".to_string(), false)
            ]
        );
        // The first list of an empty cache: updates only.
        assert_eq!(list_changes(&[], &listed).len(), 2);
    }
}
