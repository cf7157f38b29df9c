//! The `kube-system/kube-dns` Service (at the cluster DNS address, as k3s names it) and
//! its endpoints pointing at this server, kept as the API server keeps `kubernetes`: the
//! Service has no selector, so this server writes the Endpoints (marked skip-mirror) and
//! the EndpointSlice itself.

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort as CorePort, EndpointSubset, Endpoints, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::PostParams;
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::watch;

/// Namespace of the DNS Service.
pub const NAMESPACE: &str = "kube-system";
/// Name of the DNS Service, its Endpoints and EndpointSlice.
pub const NAME: &str = "kube-dns";
/// How often the objects are checked (the API server's endpoint reconciler uses 10 s).
const RESYNC: Duration = Duration::from_secs(10);

/// Where cluster DNS lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsAddress {
    /// The Service's ClusterIP (`--cluster-dns`).
    pub cluster_ip: IpAddr,
    /// The node address the server listens on.
    pub node_ip: IpAddr,
    /// The port it listens on (UDP and TCP).
    pub port: u16,
}

fn labels(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    [("k8s-app", "kube-dns"), ("kubernetes.io/name", "CoreDNS")]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn meta(labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(NAME.into()),
        namespace: Some(NAMESPACE.into()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// The (name, protocol) of the two DNS ports.
const PORTS: [(&str, &str); 2] = [("dns", "UDP"), ("dns-tcp", "TCP")];

/// The kube-dns Service for `addr`.
pub fn service(addr: &DnsAddress) -> Service {
    let ip = addr.cluster_ip.to_string();
    Service {
        metadata: meta(labels(&[("kubernetes.io/cluster-service", "true")])),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some(ip.clone()),
            cluster_ips: Some(vec![ip]),
            ports: Some(service_ports(addr.port)),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn service_ports(target: u16) -> Vec<ServicePort> {
    PORTS
        .iter()
        .map(|(name, proto)| ServicePort {
            name: Some((*name).into()),
            port: 53,
            protocol: Some((*proto).into()),
            target_port: Some(IntOrString::Int(i32::from(target))),
            ..ServicePort::default()
        })
        .collect()
}

/// The kube-dns Endpoints for `addr`.
pub fn endpoints(addr: &DnsAddress) -> Endpoints {
    Endpoints {
        metadata: meta(labels(&[(
            "endpointslice.kubernetes.io/skip-mirror",
            "true",
        )])),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: addr.node_ip.to_string(),
                ..EndpointAddress::default()
            }]),
            ports: Some(
                PORTS
                    .iter()
                    .map(|(name, proto)| CorePort {
                        name: Some((*name).into()),
                        port: i32::from(addr.port),
                        protocol: Some((*proto).into()),
                        ..CorePort::default()
                    })
                    .collect(),
            ),
            not_ready_addresses: None,
        }]),
    }
}

/// The kube-dns EndpointSlice for `addr`.
pub fn endpoint_slice(addr: &DnsAddress) -> EndpointSlice {
    EndpointSlice {
        metadata: meta(labels(&[
            (crate::catalog::SERVICE_NAME_LABEL, NAME),
            ("endpointslice.kubernetes.io/managed-by", "skiff-dns"),
        ])),
        address_type: if addr.node_ip.is_ipv4() {
            "IPv4"
        } else {
            "IPv6"
        }
        .into(),
        endpoints: vec![Endpoint {
            addresses: vec![addr.node_ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            ..Endpoint::default()
        }],
        ports: Some(
            PORTS
                .iter()
                .map(|(name, proto)| EndpointPort {
                    name: Some((*name).into()),
                    port: Some(i32::from(addr.port)),
                    protocol: Some((*proto).into()),
                    ..EndpointPort::default()
                })
                .collect(),
        ),
    }
}

/// Create the Service if missing (fixing its target ports), and create or correct the
/// Endpoints and EndpointSlice.
pub async fn ensure(client: &Client, addr: &DnsAddress) -> Result<(), kube::Error> {
    let pp = PostParams::default();
    let svcs: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    let want = service(addr);
    match svcs.get_opt(NAME).await? {
        None => {
            svcs.create(&pp, &want).await?;
        }
        Some(mut have) => {
            let spec = have.spec.get_or_insert_with(ServiceSpec::default);
            let ip = spec.cluster_ip.clone().unwrap_or_default();
            if ip != addr.cluster_ip.to_string() {
                // clusterIP is immutable: a kube-dns Service made by someone else keeps its
                // address, and pods' resolv.conf (--cluster-dns) will not reach it.
                tracing::warn!(
                    have = ip,
                    want = %addr.cluster_ip,
                    "kube-system/kube-dns has another clusterIP"
                );
            }
            let ports = service_ports(addr.port);
            if !same_service_ports(spec.ports.as_deref().unwrap_or_default(), &ports) {
                spec.ports = Some(ports);
                svcs.replace(NAME, &pp, &have).await?;
            }
        }
    }
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), NAMESPACE);
    let want = endpoints(addr);
    match eps.get_opt(NAME).await? {
        None => {
            eps.create(&pp, &want).await?;
        }
        Some(have)
            if have.subsets != want.subsets || have.metadata.labels != want.metadata.labels =>
        {
            let mut next = want;
            next.metadata.resource_version = have.metadata.resource_version;
            eps.replace(NAME, &pp, &next).await?;
        }
        Some(_) => {}
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    let want = endpoint_slice(addr);
    match slices.get_opt(NAME).await? {
        None => {
            slices.create(&pp, &want).await?;
        }
        Some(have)
            if have.endpoints != want.endpoints
                || have.ports != want.ports
                || have.address_type != want.address_type =>
        {
            let mut next = want;
            next.metadata.resource_version = have.metadata.resource_version;
            slices.replace(NAME, &pp, &next).await?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn same_service_ports(have: &[ServicePort], want: &[ServicePort]) -> bool {
    have.len() == want.len()
        && have.iter().zip(want).all(|(h, w)| {
            h.name == w.name
                && h.port == w.port
                && h.protocol.as_deref().unwrap_or("TCP") == w.protocol.as_deref().unwrap_or("TCP")
                && h.target_port == w.target_port
        })
}

/// Keep the objects in place until `shutdown` turns true.
pub async fn keep(client: Client, addr: DnsAddress, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(e) = ensure(&client, &addr).await {
            tracing::warn!(error = %e, "updating kube-system/kube-dns");
        }
        tokio::select! {
            _ = tokio::time::sleep(RESYNC) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_point_at_the_node_address_and_port() {
        let addr = DnsAddress {
            cluster_ip: "10.43.0.10".parse().unwrap(),
            node_ip: "192.0.2.7".parse().unwrap(),
            port: 10053,
        };
        let svc = service(&addr);
        let spec = svc.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.43.0.10"));
        assert!(spec.selector.is_none());
        let ports = spec.ports.unwrap();
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[0].port, 53);
        assert_eq!(ports[1].protocol.as_deref(), Some("TCP"));
        assert_eq!(ports[0].target_port, Some(IntOrString::Int(10053)));
        let ep = endpoints(&addr);
        let subset = &ep.subsets.unwrap()[0];
        assert_eq!(subset.addresses.as_ref().unwrap()[0].ip, "192.0.2.7");
        assert_eq!(subset.ports.as_ref().unwrap()[0].port, 10053);
        let slice = endpoint_slice(&addr);
        assert_eq!(slice.address_type, "IPv4");
        assert_eq!(
            slice.metadata.labels.unwrap()["kubernetes.io/service-name"],
            "kube-dns"
        );
    }
}
