//! The service proxy's loop: watch Services and EndpointSlices, gather bursts of changes,
//! and sync them to nftables.

use crate::error::NetError;
use crate::service_proxy::{ProxyConfig, ServiceProxy};
use futures_util::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Wait after a failed sync before rebuilding the table.
const RETRY: Duration = Duration::from_secs(1);

/// A list being received after a watch (re)start; applied whole at `InitDone`.
struct Relist<K> {
    buffer: Option<Vec<K>>,
    synced: bool,
}

impl<K> Relist<K> {
    fn new() -> Relist<K> {
        Relist {
            buffer: None,
            synced: false,
        }
    }

    /// Feed one event; returns the complete list when a relist finished, or the event to
    /// apply right away.
    fn step(&mut self, ev: Event<K>) -> Option<Step<K>> {
        match ev {
            Event::Init => {
                self.buffer = Some(Vec::new());
                None
            }
            Event::InitApply(obj) => {
                self.buffer.get_or_insert_with(Vec::new).push(obj);
                None
            }
            Event::InitDone => {
                self.synced = true;
                Some(Step::Replace(self.buffer.take().unwrap_or_default()))
            }
            Event::Apply(obj) => Some(Step::Apply(obj)),
            Event::Delete(obj) => Some(Step::Delete(obj)),
        }
    }
}

enum Step<K> {
    Replace(Vec<K>),
    Apply(K),
    Delete(K),
}

type Events<K> = Pin<Box<dyn Stream<Item = Result<Event<K>, watcher::Error>> + Send>>;

fn events<K>(api: Api<K>) -> Events<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed()
}

/// Run the service proxy until `shutdown` turns true. The first sync (after Services and
/// EndpointSlices are listed) replaces the table whole; later ones change only the
/// Services that changed. The rules stay in place on shutdown, as with kube-proxy.
pub async fn run_service_proxy(
    client: kube::Client,
    cfg: ProxyConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), NetError> {
    let debounce = cfg.debounce;
    let mut proxy = ServiceProxy::new(cfg);
    let mut services = events(Api::<Service>::all(client.clone()));
    let mut slices = events(Api::<EndpointSlice>::all(client));
    let mut svc_list = Relist::new();
    let mut slice_list = Relist::new();
    // When the pending changes are due to be synced.
    let mut due: Option<Instant> = None;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let wait_until = due.filter(|_| svc_list.synced && slice_list.synced);
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            ev = services.next() => match ev {
                Some(Ok(ev)) => match svc_list.step(ev) {
                    Some(Step::Replace(list)) => proxy.replace_services(list),
                    Some(Step::Apply(svc)) => proxy.apply_service(svc),
                    Some(Step::Delete(svc)) => proxy.delete_service(&svc),
                    None => {}
                },
                Some(Err(e)) => tracing::warn!(error = %e, "watching services"),
                None => return Ok(()),
            },
            ev = slices.next() => match ev {
                Some(Ok(ev)) => match slice_list.step(ev) {
                    Some(Step::Replace(list)) => proxy.replace_slices(list),
                    Some(Step::Apply(s)) => proxy.apply_slice(s),
                    Some(Step::Delete(s)) => proxy.delete_slice(&s),
                    None => {}
                },
                Some(Err(e)) => tracing::warn!(error = %e, "watching endpointslices"),
                None => return Ok(()),
            },
            _ = sleep_until(wait_until) => {
                due = None;
                if let Err(e) = proxy.sync().await {
                    tracing::error!(error = %e, "syncing service rules");
                    due = Some(Instant::now() + RETRY);
                }
                continue;
            }
        }
        if due.is_none() && proxy.has_changes() {
            due = Some(Instant::now() + debounce);
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relist_buffers_until_init_done() {
        let mut r: Relist<u32> = Relist::new();
        assert!(r.step(Event::Init).is_none());
        assert!(r.step(Event::InitApply(1)).is_none());
        assert!(r.step(Event::InitApply(2)).is_none());
        assert!(!r.synced);
        match r.step(Event::InitDone) {
            Some(Step::Replace(v)) => assert_eq!(v, vec![1, 2]),
            _ => panic!("expected the full list"),
        }
        assert!(r.synced);
        assert!(matches!(r.step(Event::Apply(3)), Some(Step::Apply(3))));
    }
}
