//! Watches the pods bound to this node and keeps one worker per pod (keyed by uid); at start
//! it adopts the runtime's containers of live pods and removes those of vanished pods.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use skiff_cri::ContainerSummary;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::error::AgentError;
use crate::worker::{PodWorker, WorkerCtx};

/// The pod uid a runtime container id belongs to (ids are `<uid>_<name>_<instance>`).
pub fn uid_of_container(id: &str) -> Option<&str> {
    let mut parts = id.rsplitn(3, '_');
    let _instance = parts.next()?;
    let _name = parts.next()?;
    parts.next()
}

struct Entry {
    tx: watch::Sender<Option<Pod>>,
    task: JoinHandle<()>,
}

/// Run the pod manager until shutdown.
pub(crate) async fn run(
    ctx: Arc<WorkerCtx>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let mut adopted: BTreeMap<String, Vec<ContainerSummary>> = BTreeMap::new();
    for c in ctx.runtime.list_containers().await? {
        if let Some(uid) = uid_of_container(&c.id) {
            adopted.entry(uid.to_string()).or_default().push(c);
        }
    }
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let wc = watcher::Config::default().fields(&format!("spec.nodeName={}", ctx.cfg.node_name));
    let mut stream = watcher::watcher(api, wc).default_backoff().boxed();
    let mut workers: HashMap<String, Entry> = HashMap::new();
    let mut listed: HashSet<String> = HashSet::new();
    let mut cleaned = false;
    let mut shutdown_rx = shutdown.clone();
    loop {
        let ev = tokio::select! {
            ev = stream.try_next() => ev,
            _ = shutdown_rx.changed() => break,
        };
        match ev {
            Ok(Some(Event::Init)) => listed.clear(),
            Ok(Some(Event::InitApply(pod))) => {
                if let Some(uid) = pod.metadata.uid.clone() {
                    listed.insert(uid);
                }
                upsert(&ctx, &mut workers, &mut adopted, pod, &shutdown);
            }
            Ok(Some(Event::Apply(pod))) => {
                tracing::debug!(pod = ?pod.metadata.name, deleting = pod.metadata.deletion_timestamp.is_some(), "pod changed");
                upsert(&ctx, &mut workers, &mut adopted, pod, &shutdown)
            }
            Ok(Some(Event::Delete(pod))) => {
                if let Some(e) = pod.metadata.uid.as_ref().and_then(|u| workers.get(u)) {
                    let _ = e.tx.send(None);
                }
            }
            Ok(Some(Event::InitDone)) => {
                for (uid, e) in workers.iter() {
                    if !listed.contains(uid) {
                        let _ = e.tx.send(None);
                    }
                }
                if !cleaned {
                    cleaned = true;
                    remove_orphans(&ctx, &listed, std::mem::take(&mut adopted)).await;
                }
            }
            Ok(None) => break,
            Err(e) => tracing::warn!(error = %e, "pod watch failed; retrying"),
        }
        workers.retain(|_, e| !e.task.is_finished());
    }
    Ok(())
}

fn upsert(
    ctx: &Arc<WorkerCtx>,
    workers: &mut HashMap<String, Entry>,
    adopted: &mut BTreeMap<String, Vec<ContainerSummary>>,
    pod: Pod,
    shutdown: &watch::Receiver<bool>,
) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    if let Some(e) = workers.get(&uid) {
        if !e.task.is_finished() {
            let _ = e.tx.send(Some(pod));
            return;
        }
    }
    let key = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    );
    let worker = PodWorker::new(
        ctx.clone(),
        pod.clone(),
        adopted.remove(&uid).unwrap_or_default(),
    );
    let (tx, rx) = watch::channel(Some(pod));
    let span = tracing::info_span!("pod_worker", pod = %key, uid = %uid);
    let task = tokio::spawn(worker.run(rx, shutdown.clone()).instrument(span));
    workers.insert(uid, Entry { tx, task });
}

/// Remove what the runtime and the data dir hold for pods that no longer exist.
async fn remove_orphans(
    ctx: &Arc<WorkerCtx>,
    live: &HashSet<String>,
    adopted: BTreeMap<String, Vec<ContainerSummary>>,
) {
    let mut keep_sandboxes: HashSet<String> = HashSet::new();
    for uid in live {
        let saved = std::fs::read_to_string(ctx.cfg.pod_dir(uid).join("sandbox.json")).ok();
        if let Some(id) = saved
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
        {
            keep_sandboxes.insert(id);
        }
    }
    if let Ok(all) = ctx.runtime.list_containers().await {
        for c in all {
            let live_pod = uid_of_container(&c.id).is_some_and(|u| live.contains(u));
            if live_pod {
                keep_sandboxes.insert(c.sandbox_id.clone());
                continue;
            }
            tracing::info!(container = %c.id, "removing container of a pod that no longer exists");
            let _ = ctx
                .runtime
                .stop_container(&c.id, std::time::Duration::from_secs(2))
                .await;
            let _ = ctx.runtime.remove_container(&c.id).await;
        }
    }
    drop(adopted);
    if let Ok(sandboxes) = ctx.runtime.list_sandboxes().await {
        for sb in sandboxes
            .into_iter()
            .filter(|s| !keep_sandboxes.contains(s))
        {
            tracing::info!(sandbox = %sb, "removing sandbox of a pod that no longer exists");
            let _ = ctx.runtime.remove_sandbox(&sb).await;
        }
    }
    if let Ok(dirs) = std::fs::read_dir(ctx.cfg.data_dir.join("pods")) {
        for d in dirs.flatten() {
            if !live.contains(d.file_name().to_string_lossy().as_ref()) {
                let _ = std::fs::remove_dir_all(d.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids() {
        assert_eq!(uid_of_container("1234-ab_web_3"), Some("1234-ab"));
        assert_eq!(uid_of_container("u_my_name_0"), Some("u_my"));
        assert_eq!(uid_of_container("nope"), None);
    }
}
