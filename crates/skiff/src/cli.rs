//! Command-line interface.

use clap::{Args, Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;

/// Skiff: a Kubernetes-compatible container orchestrator in one binary.
#[derive(Parser, Debug)]
#[command(name = "skiff", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the control plane (API server and embedded store).
    Server(ServerArgs),
    /// Print the admin kubeconfig of a server's data directory.
    Kubeconfig(KubeconfigArgs),
    /// Print the token agents join with (`skiff agent --server URL --token T`).
    Token(KubeconfigArgs),
    /// Manage the node's local images.
    Image(ImageArgs),
    /// Run a node agent that joins an existing server (or simulated nodes for scale tests).
    Agent(AgentArgs),
    /// Remove what Skiff's node networking left on this host after `skiff server` or
    /// `skiff agent` stopped: the `inet skiff` and `ip skiff-hostports` nftables tables,
    /// routes to other nodes, the skiff0 bridge and the VXLAN device. Pods' interfaces go
    /// with their pods: delete the pods (or stop their containers) first.
    CleanupNetwork,
}

/// Flags of `skiff agent`.
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// URL of the server to join, e.g. https://10.0.0.1:6443 (with --token).
    #[arg(long, env = "SKIFF_URL", requires = "token")]
    pub server: Option<String>,
    /// The join token `skiff server` prints (also `skiff token`).
    #[arg(long, env = "SKIFF_TOKEN", requires = "server")]
    pub token: Option<String>,
    /// kubeconfig with credentials for the API server, instead of joining with a token
    /// (simulated nodes; a real agent then runs without its HTTPS API).
    #[arg(long, required_unless_present = "server")]
    pub kubeconfig: Option<PathBuf>,
    /// Port of the agent's HTTPS API (logs, exec, port-forward, metrics).
    #[arg(long, default_value_t = 10250)]
    pub agent_port: u16,
    /// Register simulated nodes whose pods go Running without containers (like kwok).
    #[arg(long)]
    pub simulated: bool,
    /// How many simulated nodes.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// Node name (real agent) or name prefix (simulated nodes).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Directory for images, containers, volumes and logs.
    #[arg(long, default_value = "/var/lib/skiff-agent", env = "SKIFF_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The node's InternalIP (default: the first host IPv4 address).
    #[arg(long)]
    pub node_ip: Option<std::net::IpAddr>,
    /// Cluster networking.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Node agent settings.
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Node agent flags, shared by `skiff server` (its embedded agent) and `skiff agent`.
#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// Hard eviction thresholds, as kubelet's flag: the node reports MemoryPressure,
    /// DiskPressure or PIDPressure (and is tainted) below them. Signals left out of an
    /// explicit list have none; "" turns all off.
    #[arg(
        long,
        default_value = "memory.available<100Mi,nodefs.available<10%,pid.available<10%"
    )]
    pub eviction_hard: skiff_agent::EvictionThresholds,
}

/// Cluster networking flags, shared by `skiff server` and `skiff agent` (defaults as k3s).
#[derive(Args, Debug, Clone)]
pub struct NetworkArgs {
    /// How pods reach pods on other nodes: host-gw (nodes on one L2 segment), vxlan (an
    /// overlay), or none (no pod network: pods get loopback only).
    #[arg(long, default_value = "host-gw", value_parser = ["host-gw", "vxlan", "none"])]
    pub pod_network: String,
    /// Pod addresses of the whole cluster; each node gets a /24 of it.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: skiff_net::Ipv4Cidr,
    /// The cluster DNS Service address written into pods' resolv.conf.
    #[arg(long, default_value = "10.43.0.10")]
    pub cluster_dns: std::net::Ipv4Addr,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
}

/// Flags of `skiff image`.
#[derive(Args, Debug)]
pub struct ImageArgs {
    /// The node's data directory (the image store is `<data-dir>/images`).
    #[arg(
        long,
        default_value = "/var/lib/skiff",
        env = "SKIFF_DATA_DIR",
        global = true
    )]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: ImageCommand,
}

/// `skiff image` subcommands.
#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Import docker-archive or OCI-archive tarballs (as `docker save` / `skopeo copy` write them).
    Import {
        /// Tarballs to import.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List local images.
    Ls,
    /// Remove local images by reference, digest or ID.
    Rm {
        /// Images to remove.
        #[arg(required = true)]
        images: Vec<String>,
    },
}

