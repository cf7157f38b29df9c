//! Driving `nft`: every change is one batch on `nft -f -`, applied atomically by the kernel.

use crate::command;
use crate::error::NetError;

/// The table family and name every Skiff rule lives in.
pub const TABLE: &str = "skiff";

/// Runs nft batches, in the current network namespace or in a named one (`ip netns exec`).
#[derive(Debug, Clone, Default)]
pub struct Nft {
    netns: Option<String>,
}

impl Nft {
    /// `nft` in the current network namespace.
    pub fn host() -> Nft {
        Nft { netns: None }
    }

    /// `nft` inside the named network namespace (`/run/netns/<name>`); used by tests.
    pub fn in_netns(name: &str) -> Nft {
        Nft {
            netns: Some(name.to_string()),
        }
    }

    /// Apply `batch` as one transaction; on failure the error carries nft's stderr.
    pub async fn apply(&self, batch: &str) -> Result<(), NetError> {
        let result = match &self.netns {
            None => command::run("nft", &["-f", "-"], Some(batch)).await,
            Some(ns) => {
                command::run("ip", &["netns", "exec", ns, "nft", "-f", "-"], Some(batch)).await
            }
        };
        match result {
            Ok(_) => Ok(()),
            // A batch can be megabytes: report nft's stderr (which quotes the failing
            // line) and the batch size, not the batch.
            Err(NetError::Command { stderr, .. }) => Err(NetError::Command {
                command: format!("nft -f - ({} lines)", batch.lines().count()),
                stderr,
            }),
            Err(e) => Err(e),
        }
    }

    /// `nft <args>` (e.g. `list table inet skiff`); its stdout.
    pub async fn run(&self, args: &[&str]) -> Result<String, NetError> {
        match &self.netns {
            None => command::run("nft", args, None).await,
            Some(ns) => {
                let mut full = vec!["netns", "exec", ns.as_str(), "nft"];
                full.extend_from_slice(args);
                command::run("ip", &full, None).await
            }
        }
    }
}

/// Remove Skiff's nftables table (`inet <table>`) if present: the agent's uninstall path.
pub async fn cleanup(nft: &Nft, table: &str) -> Result<(), NetError> {
    // "add" first makes the delete succeed whether or not the table exists.
    nft.apply(&format!(
        "add table inet {table}\ndelete table inet {table}\n"
    ))
    .await
}

/// Bumped each time the service proxy replaces the table whole, so NetworkPolicy (same
/// table, own chains) knows to program itself again.
static EPOCH: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// Note that the table was deleted and rebuilt.
pub(crate) fn table_replaced() {
    EPOCH.send_modify(|e| *e += 1);
}

/// Follow table rebuilds.
pub(crate) fn table_epoch() -> tokio::sync::watch::Receiver<u64> {
    EPOCH.subscribe()
}
