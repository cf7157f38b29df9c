//! NetworkPolicy as nftables rules for the pods of one node. Each isolated pod gets an
//! `ingress-…` and/or `egress-…` chain, entered from verdict maps keyed by the pod's IP;
//! the chains `return` for allowed traffic and end in `drop`. Peers chosen by selectors
//! are named IP sets (one per policy rule peer) so pod churn only adds or deletes elements.
//! No I/O here.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// Namespace name → its labels.
pub type NamespaceLabels = HashMap<String, BTreeMap<String, String>>;

/// Everything NetworkPolicy owns in the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRules {
    /// Chain name → rules.
    pub chains: BTreeMap<String, Vec<String>>,
    /// Peer set name → member IPs.
    pub sets: BTreeMap<String, BTreeSet<Ipv4Addr>>,
    /// Isolated-for-ingress pod IP → its chain.
    pub ingress: BTreeMap<Ipv4Addr, String>,
    /// Isolated-for-egress pod IP → its chain.
    pub egress: BTreeMap<Ipv4Addr, String>,
}

/// A pod as policy sees it.
struct PodView<'a> {
    pod: &'a Pod,
    ns: &'a str,
    name: &'a str,
    ip: Ipv4Addr,
}

fn view(pod: &Pod) -> Option<PodView<'_>> {
    let spec = pod.spec.as_ref()?;
    if spec.host_network == Some(true) {
        return None;
    }
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    Some(PodView {
        pod,
        ns: pod.metadata.namespace.as_deref()?,
        name: pod.metadata.name.as_deref()?,
        ip: status.pod_ip.as_deref()?.parse().ok()?,
    })
}

/// The container port named `name` with `proto` in `pod`.
fn named_port(pod: &Pod, name: &str, proto: &str) -> Option<i32> {
    pod.spec.as_ref()?.containers.iter().find_map(|c| {
        c.ports.iter().flatten().find_map(|p| {
            let p_proto = p.protocol.as_deref().unwrap_or("TCP");
            (p.name.as_deref() == Some(name) && p_proto == proto).then_some(p.container_port)
        })
    })
}

