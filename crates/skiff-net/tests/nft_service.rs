//! The service proxy's rules in a private node namespace, checked with real connections.

mod lab;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use lab::{Lab, NODE_IP};
use serde_json::json;
use skiff_net::{Nft, ProxyConfig, ServiceProxy};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

const TABLE: &str = "skiff-test";

fn proxy(lab: &Lab) -> ServiceProxy {
    let mut cfg = ProxyConfig::new(
        "node-a",
        vec![NODE_IP.parse::<Ipv4Addr>().expect("ip")],
        "10.42.0.0/16".parse().expect("cidr"),
    );
    cfg.table = TABLE.to_string();
    cfg.nft = Nft::in_netns(&lab.node);
    ServiceProxy::new(cfg)
}

fn service(type_: &str) -> Service {
    serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {"type": type_, "clusterIP": "10.43.0.100", "clusterIPs": ["10.43.0.100"],
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}
    }))
    .expect("service")
}

/// A slice with endpoints (last octet, ready).
fn slice(endpoints: &[(u8, bool)]) -> EndpointSlice {
    let eps: Vec<_> = endpoints
        .iter()
        .map(|(last, ready)| {
            json!({"addresses": [format!("10.42.0.{last}")], "nodeName": "node-a",
                   "conditions": {"ready": ready, "serving": ready, "terminating": false}})
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "web-1",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": eps
    }))
    .expect("slice")
}

/// The distinct bodies of `n` GETs.
fn answers(lab: &Lab, from: &str, addr: &str, n: usize) -> BTreeSet<String> {
    (0..n).map(|_| lab.get_eventually(from, addr)).collect()
}

#[tokio::test]
async fn cluster_ip_and_node_port_balance_over_ready_endpoints() {
    let mut lab = Lab::new();
    let p1 = lab.pod(11);
    let p2 = lab.pod(12);
    let client = lab.pod(13);
    lab.serve(&p1, 8080, "p1");
    lab.serve(&p2, 8080, "p2");
    // Direct access works before any rules (and waits for the servers).
    assert_eq!(lab.get_eventually(&client, "10.42.0.11:8080"), "p1");
    assert_eq!(lab.get_eventually(&client, "10.42.0.12:8080"), "p2");

    let mut px = proxy(&lab);
    px.apply_service(service("NodePort"));
    px.apply_slice(slice(&[(11, true), (12, true)]));
    px.sync().await.expect("first sync");
    let both: BTreeSet<String> = ["p1".to_string(), "p2".to_string()].into();
    assert_eq!(answers(&lab, &client, "10.43.0.100:80", 30), both);
    // NodePort from a pod (node's bridge address) and from the node itself (output hook).
    assert_eq!(answers(&lab, &client, "10.42.0.1:30080", 30), both);
    assert_eq!(
        answers(&lab, &lab.node, &format!("{NODE_IP}:30080"), 30),
        both
    );

    // p2 turns unready: an incremental sync sends everything to p1.
    px.apply_slice(slice(&[(11, true), (12, false)]));
    assert!(px.has_changes());
    px.sync().await.expect("incremental sync");
    let only_p1: BTreeSet<String> = ["p1".to_string()].into();
    assert_eq!(answers(&lab, &client, "10.43.0.100:80", 20), only_p1);
    assert_eq!(answers(&lab, &client, "10.42.0.1:30080", 10), only_p1);
    assert!(!lab.list(TABLE).contains("10.42.0.12"));

    // No ready endpoint at all: the connection is refused at once (curl error 7, not a
    // timeout: 28).
    px.apply_slice(slice(&[(11, false), (12, false)]));
    px.sync().await.expect("sync without endpoints");
    let err = lab
        .get(&client, "10.43.0.100:80")
        .expect_err("must be refused");
    assert!(err.contains("(7)"), "{err}");
    let err = lab
        .get(&lab.node, &format!("{NODE_IP}:30080"))
        .expect_err("must be refused");
    assert!(err.contains("(7)"), "{err}");

    // The Service goes away: nothing of it stays in the table.
    px.delete_service(&service("NodePort"));
    px.sync().await.expect("sync after delete");
    let table = lab.list(TABLE);
    assert!(!table.contains("default/web"), "{table}");
    assert!(!table.contains("10.43.0.100"), "{table}");
}

#[tokio::test]
async fn load_balancer_on_node_address_and_restart_replaces_table() {
    let mut lab = Lab::new();
    let p1 = lab.pod(21);
    let client = lab.pod(23);
    lab.serve(&p1, 8080, "lb");
    assert_eq!(lab.get_eventually(&client, "10.42.0.21:8080"), "lb");

    let mut px = proxy(&lab);
    px.apply_service(service("LoadBalancer"));
    px.apply_slice(slice(&[(21, true)]));
    px.sync().await.expect("sync");
    // servicelb style: the Service port on the node's own address.
    assert_eq!(lab.get_eventually(&client, &format!("{NODE_IP}:80")), "lb");

    // A new proxy (agent restart) with no Services removes the old rules on its first sync.
    let mut fresh = proxy(&lab);
    fresh.sync().await.expect("full sync");
    assert!(!lab.list(TABLE).contains("default/web"));
    assert!(lab.get(&client, &format!("{NODE_IP}:80")).is_err());

    skiff_net::cleanup(&Nft::in_netns(&lab.node), TABLE)
        .await
        .expect("cleanup");
    let tables = lab::sh(&["ip", "netns", "exec", &lab.node, "nft", "list", "tables"]);
    assert!(!tables.contains(TABLE), "{tables}");
}

#[tokio::test]
async fn client_ip_affinity_sticks_to_one_endpoint() {
    let mut lab = Lab::new();
    let p1 = lab.pod(41);
    let p2 = lab.pod(42);
    let client = lab.pod(43);
    lab.serve(&p1, 8080, "a1");
    lab.serve(&p2, 8080, "a2");
    assert_eq!(lab.get_eventually(&client, "10.42.0.41:8080"), "a1");
    assert_eq!(lab.get_eventually(&client, "10.42.0.42:8080"), "a2");

    let mut svc = service("ClusterIP");
    let spec = svc.spec.as_mut().expect("spec");
    spec.session_affinity = Some("ClientIP".to_string());
    let mut px = proxy(&lab);
    px.apply_service(svc);
    px.apply_slice(slice(&[(41, true), (42, true)]));
    px.sync().await.expect("sync");
    // Without affinity 20 requests over two endpoints hit both with near certainty.
    let seen = answers(&lab, &client, "10.43.0.100:80", 20);
    assert_eq!(seen.len(), 1, "{seen:?}");
    // The node itself is another client address: it gets some endpoint, consistently.
    let from_node = answers(&lab, &lab.node, "10.43.0.100:80", 10);
    assert_eq!(from_node.len(), 1, "{from_node:?}");
}

#[tokio::test]
async fn pod_reaches_itself_through_its_service() {
    let mut lab = Lab::new();
    let p1 = lab.pod(51);
    lab.serve(&p1, 8080, "self");
    assert_eq!(lab.get_eventually(&p1, "10.42.0.51:8080"), "self");
    lab.hairpin(51);
    let mut px = proxy(&lab);
    px.apply_service(service("ClusterIP"));
    px.apply_slice(slice(&[(51, true)]));
    px.sync().await.expect("sync");
    // Without the hairpin masquerade the reply would go pod-to-itself directly with the
    // wrong source and the connection would never complete.
    assert_eq!(lab.get_eventually(&p1, "10.43.0.100:80"), "self");
}
