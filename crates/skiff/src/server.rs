//! Wiring of `skiff server`: store, API server, background loops, signals.

use crate::cli::{KubeconfigArgs, ServerArgs};
use anyhow::Context;
use skiff_apiserver::{auth::Tokens, handlers, join, pki, server, ApiServer, Config};
use skiff_store::{SqliteStore, Store, StoreOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Run the control plane until SIGTERM/SIGINT (a second signal exits at once).
pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(args))
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let pki = pki::Pki::ensure(&args.data_dir, &pki::default_sans(&args.tls_san))
        .context("preparing certificates")?;
    let client_host = if args.bind_address.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        args.bind_address.to_string()
    };
    let url = format!("https://{client_host}:{}", args.port);
    let kubeconfig = pki.admin_kubeconfig(&url)?;
    let kubeconfig_path = args.data_dir.join("kubeconfig.yaml");
    std::fs::write(&kubeconfig_path, &kubeconfig)
        .with_context(|| format!("writing {}", kubeconfig_path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&kubeconfig_path, std::fs::Permissions::from_mode(0o600));
    }
    let tokens = match &args.token_auth_file {
        Some(p) => Tokens::load(p)?,
        None => Tokens::default(),
    };
    let store: Arc<dyn Store> = SqliteStore::open(
        &args.data_dir.join("state.db"),
        StoreOptions {
            history: 20_000,
            ..StoreOptions::default()
        },
    )
    .context("opening the store")?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let ca_pem = std::fs::read_to_string(pki.path("ca.crt")).context("reading the CA")?;
    let join_secret = join::ensure_secret(&args.data_dir)?;
    let join_token = join::format_token(&ca_pem, &join_secret);
    let config = Config {
        advertise_address: format!("{client_host}:{}", args.port),
        ca_pem,
        join: Some(join::JoinAuthority {
            secret: join_secret,
            pki: pki.clone(),
        }),
        token_signer: Some(Arc::new(
            skiff_apiserver::sa_token::TokenSigner::ensure(&args.data_dir.join("pki"))
                .context("preparing the service account signing key")?,
        )),
        default_not_ready_toleration_seconds: args.default_not_ready_toleration_seconds,
        default_unreachable_toleration_seconds: args.default_unreachable_toleration_seconds,
        ..Config::default()
    };
    let state = ApiServer::new(store.clone(), tokens, config, shutdown_rx);
    // The API server reaches every node agent (logs, exec, port-forward) with this identity.
    let (agent_client_crt, agent_client_key) = pki.ensure_issued(
        "apiserver-agent-client",
        "kube-apiserver-kubelet-client",
        &["system:masters".into()],
        &[],
        false,
    )?;
    *state.agent_tls.write() = Some(Arc::new(server::agent_client_config(
        &pki.path("ca.crt"),
        &agent_client_crt,
        &agent_client_key,
    )?));
    handlers::register_crds(&state);
    handlers::bootstrap(&state)
        .await
        .context("creating default objects")?;
    tokio::spawn(handlers::namespace_cleanup_loop(state.clone()));
    tokio::spawn(skiff_apiserver::metrics_api::scrape_loop(state.clone()));
    let node_shutdown = state.shutdown.clone();
    let tls = server::tls_config(
        &pki.path("ca.crt"),
        &pki.path("server.crt"),
        &pki.path("server.key"),
    )?;
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            "shutting down: draining in-flight requests (send the signal again to exit now)"
        );
        let _ = shutdown_tx.send(true);
        wait_for_signal().await;
        tracing::warn!("second signal: exiting immediately");
        std::process::exit(130);
    });
    eprintln!(
        "skiff server ready at {url}; kubeconfig: {}\njoin other nodes with: skiff agent --server {url} --token {join_token}",
        kubeconfig_path.display()
    );
    let addr = SocketAddr::new(args.bind_address, args.port);
    let serving = tokio::spawn(server::serve(
        state.clone(),
        addr,
        tls,
        Duration::from_secs(args.shutdown_grace_seconds),
    ));
    if !args.disable_scheduler {
        crate::node::start_scheduler(&kubeconfig_path, node_shutdown.clone()).await?;
    }
    if !args.disable_controllers {
        // The controllers' work queue metrics are served on the API server's /metrics.
        state
            .metrics
            .add_source(Box::new(skiff_controllers::metrics::render));
        let client = crate::node::client(&kubeconfig_path).await?;
        let shutdown = node_shutdown.clone();
        let node_monitor_grace_period = args.node_monitor_grace_period;
        let node_monitor_period = args.node_monitor_period;
        let rates = skiff_controllers::node_lifecycle::zones::Rates {
            eviction_rate: args.node_eviction_rate,
            secondary_eviction_rate: args.secondary_node_eviction_rate,
            unhealthy_zone_threshold: args.unhealthy_zone_threshold,
            large_cluster_size_threshold: args.large_cluster_size_threshold,
        };
        let cluster_cidr = skiff_controllers::node_ipam::Cidr::new(
            args.network.cluster_cidr.network(),
            args.network.cluster_cidr.prefix(),
        );
        tokio::spawn(async move {
            let mut cfg = skiff_controllers::ControllersConfig::default();
            cfg.node_lifecycle.grace_period = node_monitor_grace_period;
            cfg.node_lifecycle.monitor_period = node_monitor_period;
            cfg.node_lifecycle.rates = rates;
            cfg.node_ipam.cluster_cidr = cluster_cidr;
            if let Err(e) = skiff_controllers::run(client, cfg, shutdown).await {
                tracing::error!(error = %e, "controllers stopped");
            }
        });
    }
    if !args.disable_dns {
        // Request counts and latency of cluster DNS are served on the API server's /metrics.
        state
            .metrics
            .add_source(Box::new(skiff_dns::metrics::render));
        crate::dns::start(&args, &kubeconfig_path, node_shutdown.clone()).await?;
    }
    if !args.disable_agent {
        let loopback = args.bind_address.is_loopback();
        let node_ip = args.node_ip.unwrap_or_else(|| {
            let first = pki::host_ipv4_addresses()
                .into_iter()
                .next()
                .and_then(|a| a.parse().ok());
            match (loopback, first) {
                (false, Some(ip)) => ip,
                _ => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            }
        });
        let bind = if loopback {
            args.bind_address
        } else {
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        };
        let agent = crate::node::EmbeddedAgent {
            data_dir: &args.data_dir,
            pki: &pki,
            node_name: args
                .node_name
                .clone()
                .unwrap_or_else(crate::node::host_name),
            node_ip,
            bind,
            port: args.agent_port,
            network: &args.network,
            node: &args.node,
        };
        crate::node::start_embedded_agent(agent, &kubeconfig_path, node_shutdown).await?;
    }
    drop(state);
    serving.await.context("API server task")??;
    store.close().await;
    tracing::info!("store closed; bye");
    Ok(())
}

/// Resolve on SIGTERM or SIGINT.
pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    let mut int = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Print the admin kubeconfig.
pub fn print_kubeconfig(args: KubeconfigArgs) -> anyhow::Result<()> {
    let path = args.data_dir.join("kubeconfig.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (has `skiff server` run with this --data-dir?)",
            path.display()
        )
    })?;
    print!("{text}");
    Ok(())
}

/// Print the join token of a server's data directory.
pub fn print_token(args: KubeconfigArgs) -> anyhow::Result<()> {
    let ca = args.data_dir.join("pki/ca.crt");
    let ca_pem = std::fs::read_to_string(&ca).with_context(|| {
        format!(
            "reading {} (has `skiff server` run with this --data-dir?)",
            ca.display()
        )
    })?;
    let secret = join::ensure_secret(&args.data_dir)?;
    println!("{}", join::format_token(&ca_pem, &secret));
    Ok(())
}
