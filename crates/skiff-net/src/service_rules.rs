//! nftables rules for Services, as text for `nft -f`. The layout follows kube-proxy's
//! nftables mode: verdict maps keyed by `address . protocol . port` send new connections to
//! a per-service-port chain that picks an endpoint chain at random, which DNATs. Each
//! Service's rules are a [`ServiceRules`] value so a change is applied as a diff.

use crate::cidr::Ipv4Cidr;
use crate::service_model::{usable, Endpoint, ServicePort};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::Ipv4Addr;

/// Packet mark bit asking `postrouting` to masquerade (same bit as kube-proxy).
const MASQ_MARK: &str = "0x4000";
/// Chain that rejects connections to Services without endpoints.
const REJECT_CHAIN: &str = "reject-chain";

/// Addresses the proxy needs to know about the node and the cluster.
#[derive(Debug, Clone)]
pub struct ProxyNet {
    /// The pod network of the whole cluster (10.42.0.0/16).
    pub cluster_cidr: Ipv4Cidr,
    /// The Service ClusterIP range (10.43.0.0/16).
    pub service_cidr: Ipv4Cidr,
    /// The node's own addresses (LoadBalancer Services are served on them).
    pub node_ips: Vec<Ipv4Addr>,
}

/// The verdict maps Services are entered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Map {
    /// `ip . proto . port` of ClusterIPs, external IPs and LB addresses with endpoints.
    ServiceIps,
    /// `proto . port` of NodePorts with endpoints.
    ServiceNodePorts,
    /// Like `ServiceIps` for Services without endpoints (reject or drop).
    NoEndpointServices,
    /// Like `ServiceNodePorts` for Services without endpoints.
    NoEndpointNodePorts,
}

impl Map {
    /// The map's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Map::ServiceIps => "service-ips",
            Map::ServiceNodePorts => "service-nodeports",
            Map::NoEndpointServices => "no-endpoint-services",
            Map::NoEndpointNodePorts => "no-endpoint-nodeports",
        }
    }
}

/// Everything one Service owns in the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceRules {
    /// Chain name → its rules, in order.
    pub chains: BTreeMap<String, Vec<String>>,
    /// Session-affinity set name → timeout in seconds.
    pub sets: BTreeMap<String, u32>,
    /// (map, key) → verdict.
    pub elements: BTreeMap<(Map, String), String>,
}

/// The rules for all ports of one Service.
pub fn service_rules(ports: &[ServicePort], net: &ProxyNet) -> ServiceRules {
    let mut out = ServiceRules::default();
    for sp in ports {
        port_rules(sp, net, &mut out);
    }
    out
}

fn port_rules(sp: &ServicePort, net: &ProxyNet, out: &mut ServiceRules) {
    let proto = sp.protocol.nft();
    let id = format!("{}/{}/{}/{}", sp.namespace, sp.name, proto, sp.port);
    let service_chain = format!("service-{id}");
    let external_chain = format!("external-{id}");
    let local_chain = format!("local-{id}");
    let cidr = net.cluster_cidr;

    let all = usable(&sp.endpoints);
    let local_candidates: Vec<Endpoint> =
        sp.endpoints.iter().filter(|e| e.local).cloned().collect();
    let local = usable(&local_candidates);
    let cluster = if sp.internal_local {
        local.clone()
    } else {
        all.clone()
    };

    // ClusterIP traffic.
    if !cluster.is_empty() {
        let mut rules = vec![format!("ip saddr != {cidr} jump mark-for-masquerade")];
        rules.extend(balance(&id, proto, &cluster, sp.affinity_seconds, out));
        out.chains.insert(service_chain.clone(), rules);
    }
    for ip in &sp.cluster_ips {
        let key = format!("{ip} . {proto} . {}", sp.port);
        let entry = if !cluster.is_empty() {
            (Map::ServiceIps, format!("goto {service_chain}"))
        } else if all.is_empty() {
            (Map::NoEndpointServices, format!("goto {REJECT_CHAIN}"))
        } else {
            // internalTrafficPolicy Local without a local endpoint: drop, as upstream.
            (Map::NoEndpointServices, "drop".to_string())
        };
        out.elements.insert((entry.0, key), entry.1);
    }

    // NodePort, LoadBalancer and external IP traffic.
    if !sp.has_external() {
        return;
    }
    let mut ext_keys: Vec<(Map, Map, String)> = Vec::new();
    let node_ips: &[Ipv4Addr] = if sp.on_node_ips { &net.node_ips } else { &[] };
    for ip in sp.external_ips.iter().chain(node_ips) {
        let key = format!("{ip} . {proto} . {}", sp.port);
        ext_keys.push((Map::ServiceIps, Map::NoEndpointServices, key));
    }
    if let Some(np) = sp.node_port {
        let key = format!("{proto} . {np}");
        ext_keys.push((Map::ServiceNodePorts, Map::NoEndpointNodePorts, key));
    }
    if all.is_empty() {
        for (_, none, key) in ext_keys {
            out.elements
                .insert((none, key), format!("goto {REJECT_CHAIN}"));
        }
        return;
    }
    let mut rules = Vec::new();
    if sp.external_local {
        // Pods and the node itself may still use any endpoint; only traffic from outside
        // is kept on this node, with its source address preserved.
        if !cluster.is_empty() {
            rules.push(format!("ip saddr {cidr} goto {service_chain}"));
            rules.push("fib saddr type local jump mark-for-masquerade".to_string());
            rules.push(format!("fib saddr type local goto {service_chain}"));
        }
        rules.push(format!("goto {local_chain}"));
        let local_rules = if local.is_empty() {
            vec!["drop".to_string()]
        } else {
            balance(&id, proto, &local, sp.affinity_seconds, out)
        };
        out.chains.insert(local_chain, local_rules);
    } else {
        rules.push(format!("ip saddr != {cidr} jump mark-for-masquerade"));
        rules.extend(balance(&id, proto, &all, sp.affinity_seconds, out));
    }
    out.chains.insert(external_chain.clone(), rules);
    for (map, _, key) in ext_keys {
        out.elements
            .insert((map, key), format!("goto {external_chain}"));
    }
}

