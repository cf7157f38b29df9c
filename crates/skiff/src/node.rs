//! The node side of the binary: the embedded (or standalone) node agent with the real runtime,
//! the scheduler, and simulated nodes.

use crate::cli::AgentArgs;
use crate::cli::{NetworkArgs, NodeArgs};
use anyhow::Context;
use skiff_agent::AgentConfig;
use skiff_apiserver::{pki, server};
use skiff_net::routes::Backend;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

/// A kube client for the API server in `kubeconfig`.
pub async fn client(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .context("loading the kubeconfig")?;
    kube::Client::try_from(cfg).context("building the API client")
}

/// This machine's host name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_lowercase())
        .unwrap_or_else(|_| "skiff-node".into())
}

fn runc_version(runc: &Path) -> String {
    std::process::Command::new(runc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(2))
                .map(str::to_string)
        })
        .map(|v| format!("runc://{v}"))
        .unwrap_or_else(|| "runc://unknown".into())
}

fn find_runc() -> anyhow::Result<std::path::PathBuf> {
    for p in [
        "/usr/sbin/runc",
        "/usr/bin/runc",
        "/usr/local/sbin/runc",
        "/usr/local/bin/runc",
    ] {
        if Path::new(p).exists() {
            return Ok(p.into());
        }
    }
    anyhow::bail!(
        "runc not found: install it (hack/install-deps.sh does) or run with --disable-agent"
    )
}

/// Settings of the embedded agent.
pub struct EmbeddedAgent<'a> {
    /// Server data directory.
    pub data_dir: &'a Path,
    /// The cluster PKI.
    pub pki: &'a pki::Pki,
    /// Node name.
    pub node_name: String,
    /// Node IP.
    pub node_ip: IpAddr,
    /// Address the agent API binds.
    pub bind: IpAddr,
    /// Agent API port.
    pub port: u16,
    /// Cluster networking.
    pub network: &'a NetworkArgs,
    /// Node agent settings.
    pub node: &'a NodeArgs,
}

/// Start the embedded node agent: certificates for its API, the image store and runc runtime, then the agent loop.
pub async fn start_embedded_agent(
    e: EmbeddedAgent<'_>,
    kubeconfig: &Path,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let sans = vec![
        e.node_name.clone(),
        e.node_ip.to_string(),
        "localhost".into(),
        "127.0.0.1".into(),
    ];
    let (crt, key) = e.pki.ensure_issued(
        "agent",
        &format!("system:node:{}", e.node_name),
        &["system:nodes".into()],
        &sans,
        true,
    )?;
    let ca = e.pki.path("ca.crt");
    let tls = Arc::new(server::agent_server_config(&ca, &crt, &key)?);
    let mut cfg = AgentConfig::new(e.node_name, e.data_dir.join("agent"));
    cfg.internal_ip = e.node_ip.to_string();
    cfg.bind_address = e.bind;
    cfg.port = e.port;
    cfg.tls = Some(tls);
    cfg.control_plane = true;
    cfg.eviction_hard = e.node.eviction_hard.clone();
    run_agent(cfg, e.data_dir, e.network, kubeconfig, shutdown).await
}

