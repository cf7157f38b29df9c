//! A pod's /etc/resolv.conf from its dnsPolicy and dnsConfig, as the kubelet writes it:
//! ClusterFirst points at the cluster DNS with the namespace's search path and ndots:5,
//! Default copies the node's, None uses only dnsConfig.

use k8s_openapi::api::core::v1::Pod;

/// Most nameservers a resolver reads (glibc's MAXNS).
const MAX_NAMESERVERS: usize = 3;
/// Most search domains kept (the kubelet's limit since v1.28).
const MAX_SEARCH: usize = 32;

/// The node's resolver settings (or a pod's, being built).
#[derive(Debug, Default, PartialEq)]
pub struct ResolvConf {
    /// nameserver lines.
    pub nameservers: Vec<String>,
    /// search domains.
    pub search: Vec<String>,
    /// options (`name` or `name:value`).
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Parse resolv.conf text (`domain` counts as a search domain, as glibc does).
    pub fn parse(text: &str) -> ResolvConf {
        let mut r = ResolvConf::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => r.nameservers.extend(words.next().map(String::from)),
                Some("search") | Some("domain") => {
                    r.search = words.map(String::from).collect();
                }
                Some("options") => r.options.extend(words.map(String::from)),
                _ => {}
            }
        }
        r
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.search.is_empty() {
            out += &format!("search {}\n", self.search.join(" "));
        }
        for ns in &self.nameservers {
            out += &format!("nameserver {ns}\n");
        }
        if !self.options.is_empty() {
            out += &format!("options {}\n", self.options.join(" "));
        }
        out
    }
}

/// The resolv.conf of `pod` on a node whose own is `host`; `cluster_dns` None when the
/// cluster has no DNS configured (ClusterFirst then falls back to Default, as upstream).
pub fn for_pod(pod: &Pod, host: &ResolvConf, cluster_dns: Option<&str>, domain: &str) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let host_network = spec.host_network == Some(true);
    let cluster = match policy {
        "ClusterFirstWithHostNet" => true,
        "ClusterFirst" => !host_network,
        _ => false,
    };
    let mut conf = match (policy, cluster, cluster_dns) {
        ("None", _, _) => ResolvConf::default(),
        (_, true, Some(dns)) => ResolvConf {
            nameservers: vec![dns.to_string()],
            search: [
                format!("{ns}.svc.{domain}"),
                format!("svc.{domain}"),
                domain.to_string(),
            ]
            .into_iter()
            .chain(host.search.iter().cloned())
            .collect(),
            options: vec!["ndots:5".to_string()],
        },
        _ => ResolvConf {
            nameservers: host.nameservers.clone(),
            search: host.search.clone(),
            options: host.options.clone(),
        },
    };
    if let Some(extra) = spec.dns_config {
        for n in extra.nameservers.into_iter().flatten() {
            if !conf.nameservers.contains(&n) {
                conf.nameservers.push(n);
            }
        }
        for s in extra.searches.into_iter().flatten() {
            if !conf.search.contains(&s) {
                conf.search.push(s);
            }
        }
        for o in extra.options.into_iter().flatten() {
            let rendered = match &o.value {
                Some(v) => format!("{}:{v}", o.name.clone().unwrap_or_default()),
                None => o.name.clone().unwrap_or_default(),
            };
            // A pod's option replaces the same option from the base.
            let name = rendered.split(':').next().unwrap_or_default().to_string();
            conf.options
                .retain(|e| e.split(':').next().unwrap_or_default() != name);
            conf.options.push(rendered);
        }
    }
    conf.nameservers.truncate(MAX_NAMESERVERS);
    conf.search.truncate(MAX_SEARCH);
    conf.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn policies_like_the_kubelet() {
        let host =
            ResolvConf::parse("# x\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n");
        let containers = json!([{"name": "c", "image": "i"}]);
        let first = for_pod(
            &pod(json!({"containers": containers})),
            &host,
            Some("10.43.0.10"),
            "cluster.local",
        );
        assert_eq!(
            first,
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.43.0.10\noptions ndots:5\n"
        );
        // hostNetwork + ClusterFirst: the node's resolver.
        let hostnet = for_pod(
            &pod(json!({"containers": containers, "hostNetwork": true})),
            &host,
            Some("10.43.0.10"),
            "cluster.local",
        );
        assert_eq!(
            hostnet,
            "search corp.example\nnameserver 192.0.2.53\noptions edns0\n"
        );
        let with_host_net = for_pod(
            &pod(
                json!({"containers": containers, "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"}),
            ),
            &host,
            Some("10.43.0.10"),
            "cluster.local",
        );
        assert!(with_host_net.contains("nameserver 10.43.0.10"));
        // No cluster DNS configured: Default.
        assert_eq!(
            for_pod(
                &pod(json!({"containers": containers})),
                &host,
                None,
                "cluster.local"
            ),
            hostnet
        );
        // None + dnsConfig; options override by name.
        let none = for_pod(
            &pod(
                json!({"containers": containers, "dnsPolicy": "None", "dnsConfig": {
                "nameservers": ["1.2.3.4"], "searches": ["a.example"],
                "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}),
            ),
            &host,
            Some("10.43.0.10"),
            "cluster.local",
        );
        assert_eq!(
            none,
            "search a.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n"
        );
        let merged = for_pod(
            &pod(
                json!({"containers": containers, "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}),
            ),
            &host,
            Some("10.43.0.10"),
            "cluster.local",
        );
        assert!(merged.ends_with("options ndots:1\n"), "{merged}");
    }
}