/// Rules choosing one of `eps` and DNATing to it. Without session affinity the choice and
/// the DNAT are one rule: a chain per endpoint would multiply the chains in the table, and
/// every `nft` run reads all chains, so chain count sets the cost of each small update.
/// With affinity each endpoint needs its own chain (to record the client in its set).
fn balance(
    id: &str,
    proto: &str,
    eps: &[&Endpoint],
    affinity: Option<u32>,
    out: &mut ServiceRules,
) -> Vec<String> {
    if eps.is_empty() {
        return vec!["drop".to_string()];
    }
    let Some(timeout) = affinity else {
        let ips: Vec<String> = eps.iter().map(|e| e.ip.to_string()).collect();
        // Hairpin: an endpoint may reach itself through the Service (masqueraded so the
        // reply comes back through the node).
        let mut rules = vec![format!(
            "ip saddr {{ {} }} jump mark-for-masquerade",
            ips.join(", ")
        )];
        rules.push(match eps {
            [one] => format!("meta l4proto {proto} dnat ip to {}:{}", one.ip, one.port),
            many => {
                let arms: Vec<String> = many
                    .iter()
                    .enumerate()
                    .map(|(i, e)| format!("{i} : {} . {}", e.ip, e.port))
                    .collect();
                format!(
                    "meta l4proto {proto} dnat ip addr . port to numgen random mod {} map {{ {} }}",
                    many.len(),
                    arms.join(", ")
                )
            }
        });
        return rules;
    };
    let mut rules = Vec::new();
    let mut targets = Vec::new();
    for ep in eps {
        let ep_id = format!("{id}__{}/{}", ep.ip, ep.port);
        let chain = format!("endpoint-{ep_id}");
        let set = format!("affinity-{ep_id}");
        rules.push(format!("ip saddr @{set} goto {chain}"));
        out.sets.insert(set.clone(), timeout);
        out.chains.insert(
            chain.clone(),
            vec![
                format!("ip saddr {} jump mark-for-masquerade", ep.ip),
                format!("update @{set} {{ ip saddr }}"),
                format!("meta l4proto {proto} dnat ip to {}:{}", ep.ip, ep.port),
            ],
        );
        targets.push(chain);
    }
    rules.push(match targets.as_slice() {
        [one] => format!("goto {one}"),
        many => {
            let arms: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{i} : goto {c}"))
                .collect();
            format!(
                "numgen random mod {} vmap {{ {} }}",
                many.len(),
                arms.join(", ")
            )
        }
    });
    rules
}

