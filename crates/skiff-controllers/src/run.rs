//! Starting every controller and stopping them together.

use crate::caches::Caches;
use crate::error::ControllerError;
use futures_util::future::FutureExt;
use kube::Client;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Which controllers run.
#[derive(Debug, Clone)]
pub struct ControllersConfig {
    /// Create the default `local-path` StorageClass when absent.
    pub default_storage_class: bool,
    /// Node health monitoring and taint-based eviction.
    pub node_lifecycle: crate::node_lifecycle::Config,
    /// Node pod CIDR allocation from the cluster CIDR.
    pub node_ipam: crate::node_ipam::Config,
}

impl Default for ControllersConfig {
    fn default() -> ControllersConfig {
        ControllersConfig {
            default_storage_class: true,
            node_lifecycle: Default::default(),
            node_ipam: Default::default(),
        }
    }
}

/// Run the controllers until `shutdown` becomes true (or its sender is dropped).
pub async fn run(
    client: Client,
    cfg: ControllersConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ControllerError> {
    let stop = {
        let mut rx = shutdown.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
        .shared()
    };
    if cfg.default_storage_class {
        // Retried: the API may still be starting, and a missing class only delays binding.
        let mut delay = Duration::from_millis(200);
        loop {
            match crate::storage_class::ensure_default(&client).await {
                Ok(()) => break,
                Err(e) => tracing::warn!(error = %e, "creating the default StorageClass; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.clone() => return Ok(()),
            }
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }
    let mut tasks = JoinSet::new();
    let caches = Caches::start(client.clone(), &mut tasks);
    tokio::select! {
        r = caches.wait_ready() => r?,
        _ = stop.clone() => return Ok(()),
    }
    let mut loops = JoinSet::new();
    loops.spawn(
        crate::pv_controller::run(caches.clone(), stop.clone())
            .map(|r| ("persistentvolume-binder", r))
            .instrument(tracing::info_span!("persistentvolume-binder")),
    );
    loops.spawn(
        crate::local_path::run(caches.clone(), stop.clone())
            .map(|r| ("local-path-provisioner", r))
            .instrument(tracing::info_span!("local-path-provisioner")),
    );
    loops.spawn(
        crate::pvc_protection::run(client.clone(), stop.clone())
            .map(|r| ("pvc-protection", r))
            .instrument(tracing::info_span!("pvc-protection")),
    );
    loops.spawn(
        crate::workloads::run(
            client.clone(),
            cfg.node_lifecycle.clone(),
            cfg.node_ipam.clone(),
            stop.clone(),
        )
        .map(|r| ("workloads", r))
        .instrument(tracing::info_span!("workloads")),
    );
    loops.spawn(
        crate::pv_protection::run(client, stop.clone())
            .map(|r| ("pv-protection", r))
            .instrument(tracing::info_span!("pv-protection")),
    );
    let mut result = Ok(());
    while let Some(done) = loops.join_next().await {
        match done {
            Ok((name, Err(e))) => {
                tracing::error!(controller = name, error = %e, "controller failed");
                result = Err(e);
            }
            Ok((name, Ok(()))) if !*shutdown.borrow() => {
                tracing::error!(controller = name, "controller stopped");
                result = Err(ControllerError::Stopped(name));
            }
            _ => {}
        }
    }
    tasks.abort_all();
    result
}
