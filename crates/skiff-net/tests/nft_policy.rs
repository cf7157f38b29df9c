//! NetworkPolicy rules in a private node namespace, checked with real connections.

mod lab;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use lab::{Lab, NODE_IP};
use serde_json::json;
use skiff_net::policy_rules::NamespaceLabels;
use skiff_net::{Nft, PolicyEngine, ProxyConfig, ServiceProxy};
use std::net::Ipv4Addr;

const TABLE: &str = "skiff-test";

fn cfg(lab: &Lab) -> ProxyConfig {
    let mut cfg = ProxyConfig::new(
        "node-a",
        vec![NODE_IP.parse::<Ipv4Addr>().expect("ip")],
        "10.42.0.0/16".parse().expect("cidr"),
    );
    cfg.table = TABLE.to_string();
    cfg.nft = Nft::in_netns(&lab.node);
    cfg
}

fn pod(name: &str, last: u8, labels: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": name, "labels": labels},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "busybox:1.36",
                 "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"phase": "Running", "podIP": format!("10.42.0.{last}")}
    }))
    .expect("pod")
}

fn policy(name: &str, spec: serde_json::Value) -> NetworkPolicy {
    serde_json::from_value(
        json!({"metadata": {"namespace": "default", "name": name}, "spec": spec}),
    )
    .expect("policy")
}

#[tokio::test]
async fn deny_drops_allow_passes() {
    let mut lab = Lab::new();
    let web_ns = lab.pod(31);
    let client_ns = lab.pod(32);
    let other_ns = lab.pod(33);
    lab.serve(&web_ns, 8080, "web");
    assert_eq!(lab.get_eventually(&client_ns, "10.42.0.31:8080"), "web");
    assert_eq!(lab.get_eventually(&other_ns, "10.42.0.31:8080"), "web");

    let web = pod("web", 31, json!({"app": "web"}));
    let client = pod("client", 32, json!({"role": "client"}));
    let other = pod("other", 33, json!({}));
    let pods = [&web, &client, &other];
    let ns = NamespaceLabels::new();
    // Only role=client may reach app=web, and only on its named port.
    let allow = policy(
        "web-from-clients",
        json!({"podSelector": {"matchLabels": {"app": "web"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                            "ports": [{"port": "http"}]}]}),
    );

    // The service proxy owns the table; give it a ClusterIP in front of web.
    let mut proxy = ServiceProxy::new(cfg(&lab));
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {"clusterIP": "10.43.0.80", "ports": [{"name": "http", "port": 80}]}
    }))
    .expect("service");
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [{"addresses": ["10.42.0.31"], "nodeName": "node-a", "conditions": {"ready": true}}]
    }))
    .expect("slice");
    proxy.apply_service(svc);
    proxy.apply_slice(slice);
    proxy.sync().await.expect("service sync");

    let mut engine = PolicyEngine::new(cfg(&lab));
    engine
        .sync(&pods, &ns, &[&allow])
        .await
        .expect("policy sync");
    assert_eq!(lab.get_eventually(&client_ns, "10.42.0.31:8080"), "web");
    assert_eq!(lab.get_eventually(&client_ns, "10.43.0.80:80"), "web");
    assert!(
        lab.get(&other_ns, "10.42.0.31:8080").is_err(),
        "not selected: dropped"
    );
    assert!(
        lab.get(&other_ns, "10.43.0.80:80").is_err(),
        "through the service too"
    );
    // The node itself (kubelet probes) is always allowed.
    assert_eq!(lab.get_eventually(&lab.node, "10.42.0.31:8080"), "web");

    // A pod that turns into a client gets in: only a set element changes.
    let other_as_client = pod("other", 33, json!({"role": "client"}));
    engine
        .sync(&[&web, &client, &other_as_client], &ns, &[&allow])
        .await
        .expect("policy sync");
    assert_eq!(lab.get_eventually(&other_ns, "10.42.0.31:8080"), "web");

    // Default-deny egress for the client.
    let deny_egress = policy(
        "client-no-egress",
        json!({"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"]}),
    );
    engine
        .sync(&pods, &ns, &[&allow, &deny_egress])
        .await
        .expect("policy sync");
    assert!(
        lab.get(&client_ns, "10.42.0.31:8080").is_err(),
        "egress denied"
    );

    // The service proxy restarting replaces the table; the policy engine notices and
    // programs its chains again even though its inputs did not change.
    let mut restarted = ServiceProxy::new(cfg(&lab));
    restarted.sync().await.expect("full sync");
    assert!(!lab.list(TABLE).contains("egress-default/client"));
    engine
        .sync(&pods, &ns, &[&allow, &deny_egress])
        .await
        .expect("policy sync after rebuild");
    assert!(lab.list(TABLE).contains("egress-default/client"));
    assert!(
        lab.get(&client_ns, "10.42.0.31:8080").is_err(),
        "still denied"
    );

    // Policies gone: everything flows again.
    engine.sync(&pods, &ns, &[]).await.expect("policy sync");
    assert_eq!(lab.get_eventually(&client_ns, "10.42.0.31:8080"), "web");
    assert_eq!(lab.get_eventually(&other_ns, "10.42.0.31:8080"), "web");
}