/// The fixed part of the table: hooks, maps, masquerading and reject chains.
pub fn base_rules(table: &str, net: &ProxyNet, out: &mut String) {
    let t = format!("inet {table}");
    let c = net.cluster_cidr;
    let s = net.service_cidr;
    let mut w = |line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    w(format!("add chain {t} mark-for-masquerade"));
    w(format!(
        "add rule {t} mark-for-masquerade meta mark set meta mark or {MASQ_MARK}"
    ));
    w(format!("add chain {t} masquerading"));
    w(format!(
        "add rule {t} masquerading meta mark & {MASQ_MARK} == 0 return"
    ));
    w(format!(
        "add rule {t} masquerading meta mark set meta mark xor {MASQ_MARK}"
    ));
    // The node's own connections keep their source port: the client's TCP timestamp offset
    // is derived from its own 4-tuple, so a port remapped at random lands on the endpoint's
    // TIME_WAIT socket of another connection with an unrelated timestamp, and PAWS drops the
    // SYN (1 s retry). Everyone else's are spread fully at random, as kube-proxy does.
    w(format!(
        "add rule {t} masquerading fib saddr type local masquerade"
    ));
    w(format!("add rule {t} masquerading masquerade fully-random"));
    for map in [Map::ServiceIps, Map::NoEndpointServices] {
        w(format!(
            "add map {t} {} {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}",
            map.name()
        ));
    }
    for map in [Map::ServiceNodePorts, Map::NoEndpointNodePorts] {
        w(format!(
            "add map {t} {} {{ type inet_proto . inet_service : verdict ; }}",
            map.name()
        ));
    }
    w(format!("add chain {t} {REJECT_CHAIN}"));
    w(format!(
        "add rule {t} {REJECT_CHAIN} meta l4proto tcp reject with tcp reset"
    ));
    w(format!("add rule {t} {REJECT_CHAIN} reject"));
    // Loopback is excluded from NodePorts as in kube-proxy (route_localnet is off).
    let nodeport_match = "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport";
    w(format!("add chain {t} services"));
    w(format!(
        "add rule {t} services ip daddr . meta l4proto . th dport vmap @service-ips"
    ));
    w(format!(
        "add rule {t} services {nodeport_match} vmap @service-nodeports"
    ));
    w(format!("add chain {t} endpoints-check"));
    w(format!(
        "add rule {t} endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services"
    ));
    w(format!(
        "add rule {t} endpoints-check {nodeport_match} vmap @no-endpoint-nodeports"
    ));
    // nft 1.0.6 accepts the `dstnat` keyword only on prerouting; it is -100.
    for (chain, hook) in [("nat-prerouting", "prerouting"), ("nat-output", "output")] {
        w(format!(
            "add chain {t} {chain} {{ type nat hook {hook} priority -100 ; policy accept ; }}"
        ));
        w(format!("add rule {t} {chain} jump services"));
    }
    w(format!(
        "add chain {t} nat-postrouting {{ type nat hook postrouting priority 100 ; policy accept ; }}"
    ));
    w(format!("add rule {t} nat-postrouting jump masquerading"));
    // Pods reaching beyond the cluster leave with the node's address.
    w(format!(
        "add rule {t} nat-postrouting ip saddr {c} ip daddr != {c} ip daddr != {s} masquerade"
    ));
    // Before DNAT (priority -100) so unanswerable Service addresses are still visible.
    for hook in ["input", "forward", "output"] {
        w(format!(
            "add chain {t} filter-{hook} {{ type filter hook {hook} priority -110 ; policy accept ; }}"
        ));
        w(format!(
            "add rule {t} filter-{hook} ct state new jump endpoints-check"
        ));
    }
}

/// A batch replacing the whole table: stale state from an earlier run goes.
pub fn full_batch<'a>(
    table: &str,
    net: &ProxyNet,
    services: impl IntoIterator<Item = &'a ServiceRules>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "add table inet {table}");
    let _ = writeln!(out, "delete table inet {table}");
    let _ = writeln!(out, "add table inet {table}");
    base_rules(table, net, &mut out);
    let empty = ServiceRules::default();
    for rules in services {
        diff_batch(table, &empty, rules, &mut out);
    }
    out
}

