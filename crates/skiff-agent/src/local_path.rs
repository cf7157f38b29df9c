//! The node's half of the local-path provisioner: advertise where this node keeps
//! local-path volumes, and remove a deleted volume's directory before letting the
//! PersistentVolume go.
//!
//! The contract with skiff-controllers' `local_path` module: the Node annotation
//! [`ANN_NODE_DIR`] holds `<data dir>/storage`; a volume on this node carries
//! [`ANN_VOLUME_NODE`] = this node and the [`CLEANUP_FINALIZER`]; once it is being deleted,
//! its hostPath directory is removed here, and only if it sits directly in the storage
//! directory under a `pvc-` name, so no volume spec can make the agent delete anything else.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;

use crate::config::AgentConfig;

/// Node annotation: absolute directory of this node's local-path volumes.
pub const ANN_NODE_DIR: &str = "skiff.dev/local-path-dir";
/// Volume annotation: the node its directory is on.
pub const ANN_VOLUME_NODE: &str = "local.path.provisioner/selected-node";
/// Finalizer removed here once the directory is gone.
pub const CLEANUP_FINALIZER: &str = "skiff.dev/local-path-cleanup";
/// How often failed clean-ups are retried.
const RETRY: Duration = Duration::from_secs(5);

/// The annotations the agent puts on its Node for local-path volumes.
pub fn node_annotations(cfg: &AgentConfig) -> BTreeMap<String, String> {
    let dir = cfg.storage_dir();
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    BTreeMap::from([(ANN_NODE_DIR.to_string(), dir.to_string_lossy().into_owned())])
}

/// Whether `path` is a volume directory this node may delete: directly inside
/// `storage_dir`, named `pvc-…`, with no `..` or other tricks.
pub fn deletable(storage_dir: &Path, path: &Path) -> bool {
    let normal = path
        .components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    normal
        && path.is_absolute()
        && path.parent() == Some(storage_dir)
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pvc-") && n.len() > 4)
}

/// Remove a volume directory (a symlink in its place is removed, not followed).
fn remove_dir(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    }
}

/// Run until `shutdown` turns true.
pub(crate) async fn run(
    client: Client,
    cfg: Arc<AgentConfig>,
    mut shutdown: watch::Receiver<bool>,
) {
    let storage = cfg.storage_dir();
    let storage = std::path::absolute(&storage).unwrap_or(storage);
    let api: Api<PersistentVolume> = Api::all(client);
    let mut stream = watcher::watcher(api.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    // Volumes whose clean-up failed, retried on a timer.
    let mut pending: BTreeMap<String, PersistentVolume> = BTreeMap::new();
    let mut tick = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            ev = stream.next() => match ev {
                Some(Ok(Event::Apply(pv) | Event::InitApply(pv))) => {
                    if ours(&pv, &cfg.node_name) {
                        pending.insert(pv.name_any(), pv);
                    }
                }
                Some(Ok(Event::Delete(pv))) => {
                    pending.remove(&pv.name_any());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::warn!(error = %e, "watching PersistentVolumes"),
                None => return,
            },
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let names: Vec<String> = pending.keys().cloned().collect();
        for name in names {
            let Some(pv) = pending.get(&name) else {
                continue;
            };
            match clean_up(&api, &storage, pv).await {
                Ok(()) => {
                    pending.remove(&name);
                }
                Err(e) => {
                    tracing::warn!(volume = %name, error = %e, "removing a local-path volume; will retry")
                }
            }
        }
    }
}

/// A volume of this node that is being deleted and still waits for its clean-up.
fn ours(pv: &PersistentVolume, node: &str) -> bool {
    pv.metadata.deletion_timestamp.is_some()
        && pv.finalizers().iter().any(|f| f == CLEANUP_FINALIZER)
        && pv.annotations().get(ANN_VOLUME_NODE).map(String::as_str) == Some(node)
}

async fn clean_up(
    api: &Api<PersistentVolume>,
    storage: &Path,
    pv: &PersistentVolume,
) -> Result<(), String> {
    let path = pv
        .spec
        .as_ref()
        .and_then(|s| {
            s.host_path
                .as_ref()
                .map(|h| h.path.clone())
                .or_else(|| s.local.as_ref().map(|l| l.path.clone()))
        })
        .map(PathBuf::from);
    match path {
        Some(p) if deletable(storage, &p) => {
            remove_dir(&p).map_err(|e| format!("removing {}: {e}", p.display()))?;
            tracing::info!(volume = %pv.name_any(), path = %p.display(), "removed local-path volume data");
        }
        // Not ours to delete: keep the data, but do not hold the volume forever.
        other => {
            tracing::warn!(volume = %pv.name_any(), path = ?other, storage = %storage.display(), "volume path is outside the local-path directory; leaving it in place")
        }
    }
    let finalizers: Vec<&String> = pv
        .finalizers()
        .iter()
        .filter(|f| *f != CLEANUP_FINALIZER)
        .collect();
    let patch = serde_json::json!({"metadata": {"finalizers": finalizers, "resourceVersion": pv.resource_version()}});
    match api
        .patch(
            &pv.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        // A newer version arrives through the watch and replaces this one in `pending`.
        Err(e) => Err(format!("removing finalizer {CLEANUP_FINALIZER}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_volume_dirs_directly_in_storage_are_deletable() {
        let storage = Path::new("/var/lib/skiff/agent/storage");
        let cases = [
            ("/var/lib/skiff/agent/storage/pvc-1_ns_data", true),
            ("/var/lib/skiff/agent/storage/pvc-", false),
            ("/var/lib/skiff/agent/storage/other", false),
            ("/var/lib/skiff/agent/storage", false),
            ("/var/lib/skiff/agent/storage/pvc-1/../../etc", false),
            ("/var/lib/skiff/agent/storage/../pvc-1", false),
            ("/var/lib/skiff/agent/storage/x/pvc-1", false),
            ("/etc/pvc-1", false),
            ("var/lib/skiff/agent/storage/pvc-1", false),
        ];
        for (p, want) in cases {
            assert_eq!(deletable(storage, Path::new(p)), want, "{p}");
        }
    }

    #[test]
    fn removes_directories_and_links_without_following() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(outside.join("keep"), b"x").expect("write");
        let vol = tmp.path().join("pvc-1");
        std::fs::create_dir_all(vol.join("sub")).expect("mkdir");
        std::fs::write(vol.join("sub/file"), b"x").expect("write");
        std::os::unix::fs::symlink(&outside, vol.join("link")).expect("symlink");
        remove_dir(&vol).expect("remove");
        assert!(!vol.exists());
        assert!(outside.join("keep").exists());
        let link = tmp.path().join("pvc-2");
        std::os::unix::fs::symlink(&outside, &link).expect("symlink");
        remove_dir(&link).expect("remove link");
        assert!(outside.join("keep").exists());
        remove_dir(&tmp.path().join("pvc-missing")).expect("missing is fine");
    }
}
