//! The subsets of a Service's Endpoints (upstream's syncService loop plus RepackSubsets):
//! one address per eligible pod and resolvable port, ready pods in `addresses`, the rest in
//! `notReadyAddresses`, then regrouped so every subset lists the ports one set of addresses
//! offers.

use crate::endpoint_pods;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, ObjectReference, Pod, Service,
};
use kube::ResourceExt;
use std::collections::BTreeMap;

/// An address's identity: its IP and the uid of the pod behind it.
type AddrKey = (String, String);
/// A port's identity for grouping (name, port, protocol, appProtocol); `None` for the
/// port-less sentinel of a headless Service without ports.
type PortKey = Option<(String, i32, String, Option<String>)>;

/// The desired subsets of `svc`'s Endpoints, given the pods its selector matches.
pub fn desired(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let publish_not_ready = endpoint_pods::publishes_not_ready(svc);
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    // Every (address, port) pair, ready or not; repacked below.
    let mut offered: Vec<(EndpointAddress, bool, PortKey)> = Vec::new();
    for pod in pods {
        if !endpoint_pods::eligible(pod, publish_not_ready) {
            continue;
        }
        let Some(ip) = endpoint_pods::ipv4(pod) else {
            continue;
        };
        let addr = EndpointAddress {
            ip,
            hostname: endpoint_pods::hostname(pod, svc),
            node_name: Some(crate::pod_state::node(pod).to_string()).filter(|n| !n.is_empty()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some(pod.name_any()),
                namespace: pod.namespace(),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
        };
        let ready = publish_not_ready || endpoint_pods::is_ready(pod);
        if ports.is_empty() {
            // A headless Service may have no ports: its pods are still its endpoints.
            if endpoint_pods::is_headless(svc) {
                offered.push((addr, ready, None));
            }
            continue;
        }
        for sp in &ports {
            let Some(n) = endpoint_pods::find_port(pod, sp) else {
                continue;
            };
            let key = (
                sp.name.clone().unwrap_or_default(),
                n,
                sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                sp.app_protocol.clone(),
            );
            offered.push((addr.clone(), ready, Some(key)));
        }
    }
    repack(offered)
}

/// Group (address, ready, port) triples into subsets: ports offered by exactly the same
/// addresses share a subset; an address both ready and not counts as ready.
fn repack(offered: Vec<(EndpointAddress, bool, PortKey)>) -> Vec<EndpointSubset> {
    let mut addrs: BTreeMap<AddrKey, EndpointAddress> = BTreeMap::new();
    let mut by_port: BTreeMap<PortKey, BTreeMap<AddrKey, bool>> = BTreeMap::new();
    for (addr, ready, port) in offered {
        let key = (
            addr.ip.clone(),
            addr.target_ref
                .as_ref()
                .and_then(|r| r.uid.clone())
                .unwrap_or_default(),
        );
        let seen = by_port
            .entry(port)
            .or_default()
            .entry(key.clone())
            .or_insert(ready);
        *seen |= ready;
        addrs.entry(key).or_insert(addr);
    }
    let mut by_addrs: BTreeMap<Vec<(AddrKey, bool)>, Vec<PortKey>> = BTreeMap::new();
    for (port, set) in by_port {
        by_addrs
            .entry(set.into_iter().collect())
            .or_default()
            .push(port);
    }
    by_addrs
        .into_iter()
        .map(|(set, ports)| {
            let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
            for (key, is_ready) in set {
                if let Some(a) = addrs.get(&key) {
                    if is_ready {
                        ready.push(a.clone());
                    } else {
                        not_ready.push(a.clone());
                    }
                }
            }
            let ports: Vec<EndpointPort> = ports
                .into_iter()
                .flatten()
                .map(|(name, port, protocol, app_protocol)| EndpointPort {
                    name: Some(name).filter(|n| !n.is_empty()),
                    port,
                    protocol: Some(protocol),
                    app_protocol,
                })
                .collect();
            EndpointSubset {
                addresses: Some(ready).filter(|v| !v.is_empty()),
                not_ready_addresses: Some(not_ready).filter(|v| !v.is_empty()),
                ports: Some(ports).filter(|v| !v.is_empty()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(spec: serde_json::Value) -> Service {
        serde_json::from_value(
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec}),
        )
        .expect("service")
    }

    fn pod(name: &str, ip: &str, ready: bool, port_name: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"nodeName": "n1", "containers": [{"name": "c",
                "ports": [{"name": port_name, "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip,
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .expect("pod")
    }

    fn ips(v: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        v.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn ready_and_not_ready_pods_share_a_subset_per_port_set() {
        let s = svc(json!({"selector": {"app": "web"}, "ports": [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
            {"name": "raw", "port": 81, "targetPort": 9000, "protocol": "TCP"}]}));
        let (a, b) = (
            pod("a", "10.0.0.2", true, "http"),
            pod("b", "10.0.0.1", false, "http"),
        );
        // c names its port differently: it only offers the numeric port.
        let c = pod("c", "10.0.0.3", true, "web");
        let mut terminating = pod("d", "10.0.0.4", true, "http");
        terminating.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        let mut no_ip = pod("e", "", true, "http");
        no_ip.status.as_mut().expect("status").pod_ip = None;
        let subsets = desired(&s, &[&a, &b, &c, &terminating, &no_ip]);
        // Ports offered by the same addresses share a subset: http by a and b, the raw
        // port by all three.
        assert_eq!(subsets.len(), 2, "{subsets:?}");
        let port_of = |s: &EndpointSubset| s.ports.as_ref().map(|p| p[0].port);
        let both = subsets
            .iter()
            .find(|s| port_of(s) == Some(8080))
            .expect("http subset");
        assert_eq!(both.ports.as_ref().map(Vec::len), Some(1));
        assert_eq!(ips(&both.addresses), ["10.0.0.2"]);
        assert_eq!(ips(&both.not_ready_addresses), ["10.0.0.1"]);
        let raw = subsets
            .iter()
            .find(|s| port_of(s) == Some(9000))
            .expect("raw subset");
        assert_eq!(ips(&raw.addresses), ["10.0.0.2", "10.0.0.3"]);
        assert_eq!(ips(&raw.not_ready_addresses), ["10.0.0.1"]);
        let first = &both.addresses.as_ref().expect("addresses")[0];
        assert_eq!(first.node_name.as_deref(), Some("n1"));
        let r = first.target_ref.as_ref().expect("targetRef");
        assert_eq!(
            (r.kind.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("Pod"), Some("a"), Some("uid-a"))
        );
    }

    #[test]
    fn publish_not_ready_lists_everything_as_ready_and_keeps_terminating_pods() {
        let s = svc(
            json!({"selector": {"app": "web"}, "publishNotReadyAddresses": true,
            "ports": [{"port": 80, "targetPort": 8080}]}),
        );
        let b = pod("b", "10.0.0.1", false, "http");
        let mut d = pod("d", "10.0.0.4", true, "http");
        d.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        let subsets = desired(&s, &[&b, &d]);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1", "10.0.0.4"]);
        assert!(subsets[0].not_ready_addresses.is_none());
    }

    #[test]
    fn headless_services_without_ports_list_addresses_without_ports() {
        let s = svc(json!({"selector": {"app": "web"}, "clusterIP": "None"}));
        let subsets = desired(&s, &[&pod("a", "10.0.0.2", true, "http")]);
        assert_eq!(subsets.len(), 1);
        assert!(subsets[0].ports.is_none());
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.2"]);
        let not_headless = svc(json!({"selector": {"app": "web"}, "clusterIP": "10.43.0.9"}));
        assert!(desired(&not_headless, &[&pod("a", "10.0.0.2", true, "http")]).is_empty());
    }
}
