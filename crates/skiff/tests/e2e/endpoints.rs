//! Services' endpoints seen through the real kubectl: Endpoints and EndpointSlices listing
//! the pods of a Deployment on simulated nodes (which give pods IPs), mirroring of
//! user-written Endpoints of selectorless Services, node podCIDRs from the cluster CIDR,
//! and the load balancer status of LoadBalancer Services.

use crate::harness::Cluster;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Poll `check` over `kubectl get <args> -o json` (about 60 s) until it returns `Some`.
fn poll<T>(c: &Cluster, what: &str, args: &[&str], check: impl Fn(&Value) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let mut a: Vec<&str> = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let r = c.kubectl(&a);
        if r.ok {
            if let Ok(v) = serde_json::from_str::<Value>(&r.stdout) {
                if let Some(t) = check(&v) {
                    return t;
                }
                last = v;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!(
        "timed out waiting for {what}; last: {last:#}\nserver log: {}",
        c.log()
    );
}

fn items(v: &Value) -> &[Value] {
    v["items"].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn strs(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["ip"].as_str().map(str::to_string))
        .collect()
}

const WEB: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sleep", "3600"]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: web, port: 80, targetPort: http}]
"#;

#[test]
fn endpoints_slices_pod_cidrs_and_load_balancer_status_follow_the_cluster() {
    let c = Cluster::start_scheduler_only();
    let _nodes = c.simulated_nodes(2);

    // Every node gets its own /24 of the cluster CIDR.
    let cidrs = poll(&c, "node podCIDRs", &["nodes"], |v| {
        let cidrs: Vec<String> = items(v)
            .iter()
            .filter_map(|n| n["spec"]["podCIDR"].as_str().map(str::to_string))
            .collect();
        (items(v).len() == 2 && cidrs.len() == 2).then_some(cidrs)
    });
    let distinct: BTreeSet<&String> = cidrs.iter().collect();
    assert_eq!(distinct.len(), 2, "{cidrs:?}");
    let nodes = c.get_json(&["nodes"]);
    for n in items(&nodes) {
        let cidr = n["spec"]["podCIDR"].as_str().expect("podCIDR");
        assert!(
            cidr.starts_with("10.42.") && cidr.ends_with(".0/24"),
            "{cidr}"
        );
        assert_eq!(n["spec"]["podCIDRs"], serde_json::json!([cidr]));
    }

    c.apply(WEB);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let pod_ips = poll(&c, "pod IPs", &["pods", "-l", "app=web"], |v| {
        let ips: BTreeSet<String> = items(v)
            .iter()
            .filter_map(|p| p["status"]["podIP"].as_str().map(str::to_string))
            .collect();
        (ips.len() == 3).then_some(ips)
    });

    // Endpoints: one subset, the named target port resolved, every pod ready.
    let ep = poll(&c, "Endpoints of web", &["endpoints", "web"], |v| {
        (strs(&v["subsets"][0]["addresses"]) == pod_ips).then(|| v.clone())
    });
    assert_eq!(ep["subsets"].as_array().map(Vec::len), Some(1), "{ep:#}");
    assert_eq!(
        ep["subsets"][0]["ports"],
        serde_json::json!([{"name": "web", "port": 8080, "protocol": "TCP"}])
    );
    assert!(ep["subsets"][0].get("notReadyAddresses").is_none());
    let addr = &ep["subsets"][0]["addresses"][0];
    assert_eq!(addr["targetRef"]["kind"], "Pod");
    assert!(
        addr["nodeName"]
            .as_str()
            .is_some_and(|n| n.starts_with("sim-")),
        "{addr}"
    );
    assert_eq!(ep["metadata"]["labels"]["tier"], "front");
    assert!(
        ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
            .is_string()
    );
    let wide = c.ok(&["get", "endpoints", "web"]);
    assert!(wide.contains(":8080"), "{wide}");

    // EndpointSlices: one slice owned by the Service, every endpoint ready and serving.
    let slice = poll(
        &c,
        "EndpointSlice of web",
        &["endpointslices", "-l", "kubernetes.io/service-name=web"],
        |v| {
            let s = items(v).first()?;
            let ips: BTreeSet<String> = s["endpoints"]
                .as_array()?
                .iter()
                .filter_map(|e| e["addresses"][0].as_str().map(str::to_string))
                .collect();
            (items(v).len() == 1 && ips == pod_ips).then(|| s.clone())
        },
    );
    assert!(slice["metadata"]["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("web-")));
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["labels"]["tier"], "front");
    let owner = &slice["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["name"].as_str()),
        (Some("Service"), Some("web"))
    );
    assert_eq!(
        (
            owner["controller"].as_bool(),
            owner["blockOwnerDeletion"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(
        slice["ports"],
        serde_json::json!([{"name": "web", "port": 8080, "protocol": "TCP"}])
    );
    for e in slice["endpoints"].as_array().expect("endpoints") {
        assert_eq!(
            e["conditions"],
            serde_json::json!({"ready": true, "serving": true, "terminating": false})
        );
        assert_eq!(e["targetRef"]["kind"], "Pod");
        assert!(e["nodeName"]
            .as_str()
            .is_some_and(|n| n.starts_with("sim-")));
    }

    // The LoadBalancer Service shows one VIP entry per ready node, sorted.
    let mut node_ips: Vec<std::net::IpAddr> = items(&nodes)
        .iter()
        .flat_map(|n| {
            n["status"]["addresses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|a| a["type"] == "InternalIP")
        .filter_map(|a| a["address"].as_str().and_then(|s| s.parse().ok()))
        .collect();
    node_ips.sort();
    let want: Vec<Value> = node_ips
        .iter()
        .map(|ip| serde_json::json!({"ip": ip.to_string(), "ipMode": "VIP"}))
        .collect();
    assert_eq!(want.len(), 2);
    poll(&c, "load balancer ingress", &["service", "web"], |v| {
        (v["status"]["loadBalancer"]["ingress"] == Value::Array(want.clone())).then_some(())
    });

    // Scaling down shrinks both; the slice is updated in place.
    let slice_name = slice["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    c.ok(&["scale", "deployment/web", "--replicas=1"]);
    poll(&c, "one endpoint", &["endpoints", "web"], |v| {
        (strs(&v["subsets"][0]["addresses"]).len() == 1).then_some(())
    });
    poll(
        &c,
        "one slice endpoint",
        &["endpointslices", "-l", "kubernetes.io/service-name=web"],
        |v| {
            let s = items(v).first()?;
            (items(v).len() == 1 && s["endpoints"].as_array()?.len() == 1).then_some(())
        },
    );
    let after = c.get_json(&["endpointslices", "-l", "kubernetes.io/service-name=web"]);
    assert_eq!(
        items(&after)[0]["metadata"]["name"].as_str(),
        Some(slice_name.as_str())
    );

    // Away from LoadBalancer: the ingress goes.
    c.ok(&[
        "patch",
        "service",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"type":"NodePort"}}"#,
    ]);
    poll(&c, "ingress cleared", &["service", "web"], |v| {
        v["status"]["loadBalancer"]["ingress"]
            .is_null()
            .then_some(())
    });

    // Deleting the Service deletes its Endpoints (and the collector its slices).
    c.ok(&["delete", "service", "web"]);
    poll(&c, "Endpoints gone", &["endpoints"], |v| {
        items(v)
            .iter()
            .all(|e| e["metadata"]["name"] != "web")
            .then_some(())
    });
}

const EXTERNAL: &str = r#"apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext, labels: {team: a}}
subsets:
- addresses: [{ip: 192.0.2.10}]
  notReadyAddresses: [{ip: 192.0.2.11}]
  ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec:
  clusterIP: None
  selector: {app: nothing-here}
  ports: [{port: 80}]
"#;

#[test]
fn selectorless_endpoints_are_mirrored_and_headless_services_are_labelled() {
    let c = Cluster::start_scheduler_only();
    c.apply(EXTERNAL);
    let slice = poll(
        &c,
        "mirrored slice",
        &["endpointslices", "-l", "kubernetes.io/service-name=ext"],
        |v| (items(v).len() == 1).then(|| items(v)[0].clone()),
    );
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslicemirroring-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["labels"]["team"], "a");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["name"], "ext");
    assert_eq!(
        slice["ports"],
        serde_json::json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    let eps: Vec<(String, bool)> = slice["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| {
            (
                e["addresses"][0].as_str().unwrap_or_default().to_string(),
                e["conditions"]["ready"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        eps,
        [
            ("192.0.2.10".to_string(), true),
            ("192.0.2.11".to_string(), false)
        ]
    );
    // The user's Endpoints are left as written.
    let ep = c.get_json(&["endpoints", "ext"]);
    assert_eq!(
        strs(&ep["subsets"][0]["addresses"]),
        BTreeSet::from(["192.0.2.10".to_string()])
    );

    // Edits are mirrored; deleting the Endpoints removes the slices.
    c.apply(
        r#"apiVersion: v1
kind: Endpoints
metadata: {name: ext, labels: {team: a}}
subsets:
- addresses: [{ip: 192.0.2.10}, {ip: 192.0.2.12}]
  ports: [{name: http, port: 8080, protocol: TCP}]
"#,
    );
    poll(
        &c,
        "mirrored edit",
        &["endpointslices", "-l", "kubernetes.io/service-name=ext"],
        |v| {
            let e = items(v).first()?["endpoints"].as_array()?.clone();
            let ips: Vec<&str> = e
                .iter()
                .filter_map(|e| e["addresses"][0].as_str())
                .collect();
            (items(v).len() == 1 && ips == ["192.0.2.10", "192.0.2.12"]).then_some(())
        },
    );
    c.ok(&["delete", "endpoints", "ext"]);
    poll(
        &c,
        "mirrored slices gone",
        &["endpointslices", "-l", "kubernetes.io/service-name=ext"],
        |v| items(v).is_empty().then_some(()),
    );

    // A headless Service with no pods: labelled, empty Endpoints and one placeholder slice.
    let ep = poll(&c, "headless Endpoints", &["endpoints", "headless"], |v| {
        Some(v.clone())
    });
    assert_eq!(
        ep["metadata"]["labels"]["service.kubernetes.io/headless"],
        ""
    );
    assert!(ep.get("subsets").is_none(), "{ep:#}");
    let slice = poll(
        &c,
        "placeholder slice",
        &[
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=headless",
        ],
        |v| (items(v).len() == 1).then(|| items(v)[0].clone()),
    );
    assert_eq!(
        slice["metadata"]["labels"]["service.kubernetes.io/headless"],
        ""
    );
    assert!(
        slice["endpoints"].as_array().is_none_or(Vec::is_empty),
        "{slice:#}"
    );
}
