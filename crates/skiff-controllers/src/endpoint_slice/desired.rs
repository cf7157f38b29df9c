//! The endpoints a Service's EndpointSlices should hold (upstream's podToEndpoint and
//! getEndpointPorts): one per pod with an IPv4 address that is not finished — terminating
//! pods included — with ready / serving / terminating conditions, grouped by the ports the
//! pod resolves.

use super::pack::Group;
use crate::endpoint_pods;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use kube::ResourceExt;

/// The node label whose value becomes an endpoint's zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The conditions of a pod's endpoint: serving is the pod's readiness, terminating its
/// deletion, ready is serving and not terminating — or always, when the Service publishes
/// not-ready addresses.
pub fn conditions(pod: &Pod, publish_not_ready: bool) -> EndpointConditions {
    let serving = endpoint_pods::is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    EndpointConditions {
        ready: Some(publish_not_ready || (serving && !terminating)),
        serving: Some(serving),
        terminating: Some(terminating),
    }
}

/// The ports `pod` offers for `svc`: every Service port whose target resolves on the pod.
pub fn ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|sp| {
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(endpoint_pods::find_port(pod, sp)?),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// The desired endpoint groups of `svc` over the pods it selects; `zone_of` gives a node's
/// zone label.
pub fn desired(
    svc: &Service,
    pods: &[&Pod],
    zone_of: impl Fn(&str) -> Option<String>,
) -> Vec<Group> {
    let publish_not_ready = endpoint_pods::publishes_not_ready(svc);
    let mut sorted: Vec<&Pod> = pods.to_vec();
    sorted.sort_by_key(|p| p.name_any());
    let mut groups: Vec<Group> = Vec::new();
    for pod in sorted {
        if !endpoint_pods::eligible(pod, true) {
            continue;
        }
        let Some(ip) = endpoint_pods::ipv4(pod) else {
            continue;
        };
        let node = crate::pod_state::node(pod);
        let endpoint = Endpoint {
            addresses: vec![ip],
            conditions: Some(conditions(pod, publish_not_ready)),
            hostname: endpoint_pods::hostname(pod, svc),
            node_name: Some(node.to_string()).filter(|n| !n.is_empty()),
            zone: Some(node).filter(|n| !n.is_empty()).and_then(&zone_of),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some(pod.name_any()),
                namespace: pod.namespace(),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let ports = ports(svc, pod);
        match groups.iter_mut().find(|g| g.ports == ports) {
            Some(g) => g.endpoints.push(endpoint),
            None => groups.push(Group {
                ports,
                endpoints: vec![endpoint],
            }),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ready: bool, terminating: bool, port_name: &str) -> Pod {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": {"nodeName": "n1", "containers": [{"name": "c",
                "ports": [{"name": port_name, "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .expect("pod");
        if terminating {
            p.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ));
        }
        p
    }

    fn cond(c: &EndpointConditions) -> (bool, bool, bool) {
        (
            c.ready == Some(true),
            c.serving == Some(true),
            c.terminating == Some(true),
        )
    }

    #[test]
    fn conditions_follow_upstream() {
        assert_eq!(
            cond(&conditions(&pod("a", true, false, "x"), false)),
            (true, true, false)
        );
        assert_eq!(
            cond(&conditions(&pod("a", false, false, "x"), false)),
            (false, false, false)
        );
        assert_eq!(
            cond(&conditions(&pod("a", true, true, "x"), false)),
            (false, true, true)
        );
        assert_eq!(
            cond(&conditions(&pod("a", false, true, "x"), false)),
            (false, false, true)
        );
        assert_eq!(
            cond(&conditions(&pod("a", false, true, "x"), true)),
            (true, false, true)
        );
    }

    #[test]
    fn pods_resolving_named_ports_differently_form_separate_groups() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
        }))
        .expect("svc");
        let (a, b) = (pod("a", true, false, "http"), pod("b", true, true, "http"));
        let c = pod("c", true, false, "other");
        let groups = desired(&svc, &[&c, &b, &a], |n| {
            (n == "n1").then(|| "z1".to_string())
        });
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].endpoints.len(), 2, "a and the terminating b");
        assert_eq!(groups[0].ports[0].port, Some(8080));
        assert_eq!(groups[0].ports[0].name.as_deref(), Some("http"));
        assert_eq!(groups[0].endpoints[0].zone.as_deref(), Some("z1"));
        assert!(groups[1].ports.is_empty(), "c resolves no port");
    }
}