/// Flags of `skiff server`.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Address the HTTPS API listens on.
    #[arg(long, default_value = "127.0.0.1", env = "SKIFF_BIND_ADDRESS")]
    pub bind_address: IpAddr,
    /// Port of the HTTPS API.
    #[arg(long, default_value_t = 6443, env = "SKIFF_PORT")]
    pub port: u16,
    /// Directory for state, certificates and the kubeconfig.
    #[arg(long, default_value = "/var/lib/skiff", env = "SKIFF_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Static bearer tokens (CSV: token,user,uid,"group1,group2"), as kube-apiserver's --token-auth-file.
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// Extra names or addresses for the serving certificate.
    #[arg(long = "tls-san")]
    pub tls_san: Vec<String>,
    /// Seconds to let in-flight requests finish after SIGTERM.
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
    /// Do not run the embedded node agent (this machine runs no pods).
    #[arg(long)]
    pub disable_agent: bool,
    /// Do not run the embedded scheduler.
    #[arg(long)]
    pub disable_scheduler: bool,
    /// Do not run the controllers (storage binding and provisioning).
    #[arg(long)]
    pub disable_controllers: bool,
    /// Name of this machine's Node (default: the host name).
    #[arg(long, env = "SKIFF_NODE_NAME")]
    pub node_name: Option<String>,
    /// The node's InternalIP (default: 127.0.0.1 when the API binds loopback, else the
    /// first host IPv4 address).
    #[arg(long)]
    pub node_ip: Option<std::net::IpAddr>,
    /// Port of the embedded node agent's HTTPS API (logs, metrics).
    #[arg(long, default_value_t = 10250)]
    pub agent_port: u16,
    /// How long a node may go without renewing its Lease or posting status before it is
    /// marked Unknown and tainted unreachable (e.g. 50s, 5s, 1m).
    #[arg(long, default_value = "50s", value_parser = parse_duration)]
    pub node_monitor_grace_period: std::time::Duration,
    /// How often the node lifecycle controller checks node health.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub node_monitor_period: std::time::Duration,
    /// Nodes per second, per zone, that may get a NoExecute taint (start evicting pods).
    #[arg(long, default_value_t = 0.1)]
    pub node_eviction_rate: f64,
    /// The same rate in a large zone with many nodes down.
    #[arg(long, default_value_t = 0.01)]
    pub secondary_node_eviction_rate: f64,
    /// Share of not-Ready nodes (more than two) that makes a zone partially disrupted.
    #[arg(long, default_value_t = 0.55)]
    pub unhealthy_zone_threshold: f64,
    /// A partially disrupted zone of at most this many nodes stops evicting.
    #[arg(long, default_value_t = 50)]
    pub large_cluster_size_threshold: usize,
    /// tolerationSeconds of the not-ready:NoExecute toleration added to pods that have none.
    #[arg(long, default_value_t = 300)]
    pub default_not_ready_toleration_seconds: i64,
    /// tolerationSeconds of the unreachable:NoExecute toleration added to pods that have none.
    #[arg(long, default_value_t = 300)]
    pub default_unreachable_toleration_seconds: i64,
    /// Do not run the cluster DNS server.
    #[arg(long)]
    pub disable_dns: bool,
    /// Port the cluster DNS server listens on (UDP and TCP) on the node's InternalIP;
    /// the kube-dns Service's port 53 targets it (53, like CoreDNS's pods, so NetworkPolicies
    /// allowing DNS on port 53 still match after the Service's DNAT). 0 picks a free port.
    #[arg(long, default_value_t = 53)]
    pub dns_port: u16,
    /// Resolvers for names outside the cluster domain (IP or IP:port; repeatable; default:
    /// the nameservers of /etc/resolv.conf).
    #[arg(long = "dns-upstream", value_parser = parse_upstream)]
    pub dns_upstream: Vec<std::net::SocketAddr>,
    /// Cluster networking.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Node agent settings.
    #[command(flatten)]
    pub node: NodeArgs,
}

/// A resolver address: `IP` (port 53) or `IP:port` (`[v6]:port`).
fn parse_upstream(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    s.parse()
        .map_err(|_| format!("{s:?} is not an IP address or IP:port"))
}

/// A Go-style duration: a number with unit h, m, s or ms ("40s", "1m30s", "500ms").
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let mut total = std::time::Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {s:?}"))?;
        let value: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => value * 3600.0,
            "m" => value * 60.0,
            "s" => value,
            "ms" => value / 1000.0,
            unit => return Err(format!("unknown unit {unit:?} in duration {s:?}")),
        };
        total += std::time::Duration::from_secs_f64(secs);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Flags of `skiff kubeconfig`.
#[derive(Args, Debug)]
pub struct KubeconfigArgs {
    /// The server's data directory.
    #[arg(long, default_value = "/var/lib/skiff", env = "SKIFF_DATA_DIR")]
    pub data_dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_like_go_flags() {
        assert_eq!(parse_duration("40s"), Ok(Duration::from_secs(40)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }
}
