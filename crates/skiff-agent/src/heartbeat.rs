//! The node's heartbeat: register the Node, then renew the Lease every `lease_interval` and
//! write node status every `status_interval` or when a condition changes.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeStatus};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::AgentConfig;
use crate::machine::MachineInfo;

/// Heartbeat progress.
enum State {
    /// Create or update the Node. On failure: retry after a short wait.
    Register,
    /// Renew the lease and, when due, the status. On failure: log and keep beating; the
    /// next tick retries (a missed beat or two is what the lease duration is for).
    Beating {
        /// The Node's uid (owner of the lease).
        uid: Option<String>,
        /// When status was last written.
        status_at: Instant,
        /// The last status written.
        last: NodeStatus,
    },
}

fn signature(s: &NodeStatus) -> Vec<(String, String)> {
    s.conditions
        .iter()
        .flatten()
        .map(|c| (c.type_.clone(), c.status.clone()))
        .collect()
}

/// Whether the API's copy of the node's conditions differs from ours: the node lifecycle
/// controller marks a node that went silent Unknown, and, as the kubelet does, the agent
/// compares against the API copy so a recovered node reports itself at once rather than at
/// the next periodic write.
async fn overridden(client: &Client, name: &str, ours: &NodeStatus) -> bool {
    let api: Api<Node> = Api::all(client.clone());
    match api.get_status(name).await {
        Ok(node) => node.status.as_ref().map(signature) != Some(signature(ours)),
        Err(_) => false,
    }
}

/// Run the heartbeat until shutdown.
pub async fn run(client: Client, cfg: Arc<AgentConfig>, mut shutdown: watch::Receiver<bool>) {
    let mut state = State::Register;
    loop {
        let wait = match state {
            State::Register => {
                let m = MachineInfo::read(&cfg.data_dir);
                let registered = crate::node::register(&client, &cfg, &m).await;
                match registered {
                    Ok(node) => {
                        let status = crate::node::node_status(&cfg, &m, node.status.as_ref());
                        if let Err(e) =
                            crate::node::write_status(&client, &cfg.node_name, &status).await
                        {
                            tracing::warn!(error = %e, "node status write failed");
                        }
                        let uid = node.metadata.uid.clone();
                        if let Err(e) =
                            crate::lease::renew(&client, &cfg.node_name, uid.as_deref()).await
                        {
                            tracing::warn!(error = %e, "lease renewal failed");
                        }
                        tracing::info!(node = %cfg.node_name, "node registered");
                        state = State::Beating {
                            uid,
                            status_at: Instant::now(),
                            last: status,
                        };
                        cfg.lease_interval
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "node registration failed; retrying");
                        Duration::from_secs(2)
                    }
                }
            }
            State::Beating {
                ref uid,
                ref mut status_at,
                ref mut last,
            } => {
                if let Err(e) = crate::lease::renew(&client, &cfg.node_name, uid.as_deref()).await {
                    tracing::warn!(error = %e, "lease renewal failed");
                }
                let m = MachineInfo::read(&cfg.data_dir);
                let status = crate::node::node_status(&cfg, &m, Some(last));
                if status_at.elapsed() >= cfg.status_interval
                    || signature(&status) != signature(last)
                    || overridden(&client, &cfg.node_name, &status).await
                {
                    match crate::node::write_status(&client, &cfg.node_name, &status).await {
                        Ok(_) => {
                            *status_at = Instant::now();
                            *last = status;
                        }
                        Err(kube::Error::Api(e)) if e.code == 404 => {
                            // Someone deleted our Node: register again.
                            state = State::Register;
                            continue;
                        }
                        Err(e) => tracing::warn!(error = %e, "node status write failed"),
                    }
                }
                cfg.lease_interval
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}
