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
    /// Manage the node's local images.
    Image(ImageArgs),
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
}

/// Flags of `skiff kubeconfig`.
#[derive(Args, Debug)]
pub struct KubeconfigArgs {
    /// The server's data directory.
    #[arg(long, default_value = "/var/lib/skiff", env = "SKIFF_DATA_DIR")]
    pub data_dir: PathBuf,
}
