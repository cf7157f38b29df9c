//! Wiring of the cluster DNS server into `skiff server`: listen on the node's address,
//! serve from watch caches, keep `kube-system/kube-dns` pointing here.

use crate::cli::ServerArgs;
use anyhow::Context;
use skiff_dns::forward::{parse_resolv_conf, DEFAULT_TIMEOUT};
use skiff_dns::{ClientFilter, DnsAddress, DnsServer, Forwarder, Handler, KubeCatalog, Zone};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long the server waits for its first full list of Services and EndpointSlices
/// before answering (CoreDNS waits up to 5 s too), so it never says NXDOMAIN for names
/// it has not heard of yet.
const SYNC_WAIT: Duration = Duration::from_secs(5);

/// The clients cluster DNS serves: pods (the cluster CIDR), nodes (hostNetwork pods, and
/// node processes through the kube-dns ClusterIP, masqueraded to their node's address) and
/// this machine's loopback. Anyone else who reaches the node's address gets REFUSED, so the
/// server is no open resolver toward the host's upstreams.
struct ClusterClients {
    cluster_cidr: skiff_net::Ipv4Cidr,
    node_ip: IpAddr,
    catalog: KubeCatalog,
}

impl ClientFilter for ClusterClients {
    fn allows(&self, client: IpAddr) -> bool {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        client.is_loopback()
            || client == self.node_ip
            || matches!(client, IpAddr::V4(v4) if self.cluster_cidr.contains(v4))
            || self.catalog.is_node_address(client)
    }
}

/// The address the embedded agent registers as the node's InternalIP (the same rule as
/// the agent wiring in server.rs).
fn node_ip(args: &ServerArgs) -> IpAddr {
    args.node_ip.unwrap_or_else(|| {
        let first = skiff_apiserver::pki::host_ipv4_addresses()
            .into_iter()
            .next()
            .and_then(|a| a.parse().ok());
        match (args.bind_address.is_loopback(), first) {
            (false, Some(ip)) => ip,
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    })
}

/// Start the DNS server and the kube-dns objects' upkeep. A port already in use is
/// logged, not fatal: the control plane still runs without cluster DNS.
pub async fn start(
    args: &ServerArgs,
    kubeconfig: &Path,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let node_ip = node_ip(args);
    if node_ip.is_unspecified() {
        // Listening on every address would make this an open resolver.
        anyhow::bail!("cluster DNS needs a node address to listen on, not {node_ip}");
    }
    let listen = SocketAddr::new(node_ip, args.dns_port);
    let server = match DnsServer::bind(listen).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cluster DNS not started");
            return Ok(());
        }
    };
    let bound = server.local_addr().context("cluster DNS address")?;
    let upstreams: Vec<SocketAddr> = if args.dns_upstream.is_empty() {
        std::fs::read_to_string("/etc/resolv.conf")
            .map(|t| parse_resolv_conf(&t))
            .unwrap_or_default()
    } else {
        args.dns_upstream.clone()
    }
    .into_iter()
    // Relaying to ourselves would loop until the timeout.
    .filter(|u| *u != bound && u.ip() != IpAddr::V4(args.network.cluster_dns))
    .collect();
    if upstreams.is_empty() {
        tracing::warn!(
            "cluster DNS has no upstream resolvers: names outside the cluster get SERVFAIL"
        );
    }
    let zone = Zone::new(&args.network.cluster_domain)
        .with_context(|| format!("--cluster-domain {:?}", args.network.cluster_domain))?;
    let client = crate::node::client(kubeconfig).await?;
    let (catalog, watching) = KubeCatalog::start(client.clone());
    let mut stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = watching => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    });
    let handler = Arc::new(
        Handler::new(
            Arc::new(catalog.clone()),
            zone,
            Forwarder::new(upstreams.clone(), DEFAULT_TIMEOUT),
        )
        .with_clients(Arc::new(ClusterClients {
            cluster_cidr: args.network.cluster_cidr,
            node_ip,
            catalog: catalog.clone(),
        })),
    );
    let serve_shutdown = shutdown.clone();
    tokio::spawn(async move {
        if !catalog.wait_synced(SYNC_WAIT).await {
            tracing::warn!("cluster DNS starts before its Service caches synced");
        }
        server.run(handler, serve_shutdown).await;
    });
    let addr = DnsAddress {
        cluster_ip: IpAddr::V4(args.network.cluster_dns),
        node_ip,
        port: bound.port(),
    };
    tokio::spawn(skiff_dns::keep_kube_dns(client, addr, shutdown));
    tracing::info!(%bound, domain = %args.network.cluster_domain, ?upstreams, "cluster DNS serving");
    Ok(())
}
