//! What the proxy needs to know about a Service port and its endpoints, read from the
//! Service and its EndpointSlices (discovery.k8s.io/v1). No I/O here.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::net::Ipv4Addr;

/// Label on an EndpointSlice naming the Service it belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Session affinity timeout when `sessionAffinityConfig` does not say (Kubernetes default).
const DEFAULT_AFFINITY_SECONDS: i32 = 10800;

/// An L4 protocol a Service port can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Parse a Kubernetes protocol name (`TCP` when absent).
    pub fn parse(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The nft keyword (`tcp`, `udp`, `sctp`).
    pub fn nft(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One backend of a Service port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Pod IP.
    pub ip: Ipv4Addr,
    /// Target port on the pod.
    pub port: u16,
    /// Whether it runs on this node.
    pub local: bool,
    /// conditions.ready.
    pub ready: bool,
    /// conditions.serving.
    pub serving: bool,
    /// conditions.terminating.
    pub terminating: bool,
}

/// One port of one Service, with everything needed to program it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// Namespace of the Service.
    pub namespace: String,
    /// Name of the Service.
    pub name: String,
    /// Protocol of the port.
    pub protocol: Protocol,
    /// The Service port.
    pub port: u16,
    /// spec.ports[].nodePort for NodePort and LoadBalancer Services.
    pub node_port: Option<u16>,
    /// spec.clusterIPs (IPv4 only).
    pub cluster_ips: Vec<Ipv4Addr>,
    /// spec.externalIPs and status.loadBalancer.ingress[].ip.
    pub external_ips: Vec<Ipv4Addr>,
    /// LoadBalancer Services are also served on the node's own addresses (k3s servicelb).
    pub on_node_ips: bool,
    /// externalTrafficPolicy: Local.
    pub external_local: bool,
    /// internalTrafficPolicy: Local.
    pub internal_local: bool,
    /// sessionAffinity ClientIP timeout in seconds.
    pub affinity_seconds: Option<u32>,
    /// Backends from all of the Service's EndpointSlices.
    pub endpoints: Vec<Endpoint>,
}

impl ServicePort {
    /// Whether traffic can arrive from outside the ClusterIP (NodePort, LB, external IPs).
    pub fn has_external(&self) -> bool {
        self.node_port.is_some() || !self.external_ips.is_empty() || self.on_node_ips
    }
}

/// Endpoints that may receive traffic: ready ones, or, when none is ready, those still
/// serving while terminating (as upstream kube-proxy).
pub fn usable(endpoints: &[Endpoint]) -> Vec<&Endpoint> {
    let ready: Vec<&Endpoint> = endpoints.iter().filter(|e| e.ready).collect();
    if !ready.is_empty() {
        return ready;
    }
    endpoints
        .iter()
        .filter(|e| e.serving && e.terminating)
        .collect()
}

/// The Service ports to program for `svc` with backends from `slices`; empty for
/// ExternalName and headless Services, which the proxy ignores.
pub fn service_ports(svc: &Service, slices: &[&EndpointSlice], node: &str) -> Vec<ServicePort> {
    let Some(spec) = &svc.spec else {
        return Vec::new();
    };
    let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
    if kind == "ExternalName" {
        return Vec::new();
    }
    let mut cluster_ips: Vec<Ipv4Addr> = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
        .filter_map(|ip| ip.parse().ok())
        .collect();
    cluster_ips.sort();
    cluster_ips.dedup();
    if cluster_ips.is_empty() {
        return Vec::new();
    }
    let mut external_ips: Vec<Ipv4Addr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let load_balancer = kind == "LoadBalancer";
    if load_balancer {
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref());
        external_ips.extend(
            ingress
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.as_deref())
                .filter_map(|ip| ip.parse::<Ipv4Addr>().ok()),
        );
    }
    external_ips.sort();
    external_ips.dedup();
    let with_node_ports = kind == "NodePort" || load_balancer;
    let external_local = spec.external_traffic_policy.as_deref() == Some("Local");
    let internal_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .unwrap_or(DEFAULT_AFFINITY_SECONDS)
            .max(1) as u32
    });
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();

    let mut out = Vec::new();
    for p in spec.ports.iter().flatten() {
        let (Some(protocol), Ok(port)) = (
            Protocol::parse(p.protocol.as_deref()),
            u16::try_from(p.port),
        ) else {
            continue;
        };
        let node_port = if with_node_ports {
            p.node_port.and_then(|n| u16::try_from(n).ok())
        } else {
            None
        };
        out.push(ServicePort {
            namespace: namespace.clone(),
            name: name.clone(),
            protocol,
            port,
            node_port,
            cluster_ips: cluster_ips.clone(),
            external_ips: external_ips.clone(),
            on_node_ips: load_balancer,
            external_local,
            internal_local,
            affinity_seconds,
            endpoints: endpoints_for(slices, p.name.as_deref().unwrap_or(""), protocol, node),
        });
    }
    out
}

