//! Wiring of one real node agent: heartbeat, pod manager and the HTTPS API.

use std::sync::Arc;

use skiff_cri::{ImageService, RuntimeService};
use tokio::sync::watch;
use tracing::Instrument;

use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::events::EventRecorder;
use crate::machine::MachineInfo;
use crate::worker::WorkerCtx;

/// Run the node agent until `shutdown` turns true. Running containers are left running on
/// shutdown; the next agent adopts them.
pub async fn run(
    client: kube::Client,
    cfg: AgentConfig,
    images: Arc<dyn ImageService>,
    runtime: Arc<dyn RuntimeService>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    if cfg.node_name.is_empty() {
        return Err(AgentError::Config("node name is empty".into()));
    }
    std::fs::create_dir_all(cfg.data_dir.join("pods"))?;
    std::fs::create_dir_all(cfg.data_dir.join("logs"))?;
    let cfg = Arc::new(cfg);
    let m = MachineInfo::read(&cfg.data_dir);
    let ctx = Arc::new(WorkerCtx {
        client: client.clone(),
        cfg: cfg.clone(),
        images,
        runtime: runtime.clone(),
        events: EventRecorder::new(client.clone(), cfg.node_name.clone()),
        node_cpu_millis: (m.cpus * 1000) as i64,
        node_memory: m.memory as i64,
        evictions: Default::default(),
    });
    let heartbeat = tokio::spawn(
        crate::heartbeat::run(client.clone(), cfg.clone(), shutdown.clone())
            .instrument(tracing::info_span!("heartbeat", node = %cfg.node_name)),
    );
    let evictions = tokio::spawn(
        crate::eviction_manager::run(ctx.clone(), shutdown.clone())
            .instrument(tracing::info_span!("eviction_manager", node = %cfg.node_name)),
    );
    let storage = tokio::spawn(
        crate::local_path::run(client.clone(), cfg.clone(), shutdown.clone())
            .instrument(tracing::info_span!("local_path_cleanup", node = %cfg.node_name)),
    );
    let network = cfg.network.clone().map(|net| {
        tokio::spawn(
            crate::network::run(
                client.clone(),
                cfg.clone(),
                net,
                runtime.clone(),
                shutdown.clone(),
            )
            .instrument(tracing::info_span!("pod_network", node = %cfg.node_name)),
        )
    });
    let (proxy, policy) = match &cfg.network {
        Some(net) => {
            let node_ips = cfg.internal_ip.parse().into_iter().collect();
            let proxy_cfg = skiff_net::ProxyConfig::new(&cfg.node_name, node_ips, net.cluster_cidr);
            let proxy = {
                let (client, shutdown, proxy_cfg) =
                    (client.clone(), shutdown.clone(), proxy_cfg.clone());
                tokio::spawn(
                    async move {
                        if let Err(e) =
                            skiff_net::run_service_proxy(client, proxy_cfg, shutdown).await
                        {
                            tracing::error!(error = %e, "service proxy stopped");
                        }
                    }
                    .instrument(tracing::info_span!("service_proxy", node = %cfg.node_name)),
                )
            };
            let (client, shutdown) = (client.clone(), shutdown.clone());
            let policy = tokio::spawn(
                async move {
                    if let Err(e) = skiff_net::run_network_policy(client, proxy_cfg, shutdown).await
                    {
                        tracing::error!(error = %e, "network policy stopped");
                    }
                }
                .instrument(tracing::info_span!("network_policy", node = %cfg.node_name)),
            );
            (Some(proxy), Some(policy))
        }
        None => (None, None),
    };
    let host_ports = cfg.network.is_some().then(|| {
        tokio::spawn(
            crate::network::host_ports(client.clone(), cfg.node_name.clone(), shutdown.clone())
                .instrument(tracing::info_span!("host_ports", node = %cfg.node_name)),
        )
    });
    let api = match cfg.tls.clone() {
        Some(tls) => {
            let state = crate::server::ApiState {
                logs_root: cfg.data_dir.join("logs"),
                runtime,
            };
            let addr = std::net::SocketAddr::new(cfg.bind_address, cfg.port);
            Some(tokio::spawn(
                crate::server::serve(addr, tls, state, shutdown.clone())
                    .instrument(tracing::info_span!("agent_api")),
            ))
        }
        None => None,
    };
    let result = crate::manager::run(ctx, shutdown)
        .instrument(tracing::info_span!("pod_manager", node = %cfg.node_name))
        .await;
    heartbeat.abort();
    evictions.abort();
    storage.abort();
    for task in [network, proxy, policy, host_ports].into_iter().flatten() {
        task.abort();
    }
    if let Some(api) = api {
        api.abort();
    }
    result
}