/// Append the statements turning `old` into `new` (one Service's rules) to `out`.
pub fn diff_batch(table: &str, old: &ServiceRules, new: &ServiceRules, out: &mut String) {
    if old == new {
        return;
    }
    let t = format!("inet {table}");
    let mut w = |line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    for ((map, key), verdict) in &old.elements {
        if new.elements.get(&(*map, key.clone())) != Some(verdict) {
            w(format!("delete element {t} {} {{ {key} }}", map.name()));
        }
    }
    // Rules name sets; when any set changes, every chain is rewritten.
    let sets_changed = old.sets != new.sets;
    let rewrite = |name: &String| sets_changed || old.chains.get(name) != new.chains.get(name);
    for name in old.chains.keys() {
        if rewrite(name) {
            w(format!("flush chain {t} {name}"));
        }
    }
    for (set, timeout) in &old.sets {
        if new.sets.get(set) != Some(timeout) {
            w(format!("delete set {t} {set}"));
        }
    }
    for (set, timeout) in &new.sets {
        if old.sets.get(set) != Some(timeout) {
            w(format!(
                "add set {t} {set} {{ type ipv4_addr ; flags dynamic,timeout ; timeout {timeout}s ; }}"
            ));
        }
    }
    for name in new.chains.keys() {
        if !old.chains.contains_key(name) {
            w(format!("add chain {t} {name}"));
        }
    }
    for (name, rules) in &new.chains {
        if rewrite(name) {
            for rule in rules {
                w(format!("add rule {t} {name} {rule}"));
            }
        }
    }
    for ((map, key), verdict) in &new.elements {
        if old.elements.get(&(*map, key.clone())) != Some(verdict) {
            w(format!(
                "add element {t} {} {{ {key} : {verdict} }}",
                map.name()
            ));
        }
    }
    for name in old.chains.keys() {
        if !new.chains.contains_key(name) {
            w(format!("delete chain {t} {name}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_model::Protocol;

    fn net() -> ProxyNet {
        ProxyNet {
            cluster_cidr: "10.42.0.0/16".parse().expect("cidr"),
            service_cidr: "10.43.0.0/16".parse().expect("cidr"),
            node_ips: vec![Ipv4Addr::new(192, 168, 1, 5)],
        }
    }

    fn ep(last: u8, local: bool, ready: bool) -> Endpoint {
        Endpoint {
            ip: Ipv4Addr::new(10, 42, 0, last),
            port: 8080,
            local,
            ready,
            serving: ready,
            terminating: false,
        }
    }

    fn port(endpoints: Vec<Endpoint>) -> ServicePort {
        ServicePort {
            namespace: "default".into(),
            name: "web".into(),
            protocol: Protocol::Tcp,
            port: 80,
            node_port: None,
            cluster_ips: vec![Ipv4Addr::new(10, 43, 0, 10)],
            external_ips: vec![],
            on_node_ips: false,
            external_local: false,
            internal_local: false,
            affinity_seconds: None,
            endpoints,
        }
    }

    const SVC: &str = "service-default/web/tcp/80";

    #[test]
    fn cluster_ip_balances_ready_endpoints() {
        let r = service_rules(
            &[port(vec![
                ep(1, true, true),
                ep(2, false, true),
                ep(3, false, false),
            ])],
            &net(),
        );
        assert_eq!(
            r.elements
                .get(&(Map::ServiceIps, "10.43.0.10 . tcp . 80".into())),
            Some(&format!("goto {SVC}"))
        );
        assert_eq!(
            r.chains[SVC],
            vec![
                "ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
                "ip saddr { 10.42.0.1, 10.42.0.2 } jump mark-for-masquerade",
                "meta l4proto tcp dnat ip addr . port to numgen random mod 2 map { 0 : 10.42.0.1 . 8080, 1 : 10.42.0.2 . 8080 }",
            ]
        );
        // One chain per Service port, none per endpoint; the unready endpoint is not used.
        assert_eq!(r.chains.len(), 1);
    }

    #[test]
    fn no_endpoints_rejects_and_itp_local_drops() {
        let mut p = port(vec![]);
        p.node_port = Some(30080);
        let r = service_rules(&[p], &net());
        assert!(r.chains.is_empty());
        assert_eq!(
            r.elements
                .get(&(Map::NoEndpointServices, "10.43.0.10 . tcp . 80".into())),
            Some(&"goto reject-chain".to_string())
        );
        assert_eq!(
            r.elements
                .get(&(Map::NoEndpointNodePorts, "tcp . 30080".into())),
            Some(&"goto reject-chain".to_string())
        );
        let mut p = port(vec![ep(2, false, true)]);
        p.internal_local = true;
        let r = service_rules(&[p], &net());
        assert_eq!(
            r.elements
                .get(&(Map::NoEndpointServices, "10.43.0.10 . tcp . 80".into())),
            Some(&"drop".to_string())
        );
    }

    #[test]
    fn terminating_endpoints_serve_when_none_is_ready() {
        let mut e = ep(4, false, false);
        e.serving = true;
        e.terminating = true;
        let r = service_rules(&[port(vec![e])], &net());
        assert_eq!(
            r.chains[SVC][2],
            "meta l4proto tcp dnat ip to 10.42.0.4:8080"
        );
    }

    #[test]
    fn load_balancer_with_local_policy() {
        let mut p = port(vec![ep(1, true, true), ep(2, false, true)]);
        p.node_port = Some(30080);
        p.external_ips = vec![Ipv4Addr::new(192, 0, 2, 1)];
        p.on_node_ips = true;
        p.external_local = true;
        let r = service_rules(&[p], &net());
        let ext = "external-default/web/tcp/80";
        for key in ["192.0.2.1 . tcp . 80", "192.168.1.5 . tcp . 80"] {
            assert_eq!(
                r.elements.get(&(Map::ServiceIps, key.into())),
                Some(&format!("goto {ext}"))
            );
        }
        assert_eq!(
            r.elements
                .get(&(Map::ServiceNodePorts, "tcp . 30080".into())),
            Some(&format!("goto {ext}"))
        );
        assert_eq!(
            r.chains[ext].last().map(String::as_str),
            Some("goto local-default/web/tcp/80")
        );
        // Only the local endpoint is reachable from outside; no SNAT for it.
        assert_eq!(
            r.chains["local-default/web/tcp/80"],
            vec![
                "ip saddr { 10.42.0.1 } jump mark-for-masquerade".to_string(),
                "meta l4proto tcp dnat ip to 10.42.0.1:8080".to_string()
            ]
        );
    }

    #[test]
    fn affinity_uses_one_set_per_endpoint() {
        let mut p = port(vec![ep(1, true, true), ep(2, true, true)]);
        p.affinity_seconds = Some(60);
        let r = service_rules(&[p], &net());
        assert_eq!(r.sets.len(), 2);
        assert_eq!(
            r.chains[SVC][1],
            "ip saddr @affinity-default/web/tcp/80__10.42.0.1/8080 goto endpoint-default/web/tcp/80__10.42.0.1/8080"
        );
        assert!(
            r.chains["endpoint-default/web/tcp/80__10.42.0.2/8080"].contains(
                &"update @affinity-default/web/tcp/80__10.42.0.2/8080 { ip saddr }".to_string()
            )
        );
    }

    #[test]
    fn diff_touches_only_what_changed() {
        let n = net();
        let mut p = port(vec![ep(1, true, true), ep(2, true, true)]);
        p.affinity_seconds = Some(60);
        let old = service_rules(&[p.clone()], &n);
        p.endpoints[1] = ep(3, true, true);
        let new = service_rules(&[p], &n);
        let mut out = String::new();
        diff_batch("skiff", &old, &old, &mut out);
        assert!(out.is_empty());
        diff_batch("skiff", &old, &new, &mut out);
        let e2 = "default/web/tcp/80__10.42.0.2/8080";
        let e3 = "default/web/tcp/80__10.42.0.3/8080";
        let lines: Vec<&str> = out.lines().collect();
        // Sets changed, so every chain is rewritten; the old endpoint's chain and set go
        // after nothing refers to them any more.
        assert_eq!(
            lines[0],
            "flush chain inet skiff endpoint-default/web/tcp/80__10.42.0.1/8080"
        );
        assert_eq!(lines[1], format!("flush chain inet skiff endpoint-{e2}"));
        assert_eq!(
            lines[2],
            "flush chain inet skiff service-default/web/tcp/80"
        );
        assert_eq!(lines[3], format!("delete set inet skiff affinity-{e2}"));
        assert_eq!(
            lines[4],
            format!("add set inet skiff affinity-{e3} {{ type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }}")
        );
        assert_eq!(lines[5], format!("add chain inet skiff endpoint-{e3}"));
        assert_eq!(
            lines.last(),
            Some(&format!("delete chain inet skiff endpoint-{e2}").as_str())
        );
        assert!(!out.contains("element"), "the map element did not change");

        // Without affinity an endpoint change rewrites one chain.
        let a = service_rules(&[port(vec![ep(1, true, true), ep(2, true, true)])], &n);
        let b = service_rules(&[port(vec![ep(1, true, true), ep(3, true, true)])], &n);
        let mut out = String::new();
        diff_batch("skiff", &a, &b, &mut out);
        assert_eq!(out.lines().count(), 4, "{out}");
        assert!(out.starts_with("flush chain inet skiff service-default/web/tcp/80\n"));
        // Removal deletes the map element before the chains it points to.
        let mut out = String::new();
        diff_batch("skiff", &b, &ServiceRules::default(), &mut out);
        assert!(
            out.starts_with("delete element inet skiff service-ips { 10.43.0.10 . tcp . 80 }\n")
        );
        assert!(out.ends_with("delete chain inet skiff service-default/web/tcp/80\n"));
    }
}