/// Backends of the Service port named `port_name` across `slices`, deduplicated.
fn endpoints_for(
    slices: &[&EndpointSlice],
    port_name: &str,
    protocol: Protocol,
    node: &str,
) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let Some(port) = slice.ports.iter().flatten().find_map(|sp| {
            let same_name = sp.name.as_deref().unwrap_or("") == port_name;
            let same_proto = Protocol::parse(sp.protocol.as_deref()) == Some(protocol);
            (same_name && same_proto)
                .then_some(sp.port)
                .flatten()
                .and_then(|n| u16::try_from(n).ok())
        }) else {
            continue;
        };
        for ep in &slice.endpoints {
            let Some(ip) = ep
                .addresses
                .first()
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
            else {
                continue;
            };
            if out.iter().any(|e| e.ip == ip && e.port == port) {
                continue;
            }
            let cond = ep.conditions.as_ref();
            // Unknown readiness counts as ready (EndpointSlice API contract).
            let ready = cond.and_then(|c| c.ready).unwrap_or(true);
            out.push(Endpoint {
                ip,
                port,
                local: ep.node_name.as_deref() == Some(node),
                ready,
                serving: cond.and_then(|c| c.serving).unwrap_or(ready),
                terminating: cond.and_then(|c| c.terminating).unwrap_or(false),
            });
        }
    }
    out.sort_by_key(|e| (e.ip, e.port));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(json: serde_json::Value) -> Service {
        serde_json::from_value(json).expect("service json")
    }

    fn slice(json: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(json).expect("slice json")
    }

    #[test]
    fn reads_ports_policies_and_endpoints() {
        let s = svc(serde_json::json!({
            "metadata": {"namespace": "default", "name": "web"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"],
                     "externalTrafficPolicy": "Local", "sessionAffinity": "ClientIP",
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
                               {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
        }));
        let sl = slice(serde_json::json!({
            "metadata": {"namespace": "default", "name": "web-abc", "labels": {SERVICE_NAME_LABEL: "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.42.0.7"], "nodeName": "n1", "conditions": {"ready": true}},
                {"addresses": ["10.42.1.7"], "nodeName": "n2", "conditions": {"ready": false, "serving": true, "terminating": true}}
            ]
        }));
        let ports = service_ports(&s, &[&sl], "n1");
        assert_eq!(ports.len(), 2);
        let http = &ports[0];
        assert_eq!(http.node_port, Some(30080));
        assert_eq!(http.external_ips, vec![Ipv4Addr::new(192, 0, 2, 10)]);
        assert!(http.on_node_ips && http.external_local && !http.internal_local);
        assert_eq!(http.affinity_seconds, Some(10800));
        assert_eq!(http.endpoints.len(), 2);
        assert!(http.endpoints[0].local && !http.endpoints[1].local);
        assert_eq!(http.endpoints[0].port, 8080);
        // The UDP port has no matching slice port: no endpoints.
        assert_eq!(ports[1].protocol, Protocol::Udp);
        assert!(ports[1].endpoints.is_empty());
    }

    #[test]
    fn headless_and_external_name_are_skipped() {
        let headless = svc(serde_json::json!({
            "metadata": {"namespace": "d", "name": "h"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]}
        }));
        assert!(service_ports(&headless, &[], "n").is_empty());
        let ext = svc(serde_json::json!({
            "metadata": {"namespace": "d", "name": "e"},
            "spec": {"type": "ExternalName", "externalName": "example.com"}
        }));
        assert!(service_ports(&ext, &[], "n").is_empty());
    }

    #[test]
    fn usable_falls_back_to_serving_terminating() {
        let ep = |ready, serving, terminating| Endpoint {
            ip: Ipv4Addr::new(10, 42, 0, 1),
            port: 1,
            local: true,
            ready,
            serving,
            terminating,
        };
        assert_eq!(
            usable(&[ep(true, true, false), ep(false, true, true)]).len(),
            1
        );
        assert_eq!(
            usable(&[ep(false, true, true), ep(false, false, true)]).len(),
            1
        );
        assert!(usable(&[ep(false, false, false)]).is_empty());
    }
}