async fn run_agent(
    mut cfg: AgentConfig,
    data_dir: &Path,
    network: &NetworkArgs,
    kubeconfig: &Path,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let runc = find_runc()?;
    cfg.runtime_version = runc_version(&runc);
    let images = Arc::new(crate::image::open_store(data_dir)?);
    let shim = std::env::current_exe().context("locating the skiff binary for the shim")?;
    let mut runtime = skiff_runtime::RuncRuntime::new(data_dir.join("runtime"), runc, shim)
        .context("starting the runc runtime")?;
    cfg.cluster_dns = Some(network.cluster_dns.to_string());
    cfg.cluster_domain = network.cluster_domain.clone();
    if network.pod_network != "none" {
        let backend: Backend = network
            .pod_network
            .parse()
            .map_err(|e: String| anyhow::anyhow!(e))?;
        let mtu = match backend {
            Backend::HostGw => 1500,
            Backend::Vxlan => 1500 - skiff_net::routes::VXLAN_OVERHEAD,
        };
        let bridge = Arc::new(
            skiff_net::BridgeNetwork::new(skiff_net::BridgeConfig {
                ipam_dir: data_dir.join("ipam"),
                mtu,
            })
            .context("opening the pod address store")?,
        );
        runtime = runtime.with_network(bridge.clone());
        cfg.network = Some(skiff_agent::PodNetworkSetup {
            bridge,
            backend,
            cluster_cidr: network.cluster_cidr,
        });
    }
    let runtime = Arc::new(runtime);
    let client = client(kubeconfig).await?;
    tokio::spawn(async move {
        if let Err(e) = skiff_agent::run(client, cfg, images, runtime, shutdown).await {
            tracing::error!(error = %e, "node agent stopped");
        }
    });
    Ok(())
}

/// Start the scheduler.
pub async fn start_scheduler(
    kubeconfig: &Path,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let client = client(kubeconfig).await?;
    tokio::spawn(async move {
        if let Err(e) = skiff_scheduler::run(
            client,
            skiff_scheduler::SchedulerConfig::default(),
            shutdown,
        )
        .await
        {
            tracing::error!(error = %e, "scheduler stopped");
        }
    });
    Ok(())
}

/// `skiff agent`: a real agent that joins with `--server`/`--token` (its own certificates, its
/// HTTPS API for logs/exec/port-forward), or simulated nodes / an API-less agent with
/// `--kubeconfig`.
pub fn run_standalone(args: AgentArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            crate::server::wait_for_signal().await;
            let _ = tx.send(true);
        });
        let name = args.node_name.clone().unwrap_or_else(host_name);
        std::fs::create_dir_all(&args.data_dir)?;
        let ip = args
            .node_ip
            .map(|i| i.to_string())
            .or_else(|| pki::host_ipv4_addresses().into_iter().next())
            .unwrap_or_else(|| "127.0.0.1".into());
        let mut cfg = AgentConfig::new(name.clone(), args.data_dir.join("agent"));
        let kubeconfig = match (&args.server, &args.token, &args.kubeconfig) {
            (Some(server), Some(token), _) => {
                let creds = crate::join::join(
                    server,
                    token,
                    &name,
                    std::slice::from_ref(&ip),
                    &args.data_dir.join("credentials"),
                )
                .await?;
                cfg.tls = Some(Arc::new(server::agent_server_config(
                    &creds.ca,
                    &creds.serving_cert,
                    &creds.serving_key,
                )?));
                cfg.bind_address = ip.parse().context("the node IP")?;
                cfg.port = args.agent_port;
                creds.kubeconfig
            }
            (_, _, Some(k)) => k.clone(),
            _ => anyhow::bail!("give --server and --token to join a cluster, or --kubeconfig"),
        };
        if args.simulated {
            let client = client(&kubeconfig).await?;
            skiff_agent::run_simulated(client, args.count, &name, rx).await?;
            return Ok(());
        }
        cfg.internal_ip = ip;
        cfg.eviction_hard = args.node.eviction_hard.clone();
        let mut done = rx.clone();
        run_agent(cfg, &args.data_dir, &args.network, &kubeconfig, rx).await?;
        let _ = done.wait_for(|v| *v).await;
        Ok(())
    })
}

/// `skiff cleanup-network`: remove the node's nftables tables, routes, bridge and VXLAN
/// device in this network namespace. Safe to repeat: what is already gone is skipped.
pub fn cleanup_network() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let nft = skiff_net::Nft::host();
        skiff_net::cleanup(&nft, skiff_net::TABLE)
            .await
            .context("removing the service proxy's nftables table")?;
        nft.apply(&format!(
            "add table ip {t}\ndelete table ip {t}\n",
            t = skiff_net::host_ports::HOST_PORT_TABLE
        ))
        .await
        .context("removing the hostPort table")?;
        skiff_net::routes::remove_all().await;
        Ok(())
    })
}
