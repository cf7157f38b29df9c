//! What a mirrored slice holds (upstream's addressToEndpoint): one endpoint per IPv4
//! address of each Endpoints subset, ready for `addresses` and not for
//! `notReadyAddresses`, grouped by the subset's ports.

use crate::endpoint_slice::pack::{endpoint_key, ports_key, Group};
use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use std::collections::HashSet;
use std::net::Ipv4Addr;

fn endpoint(a: &EndpointAddress, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![a.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..Default::default()
        }),
        hostname: a.hostname.clone().filter(|h| !h.is_empty()),
        node_name: a.node_name.clone().filter(|n| !n.is_empty()),
        target_ref: a.target_ref.clone(),
        ..Default::default()
    }
}

/// The endpoint groups mirroring `ep` (IPv6 and invalid addresses are left out).
pub fn groups(ep: &Endpoints) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for subset in ep.subsets.iter().flatten() {
        let ports: Vec<EndpointPort> = subset
            .ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let key = ports_key(&ports);
        let idx = match out.iter().position(|g| ports_key(&g.ports) == key) {
            Some(i) => i,
            None => {
                out.push(Group {
                    ports,
                    endpoints: Vec::new(),
                });
                out.len() - 1
            }
        };
        let group = &mut out[idx];
        let mut seen: HashSet<String> = group.endpoints.iter().map(endpoint_key).collect();
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|a| (a, false));
        for (a, is_ready) in ready.chain(not_ready) {
            if a.ip.parse::<Ipv4Addr>().is_err() {
                continue;
            }
            let e = endpoint(a, is_ready);
            if seen.insert(endpoint_key(&e)) {
                group.endpoints.push(e);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subsets_become_groups_with_ready_conditions() {
        let ep: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "ext", "namespace": "default"},
            "subsets": [
                {"addresses": [{"ip": "192.0.2.1"}, {"ip": "fd00::1"}],
                 "notReadyAddresses": [{"ip": "192.0.2.2", "nodeName": "n1"}],
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
                {"addresses": [{"ip": "192.0.2.3"}],
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
                {"addresses": [{"ip": "192.0.2.4"}], "ports": [{"port": 53, "protocol": "UDP"}]}
            ]
        }))
        .expect("endpoints");
        let g = groups(&ep);
        assert_eq!(g.len(), 2);
        let addrs: Vec<(&str, Option<bool>)> = g[0]
            .endpoints
            .iter()
            .map(|e| {
                (
                    e.addresses[0].as_str(),
                    e.conditions.as_ref().and_then(|c| c.ready),
                )
            })
            .collect();
        assert_eq!(
            addrs,
            [
                ("192.0.2.1", Some(true)),
                ("192.0.2.2", Some(false)),
                ("192.0.2.3", Some(true))
            ]
        );
        assert_eq!(g[0].endpoints[1].node_name.as_deref(), Some("n1"));
        assert_eq!(g[1].ports[0].protocol.as_deref(), Some("UDP"));
        assert_eq!(g[1].ports[0].name.as_deref(), Some(""));
    }
}
