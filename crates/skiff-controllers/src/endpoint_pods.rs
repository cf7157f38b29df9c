//! Which pods back a Service and how they are reached, as the Endpoints and EndpointSlice
//! controllers both read it (upstream's endpointutil / podutil.FindPort): selection,
//! eligibility, the pod's IPv4 address, named target ports, the DNS hostname rule, and an
//! index of the Services each pod matched last time (a pod whose labels change must wake
//! the Service it left).

use crate::work_queue::Enqueue;
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::reflector::Store;
use kube::ResourceExt;
use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// Label on the Endpoints and EndpointSlices of a headless Service.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// Whether `svc` selects `pod` (same namespace, every selector pair present). A Service
/// without a selector selects nothing here: its endpoints are written by users.
pub fn selects(svc: &Service, pod: &Pod) -> bool {
    let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    if svc.namespace() != pod.namespace() {
        return false;
    }
    let labels = pod.metadata.labels.as_ref();
    sel.iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether the Service has a selector (the controllers manage its endpoints).
pub fn has_selector(svc: &Service) -> bool {
    svc.spec.as_ref().is_some_and(|s| s.selector.is_some())
}

/// Whether the Service is headless (`clusterIP: None`).
pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// Whether a cluster IP is set (neither empty nor `None`: upstream's IsServiceIPSet).
pub fn has_cluster_ip(svc: &Service) -> bool {
    !matches!(
        svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()),
        None | Some("") | Some("None")
    )
}

/// Whether the Service publishes not-ready addresses.
pub fn publishes_not_ready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The pod's Ready condition is True (upstream's IsPodReady).
pub fn is_ready(pod: &Pod) -> bool {
    crate::pod_state::ready_since(pod).is_some()
}

/// The pod's IPv4 address, from status.podIPs (or status.podIP).
pub fn ipv4(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.as_str())
        .chain(status.pod_ip.as_deref())
        .find(|ip| ip.parse::<Ipv4Addr>().is_ok())
        .map(str::to_string)
}

/// Whether the pod may appear in endpoints at all (upstream's ShouldPodBeInEndpoints):
/// not finished, has an address, and not terminating unless `include_terminating`.
pub fn eligible(pod: &Pod, include_terminating: bool) -> bool {
    if matches!(crate::pod_state::phase(pod), "Succeeded" | "Failed") {
        return false;
    }
    let has_ip = pod.status.as_ref().is_some_and(|s| {
        s.pod_ip.as_deref().is_some_and(|ip| !ip.is_empty())
            || s.pod_ips.as_ref().is_some_and(|ips| !ips.is_empty())
    });
    has_ip && (include_terminating || pod.metadata.deletion_timestamp.is_none())
}

/// The hostname the pod publishes under the Service: set when the pod names a hostname
/// and its subdomain is this Service (upstream's ShouldSetHostname).
pub fn hostname(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let host = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == Some(svc.name_any().as_str())
        && pod.namespace() == svc.namespace())
    .then(|| host.to_string())
}

/// The pod port a Service port reaches (upstream's FindPort): a numeric targetPort as is
/// (the port itself when unset); a named one resolved against the pod's container ports
/// (and its restartable init containers') of the same protocol, `None` when no container
/// names it.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let name = match &port.target_port {
        None => return Some(port.port),
        Some(IntOrString::Int(n)) => return Some(*n),
        Some(IntOrString::String(s)) => match s.parse::<i32>() {
            Ok(n) => return Some(n),
            Err(_) => s.as_str(),
        },
    };
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    let spec = pod.spec.as_ref()?;
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| {
            p.name.as_deref() == Some(name) && p.protocol.as_deref().unwrap_or("TCP") == protocol
        })
        .map(|p| p.container_port)
}

/// Remembers which Services each pod matched, so a pod event wakes both the Services it
/// matches now and those it matched before (its labels may have changed).
#[derive(Default)]
pub struct PodServices {
    matched: Mutex<HashMap<String, BTreeSet<String>>>,
}

impl PodServices {
    /// Enqueue every Service that matches `pod` now or matched it before.
    pub fn enqueue(
        &self,
        services: &Store<Service>,
        q: &Enqueue<Service>,
        pod: &Pod,
        deleted: bool,
    ) {
        let ns = pod.namespace().unwrap_or_default();
        let key = format!("{ns}/{}", pod.name_any());
        let now: BTreeSet<String> = services
            .state()
            .iter()
            .filter(|s| selects(s, pod))
            .map(|s| s.name_any())
            .collect();
        let before = {
            let mut m = self.matched.lock().unwrap_or_else(|p| p.into_inner());
            if deleted {
                m.remove(&key)
            } else {
                m.insert(key, now.clone())
            }
        };
        for name in now.union(&before.unwrap_or_default()) {
            q.push(&ns, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "hostname": "h", "subdomain": "web",
                "containers": [
                    {"name": "c", "ports": [
                        {"name": "http", "containerPort": 8080},
                        {"name": "dns", "containerPort": 5353, "protocol": "UDP"}]}],
                "initContainers": [
                    {"name": "side", "restartPolicy": "Always",
                     "ports": [{"name": "metrics", "containerPort": 9090}]},
                    {"name": "init", "ports": [{"name": "once", "containerPort": 1}]}]
            },
            "status": {"podIP": "10.42.0.5", "podIPs": [{"ip": "10.42.0.5"}]}
        }))
        .expect("pod")
    }

    fn port(v: serde_json::Value) -> ServicePort {
        serde_json::from_value(v).expect("port")
    }

    #[test]
    fn named_target_ports_resolve_by_name_and_protocol() {
        let p = pod();
        assert_eq!(
            find_port(&p, &port(json!({"port": 80, "targetPort": "http"}))),
            Some(8080)
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 80, "targetPort": 81}))),
            Some(81)
        );
        assert_eq!(find_port(&p, &port(json!({"port": 80}))), Some(80));
        // Wrong protocol, unknown name, or a plain init container's port: unresolved.
        assert_eq!(
            find_port(&p, &port(json!({"port": 53, "targetPort": "dns"}))),
            None
        );
        assert_eq!(
            find_port(
                &p,
                &port(json!({"port": 53, "targetPort": "dns", "protocol": "UDP"}))
            ),
            Some(5353)
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 1, "targetPort": "nope"}))),
            None
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 1, "targetPort": "once"}))),
            None
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 1, "targetPort": "metrics"}))),
            Some(9090)
        );
    }

    #[test]
    fn eligibility_and_hostname() {
        let mut p = pod();
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}}
        }))
        .expect("svc");
        assert!(selects(&svc, &p));
        assert_eq!(hostname(&p, &svc).as_deref(), Some("h"));
        assert_eq!(ipv4(&p).as_deref(), Some("10.42.0.5"));
        assert!(eligible(&p, false));
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        assert!(!eligible(&p, false));
        assert!(eligible(&p, true));
        p.status.as_mut().expect("status").phase = Some("Failed".into());
        assert!(!eligible(&p, true));
        let mut other = svc.clone();
        other.metadata.name = Some("db".into());
        assert_eq!(hostname(&p, &other), None);
        let mut bare = pod();
        bare.status = None;
        assert!(!eligible(&bare, true));
    }
}
