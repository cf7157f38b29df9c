//! When each node was last heard from, by the controller's own clock: a change of its Ready
//! condition (the agent's status heartbeat) or of its Lease's renewTime counts as contact.
//! A node silent for longer than the grace period gets its agent-owned conditions set to
//! Unknown, as upstream's node lifecycle controller does.

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The conditions the agent owns (NetworkUnavailable belongs to the network plugin).
pub const AGENT_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What was last seen of one node.
struct Probe {
    /// Ready's status and lastHeartbeatTime, as last seen.
    ready: Option<(String, Option<Timestamp>)>,
    /// The lease's renewTime, as last seen.
    renew: Option<Timestamp>,
    /// When either last changed.
    at: Instant,
}

/// Last contact per node.
#[derive(Default)]
pub struct Health {
    nodes: HashMap<String, Probe>,
}

fn ready_of(node: &Node) -> Option<(String, Option<Timestamp>)> {
    let c = node
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((
        c.status.clone(),
        c.last_heartbeat_time.as_ref().map(|t| t.0),
    ))
}

impl Health {
    /// Record what `node` and its lease (`renew`) show at `now`; true when the node has
    /// been silent for longer than `grace` (`startup_grace` while it never posted Ready).
    pub fn observe(
        &mut self,
        node: &Node,
        renew: Option<Timestamp>,
        now: Instant,
        grace: Duration,
        startup_grace: Duration,
    ) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        let ready = ready_of(node);
        let grace = if ready.is_some() {
            grace
        } else {
            startup_grace
        };
        let probe = self.nodes.entry(name).or_insert_with(|| Probe {
            ready: ready.clone(),
            renew,
            at: now,
        });
        if probe.ready != ready {
            probe.ready = ready;
            probe.at = now;
        }
        // Only a newer renewal is contact: an older one is a stale cache.
        if renew.is_some_and(|r| probe.renew.is_none_or(|p| p < r)) {
            probe.renew = renew;
            probe.at = now;
        }
        now.saturating_duration_since(probe.at) > grace
    }

    /// Forget nodes that no longer exist.
    pub fn retain(&mut self, exists: impl Fn(&str) -> bool) {
        self.nodes.retain(|name, _| exists(name));
    }

    /// Count every node as heard from at `now` (after the controller itself was cut off,
    /// nodes get a fresh grace period instead of being declared lost together).
    pub fn reset(&mut self, now: Instant) {
        for p in self.nodes.values_mut() {
            p.at = now;
        }
    }
}

/// The node's conditions with the agent-owned ones set to Unknown, or None when they all
/// are already.
pub fn unknown_conditions(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conditions: Vec<NodeCondition> = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for type_ in AGENT_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == *type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: (*type_).into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(ready: Option<(&str, &str)>) -> Node {
        let conditions = match ready {
            Some((status, beat)) => json!([
                {"type": "Ready", "status": status, "lastHeartbeatTime": beat},
                {"type": "MemoryPressure", "status": "False"},
                {"type": "NetworkUnavailable", "status": "False"}
            ]),
            None => json!([]),
        };
        serde_json::from_value(json!({
            "metadata": {"name": "n", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"conditions": conditions}
        }))
        .expect("node")
    }

    #[test]
    fn silence_counts_from_the_last_heartbeat_or_renewal() {
        let grace = Duration::from_secs(5);
        let startup = Duration::from_secs(60);
        let mut h = Health::default();
        let t0 = Instant::now();
        let n = node(Some(("True", "2025-01-01T00:00:00Z")));
        let r0: Timestamp = "2025-01-01T00:00:00Z".parse().expect("time");
        assert!(!h.observe(&n, Some(r0), t0, grace, startup));
        assert!(!h.observe(&n, Some(r0), t0 + Duration::from_secs(4), grace, startup));
        // The lease renewed at 4 s: contact.
        let r1: Timestamp = "2025-01-01T00:00:04Z".parse().expect("time");
        assert!(!h.observe(&n, Some(r1), t0 + Duration::from_secs(8), grace, startup));
        // An older renewal (a stale cache) is not contact.
        assert!(h.observe(&n, Some(r0), t0 + Duration::from_secs(14), grace, startup));
        // A new status heartbeat is.
        let n2 = node(Some(("True", "2025-01-01T00:00:15Z")));
        assert!(!h.observe(&n2, Some(r1), t0 + Duration::from_secs(15), grace, startup));
        h.reset(t0 + Duration::from_secs(30));
        assert!(!h.observe(&n2, Some(r1), t0 + Duration::from_secs(31), grace, startup));
        // A node that never posted Ready gets the startup grace period.
        let mut h = Health::default();
        let fresh = node(None);
        assert!(!h.observe(&fresh, None, t0, grace, startup));
        assert!(!h.observe(&fresh, None, t0 + Duration::from_secs(30), grace, startup));
        assert!(h.observe(&fresh, None, t0 + Duration::from_secs(61), grace, startup));
    }

    #[test]
    fn lost_nodes_report_unknown_like_upstream() {
        let now: Timestamp = "2025-01-01T00:01:00Z".parse().expect("time");
        let conds = unknown_conditions(&node(Some(("True", "2025-01-01T00:00:00Z"))), now)
            .expect("changed");
        let get = |t: &str| conds.iter().find(|c| c.type_ == t).expect("condition");
        let ready = get("Ready");
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        // The last heartbeat stays what the agent last wrote.
        assert_eq!(
            ready.last_heartbeat_time.as_ref().map(|t| t.0.to_string()),
            Some("2025-01-01T00:00:00Z".to_string())
        );
        assert_eq!(get("MemoryPressure").status, "Unknown");
        assert_eq!(
            get("DiskPressure").reason.as_deref(),
            Some("NodeStatusNeverUpdated")
        );
        assert_eq!(get("NetworkUnavailable").status, "False");
        let mut again = node(None);
        again.status = Some(k8s_openapi::api::core::v1::NodeStatus {
            conditions: Some(conds),
            ..Default::default()
        });
        assert_eq!(unknown_conditions(&again, now), None);
    }
}