/// nft matches for a rule's `ports` ("" = any port). Named ports resolve against
/// `targets` (the pods the traffic goes to); a port that resolves nowhere matches nothing.
fn port_matches(ports: Option<&Vec<NetworkPolicyPort>>, targets: &[&Pod]) -> Vec<String> {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return vec![String::new()];
    };
    let mut out = BTreeSet::new();
    for p in ports {
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        let l4 = match proto {
            "TCP" => "tcp",
            "UDP" => "udp",
            "SCTP" => "sctp",
            _ => continue,
        };
        match &p.port {
            None => {
                out.insert(format!("meta l4proto {l4}"));
            }
            Some(IntOrString::Int(n)) => {
                let range = match p.end_port {
                    Some(end) if end > *n => format!("{n}-{end}"),
                    _ => n.to_string(),
                };
                out.insert(format!("meta l4proto {l4} th dport {range}"));
            }
            Some(IntOrString::String(name)) => {
                for pod in targets {
                    if let Some(n) = named_port(pod, name, proto) {
                        out.insert(format!("meta l4proto {l4} th dport {n}"));
                    }
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Pods a peer's selectors choose (ipBlock peers are handled inline).
fn peer_ips(
    peer: &NetworkPolicyPeer,
    policy_ns: &str,
    pods: &[PodView<'_>],
    namespaces: &NamespaceLabels,
) -> BTreeSet<Ipv4Addr> {
    pods.iter()
        .filter(|p| match &peer.namespace_selector {
            Some(sel) => skiff_selectors::label_selector_matches(sel, namespaces.get(p.ns)),
            None => p.ns == policy_ns,
        })
        .filter(|p| {
            peer.pod_selector.as_ref().is_none_or(|sel| {
                skiff_selectors::label_selector_matches(sel, p.pod.metadata.labels.as_ref())
            })
        })
        .map(|p| p.ip)
        .collect()
}

/// The policy rules for the pods on `node`.
pub fn policy_rules(
    node: &str,
    pods: &[&Pod],
    namespaces: &NamespaceLabels,
    policies: &[&NetworkPolicy],
) -> PolicyRules {
    let views: Vec<PodView<'_>> = pods.iter().filter_map(|p| view(p)).collect();
    let all_pods: Vec<&Pod> = views.iter().map(|v| v.pod).collect();
    let mut policies: Vec<&NetworkPolicy> = policies.to_vec();
    policies.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    let mut out = PolicyRules::default();
    for pod in views
        .iter()
        .filter(|v| v.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
    {
        let mut ingress: Vec<String> = Vec::new();
        let mut egress: Vec<String> = Vec::new();
        let (mut in_isolated, mut out_isolated) = (false, false);
        for pol in &policies {
            let pns = pol.metadata.namespace.as_deref().unwrap_or("");
            let pname = pol.metadata.name.as_deref().unwrap_or("");
            let Some(spec) = pol.spec.as_ref() else {
                continue;
            };
            if pns != pod.ns
                || !skiff_selectors::label_selector_matches(
                    &spec.pod_selector.clone().unwrap_or_default(),
                    pod.pod.metadata.labels.as_ref(),
                )
            {
                continue;
            }
            let has_egress = spec.egress.as_ref().is_some_and(|e| !e.is_empty());
            let types: Vec<String> = spec.policy_types.clone().unwrap_or_else(|| {
                let mut t = vec!["Ingress".to_string()];
                if has_egress {
                    t.push("Egress".to_string());
                }
                t
            });
            if types.iter().any(|t| t == "Ingress") {
                in_isolated = true;
                for (i, rule) in spec.ingress.iter().flatten().enumerate() {
                    let ports = port_matches(rule.ports.as_ref(), &[pod.pod]);
                    let id = format!("{pns}/{pname}/in/{i}");
                    let peers = peer_matches(
                        "saddr",
                        &id,
                        rule.from.as_ref(),
                        pns,
                        &views,
                        namespaces,
                        &mut out,
                    );
                    combine(&peers, &ports, &mut ingress);
                }
            }
            if types.iter().any(|t| t == "Egress") {
                out_isolated = true;
                for (i, rule) in spec.egress.iter().flatten().enumerate() {
                    let ports = port_matches(rule.ports.as_ref(), &all_pods);
                    let id = format!("{pns}/{pname}/out/{i}");
                    let peers = peer_matches(
                        "daddr",
                        &id,
                        rule.to.as_ref(),
                        pns,
                        &views,
                        namespaces,
                        &mut out,
                    );
                    combine(&peers, &ports, &mut egress);
                }
            }
        }
        for (isolated, mut rules, dir, map) in [
            (in_isolated, ingress, "ingress", &mut out.ingress),
            (out_isolated, egress, "egress", &mut out.egress),
        ] {
            if !isolated {
                continue;
            }
            let chain = format!("{dir}-{}/{}", pod.ns, pod.name);
            rules.dedup();
            rules.push("drop".to_string());
            map.insert(pod.ip, format!("jump {chain}"));
            out.chains.insert(chain, rules);
        }
    }
    out
}

/// nft matches for a rule's peers ("" = anyone); selector peers become named sets.
fn peer_matches(
    dir: &str,
    id: &str,
    peers: Option<&Vec<NetworkPolicyPeer>>,
    policy_ns: &str,
    pods: &[PodView<'_>],
    namespaces: &NamespaceLabels,
    out: &mut PolicyRules,
) -> Vec<String> {
    let Some(peers) = peers.filter(|p| !p.is_empty()) else {
        return vec![String::new()];
    };
    let mut matches = Vec::new();
    for (j, peer) in peers.iter().enumerate() {
        if let Some(block) = &peer.ip_block {
            let mut m = format!("ip {dir} {}", block.cidr);
            let except = block.except.as_deref().unwrap_or_default();
            if !except.is_empty() {
                let _ = write!(m, " ip {dir} != {{ {} }}", except.join(", "));
            }
            matches.push(m);
        } else {
            let set = format!("peers-{id}/{j}");
            if !out.sets.contains_key(&set) {
                out.sets
                    .insert(set.clone(), peer_ips(peer, policy_ns, pods, namespaces));
            }
            matches.push(format!("ip {dir} @{set}"));
        }
    }
    matches
}

fn combine(peers: &[String], ports: &[String], rules: &mut Vec<String>) {
    for peer in peers {
        for port in ports {
            let m = [peer.as_str(), port.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            rules.push(if m.is_empty() {
                "return".to_string()
            } else {
                format!("{m} return")
            });
        }
    }
}

/// Statements creating the policy maps and hooks idempotently (the service proxy may
/// already have created the table, or may have deleted it).
pub fn base_batch(table: &str) -> String {
    let t = format!("inet {table}");
    let mut out = String::new();
    let mut w = |line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    w(format!("add table {t}"));
    for map in ["policy-ingress", "policy-egress"] {
        w(format!(
            "add map {t} {map} {{ type ipv4_addr : verdict ; }}"
        ));
        w(format!("flush map {t} {map}"));
    }
    for (chain, hook, rules) in [
        (
            "policy-forward",
            "forward",
            // Policies apply to new flows; the node itself may always reach its pods.
            &[
                "ct state established,related accept",
                "fib saddr type local accept",
                "ip daddr vmap @policy-ingress",
                "ip saddr vmap @policy-egress",
            ][..],
        ),
        (
            "policy-input",
            "input",
            &[
                "ct state established,related accept",
                "ip saddr vmap @policy-egress",
            ][..],
        ),
    ] {
        w(format!(
            "add chain {t} {chain} {{ type filter hook {hook} priority 0 ; policy accept ; }}"
        ));
        w(format!("flush chain {t} {chain}"));
        for r in rules {
            w(format!("add rule {t} {chain} {r}"));
        }
    }
    out
}

fn ips(set: impl IntoIterator<Item = Ipv4Addr>) -> String {
    set.into_iter()
        .map(|ip| ip.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statements turning `old` into `new`; with `old` empty and `full`, every object is
/// also flushed first so leftovers of an earlier run cannot collide.
pub fn diff_batch(table: &str, old: &PolicyRules, new: &PolicyRules, full: bool) -> String {
    let t = format!("inet {table}");
    let mut out = if full {
        base_batch(table)
    } else {
        String::new()
    };
    let mut w = |line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    for (map, o, n) in [
        ("policy-ingress", &old.ingress, &new.ingress),
        ("policy-egress", &old.egress, &new.egress),
    ] {
        for (ip, v) in o {
            if n.get(ip) != Some(v) {
                w(format!("delete element {t} {map} {{ {ip} }}"));
            }
        }
    }
    let changed = |name: &String| old.chains.get(name) != new.chains.get(name);
    for name in old.chains.keys().filter(|n| changed(n)) {
        w(format!("flush chain {t} {name}"));
    }
    for (set, members) in &new.sets {
        match old.sets.get(set) {
            Some(before) => {
                let gone: Vec<Ipv4Addr> = before.difference(members).copied().collect();
                if !gone.is_empty() {
                    w(format!("delete element {t} {set} {{ {} }}", ips(gone)));
                }
                let added: Vec<Ipv4Addr> = members.difference(before).copied().collect();
                if !added.is_empty() {
                    w(format!("add element {t} {set} {{ {} }}", ips(added)));
                }
            }
            None => {
                w(format!("add set {t} {set} {{ type ipv4_addr ; }}"));
                if full {
                    w(format!("flush set {t} {set}"));
                }
                if !members.is_empty() {
                    w(format!(
                        "add element {t} {set} {{ {} }}",
                        ips(members.iter().copied())
                    ));
                }
            }
        }
    }
    for (name, rules) in &new.chains {
        if !old.chains.contains_key(name) {
            w(format!("add chain {t} {name}"));
            if full {
                w(format!("flush chain {t} {name}"));
            }
        }
        if changed(name) {
            for r in rules {
                w(format!("add rule {t} {name} {r}"));
            }
        }
    }
    for (map, o, n) in [
        ("policy-ingress", &old.ingress, &new.ingress),
        ("policy-egress", &old.egress, &new.egress),
    ] {
        for (ip, v) in n {
            if o.get(ip) != Some(v) {
                w(format!("add element {t} {map} {{ {ip} : {v} }}"));
            }
        }
    }
    for name in old.chains.keys().filter(|n| !new.chains.contains_key(*n)) {
        w(format!("delete chain {t} {name}"));
    }
    for set in old.sets.keys().filter(|s| !new.sets.contains_key(*s)) {
        w(format!("delete set {t} {set}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ip: &str, node: &str, labels: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"namespace": "default", "name": name, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i",
                     "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip}
        }))
        .expect("pod")
    }

    fn policy(spec: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(
            json!({"metadata": {"namespace": "default", "name": "np"}, "spec": spec}),
        )
        .expect("policy")
    }

    #[test]
    fn ingress_with_selector_named_port_and_ip_block() {
        let web = pod("web", "10.42.0.11", "n1", json!({"app": "web"}));
        let client = pod("client", "10.42.1.12", "n2", json!({"role": "client"}));
        let other = pod("other", "10.42.0.13", "n1", json!({}));
        let np = policy(json!({
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                 "ports": [{"port": "http"}, {"port": 9000, "endPort": 9010, "protocol": "UDP"}]},
                {"from": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}]}
            ]
        }));
        let r = policy_rules(
            "n1",
            &[&web, &client, &other],
            &NamespaceLabels::new(),
            &[&np],
        );
        let chain = "ingress-default/web";
        assert_eq!(
            r.chains[chain],
            vec![
                "ip saddr @peers-default/np/in/0/0 meta l4proto tcp th dport 8080 return",
                "ip saddr @peers-default/np/in/0/0 meta l4proto udp th dport 9000-9010 return",
                "ip saddr 192.168.0.0/16 ip saddr != { 192.168.1.0/24 } return",
                "drop",
            ]
        );
        assert_eq!(
            r.sets["peers-default/np/in/0/0"],
            BTreeSet::from([Ipv4Addr::new(10, 42, 1, 12)])
        );
        assert_eq!(
            r.ingress.len(),
            1,
            "only the selected local pod is isolated"
        );
        assert!(r.egress.is_empty(), "no Egress in the default policyTypes");
    }

    #[test]
    fn deny_all_and_namespace_selector() {
        let web = pod("web", "10.42.0.11", "n1", json!({"app": "web"}));
        let deny = policy(json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}));
        let r = policy_rules("n1", &[&web], &NamespaceLabels::new(), &[&deny]);
        assert_eq!(r.chains["ingress-default/web"], vec!["drop"]);
        assert_eq!(r.chains["egress-default/web"], vec!["drop"]);

        let mut ns = NamespaceLabels::new();
        ns.insert(
            "default".into(),
            BTreeMap::from([("team".into(), "a".into())]),
        );
        let allow = policy(
            json!({"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}],
                                  "policyTypes": ["Egress"]}),
        );
        let r = policy_rules("n1", &[&web], &ns, &[&allow]);
        assert_eq!(
            r.chains["egress-default/web"][0],
            "ip daddr @peers-default/np/out/0/0 return"
        );
        assert_eq!(r.sets["peers-default/np/out/0/0"].len(), 1);
    }

    #[test]
    fn diff_updates_set_members_only() {
        let web = pod("web", "10.42.0.11", "n1", json!({"app": "web"}));
        let c1 = pod("c1", "10.42.0.21", "n1", json!({"role": "client"}));
        let c2 = pod("c2", "10.42.0.22", "n1", json!({"role": "client"}));
        let np = policy(json!({"podSelector": {"matchLabels": {"app": "web"}},
                               "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]}));
        let ns = NamespaceLabels::new();
        let old = policy_rules("n1", &[&web, &c1], &ns, &[&np]);
        let new = policy_rules("n1", &[&web, &c1, &c2], &ns, &[&np]);
        assert_eq!(
            diff_batch("skiff", &old, &new, false),
            "add element inet skiff peers-default/np/in/0/0 { 10.42.0.22 }\n"
        );
        let gone = diff_batch("skiff", &new, &PolicyRules::default(), false);
        assert!(gone.starts_with("delete element inet skiff policy-ingress { 10.42.0.11 }\n"));
        assert!(gone.ends_with("delete set inet skiff peers-default/np/in/0/0\n"));
    }
}
