//! LoadBalancer Service status, as k3s's servicelb shows it: a Service of type
//! LoadBalancer without `spec.loadBalancerClass` gets one `status.loadBalancer.ingress`
//! entry `{ip: <InternalIP>, ipMode: VIP}` per Ready, schedulable node, sorted, kept up to
//! date as nodes come and go; the entries go when the type changes away. (The traffic
//! itself is the node proxy's.)

use crate::error::ControllerError;
use crate::informer::Informer;
use crate::work_queue::{self, ReconcileFuture};
use futures_util::future::FutureExt;
use k8s_openapi::api::core::v1::{LoadBalancerIngress, Node, Service};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The component name on metrics.
pub const COMPONENT: &str = "service-lb-controller";

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All nodes.
    pub nodes: Store<Node>,
}

/// A node's InternalIP, if it is Ready and schedulable.
fn serving_ip(node: &Node) -> Option<IpAddr> {
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        return None;
    }
    let status = node.status.as_ref()?;
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    if !ready {
        return None;
    }
    status
        .addresses
        .iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
}

/// The ingress entries for the given nodes, sorted by address.
pub fn ingress(nodes: &[&Node]) -> Vec<LoadBalancerIngress> {
    let mut ips: Vec<IpAddr> = nodes.iter().filter_map(|n| serving_ip(n)).collect();
    ips.sort();
    ips.dedup();
    ips.into_iter()
        .map(|ip| LoadBalancerIngress {
            ip: Some(ip.to_string()),
            ip_mode: Some("VIP".into()),
            ..Default::default()
        })
        .collect()
}

/// Whether this controller owns the Service's load balancer status.
fn is_ours(svc: &Service) -> bool {
    svc.spec.as_ref().is_some_and(|s| {
        s.type_.as_deref() == Some("LoadBalancer") && s.load_balancer_class.is_none()
    })
}

/// Wire the controller to the shared caches; returns its loop, to be run after the caches
/// are spawned.
pub fn register(
    client: &Client,
    nodes: &mut Informer<Node>,
    services: &mut Informer<Service>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<Service>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        nodes: nodes.store(),
    });
    {
        let q = enqueue.clone();
        services.on_event(move |svc, deleted| {
            if !deleted {
                q.push(&svc.namespace().unwrap_or_default(), &svc.name_any());
            }
        });
    }
    {
        // Heartbeats change nothing here: only a node's serving address does.
        let (q, svcs) = (enqueue.clone(), services.store());
        let seen: Mutex<HashMap<String, Option<IpAddr>>> = Mutex::new(HashMap::new());
        nodes.on_event(move |node, deleted| {
            let ip = if deleted { None } else { serving_ip(node) };
            let changed = {
                let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                let before = if deleted {
                    s.remove(&node.name_any()).flatten()
                } else {
                    s.insert(node.name_any(), ip).flatten()
                };
                before != ip
            };
            if changed {
                for svc in svcs.state().iter().filter(|s| is_ours(s)) {
                    q.push(&svc.namespace().unwrap_or_default(), &svc.name_any());
                }
            }
        });
    }
    let store = services.store();
    let mut nodes_synced = nodes.synced();
    let stop = shutdown.shared();
    async move {
        let ready = async move {
            let _ = nodes_synced.wait_for(|s| *s).await;
        };
        work_queue::drive_when_ready(COMPONENT, reconcile, ctx, store, dequeue, ready, stop).await;
        Ok(())
    }
}

fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync(svc, ctx))
}

async fn sync(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let current: Vec<LoadBalancerIngress> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.clone())
        .unwrap_or_default();
    let want = if is_ours(&svc) {
        let nodes = ctx.nodes.state();
        let refs: Vec<&Node> = nodes.iter().map(|n| n.as_ref()).collect();
        ingress(&refs)
    } else if svc
        .spec
        .as_ref()
        .is_some_and(|s| s.load_balancer_class.is_some())
    {
        // Another load balancer implementation's Service.
        return Ok(Action::await_change());
    } else {
        Vec::new()
    };
    if want == current {
        return Ok(Action::await_change());
    }
    let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    let ingress = if want.is_empty() {
        serde_json::Value::Null
    } else {
        json!(want)
    };
    let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
    Api::<Service>::namespaced(ctx.client.clone(), &ns)
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(ControllerError::api(format!(
            "updating the load balancer status of {ns}/{name}"
        )))?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(ip: &str, ready: &str, unschedulable: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": ip},
            "spec": {"unschedulable": unschedulable},
            "status": {"conditions": [{"type": "Ready", "status": ready}],
                "addresses": [{"type": "Hostname", "address": "h"}, {"type": "InternalIP", "address": ip}]}
        }))
        .expect("node")
    }

    #[test]
    fn ready_schedulable_nodes_become_sorted_vip_entries() {
        let nodes = [
            node("10.0.0.9", "True", false),
            node("10.0.0.10", "True", false),
            node("10.0.0.2", "False", false),
            node("10.0.0.3", "True", true),
        ];
        let refs: Vec<&Node> = nodes.iter().collect();
        let got: Vec<(String, String)> = ingress(&refs)
            .into_iter()
            .map(|i| (i.ip.unwrap_or_default(), i.ip_mode.unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            [
                ("10.0.0.9".to_string(), "VIP".to_string()),
                ("10.0.0.10".to_string(), "VIP".to_string())
            ]
        );
    }
}
