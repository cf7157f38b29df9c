//! Cluster networking on three nodes, each its own network namespace "host" on a private
//! segment (see netlab.rs): pod addresses from each node's podCIDR, pod-to-pod traffic across
//! nodes, and nothing left behind when the pods go.

use crate::harness::{Cluster, JoinedAgent};
use crate::netlab::NetLab;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A server (host 0) and two joined agents (hosts 1 and 2), all Ready; node names in host
/// order.
fn three_nodes(lab: &NetLab, args: &[&str]) -> (Cluster, Vec<JoinedAgent>, Vec<String>) {
    let c = Cluster::start_in_host(lab.host(0), &lab.ip(0), args);
    let agents = vec![
        c.join_agent_in("n1", lab.host(1), &lab.ip(1)),
        c.join_agent_in("n2", lab.host(2), &lab.ip(2)),
    ];
    let mut names = vec![c.wait_node_ready()];
    for a in &agents {
        c.wait_for(
            "joined node ready",
            &[
                "get",
                "node",
                &a.name,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            "True",
        );
        names.push(a.name.clone());
    }
    (c, agents, names)
}

/// A busybox web server answering with its pod name on :8080, pinned to `node`.
fn web_pod(name: &str, node: &str, labels: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{{labels}}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
"#
    )
}

/// Wait until every named pod is Running with an IP; their IPs.
fn running_ips(c: &Cluster, pods: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ips: Vec<Option<String>> = pods
            .iter()
            .map(|p| {
                let r = c.kubectl(&["get", "pod", p, "-o", "json"]);
                let v: Value = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
                (v["status"]["phase"] == "Running")
                    .then(|| v["status"]["podIP"].as_str().map(String::from))
                    .flatten()
            })
            .collect();
        if ips.iter().all(Option::is_some) {
            return ips.into_iter().flatten().collect();
        }
        assert!(
            Instant::now() < deadline,
            "pods not running with IPs: {ips:?}\n{}\n{}\nserver warnings:\n{}",
            c.ok(&["get", "pods", "-o", "wide"]),
            c.ok(&["get", "events"]),
            c.log()
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("CIDR"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `wget` from inside `pod`; stdout, or None if it failed.
fn fetch(c: &Cluster, pod: &str, url: &str) -> Option<String> {
    let r = c.kubectl(&[
        "exec", pod, "--", "timeout", "5", "wget", "-q", "-O", "-", url,
    ]);
    r.ok.then(|| r.stdout.trim().to_string())
}

/// Veth interfaces Skiff made in a host (its own `eth0` is the lab's).
fn pod_veths(lab: &NetLab, host: usize) -> Vec<String> {
    let out = lab.exec(host, "ip", &["-o", "link", "show", "type", "veth"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| n.starts_with("veth"))
        .collect()
}

#[test]
fn pods_get_addresses_from_their_node_and_reach_each_other_across_nodes() {
    let lab = NetLab::new(3);
    let (c, _agents, nodes) = three_nodes(&lab, &[]);
    let mut cidrs = Vec::new();
    for n in &nodes {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut cidr = String::new();
        while cidr.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            cidr = c.ok(&["get", "node", n, "-o", "jsonpath={.spec.podCIDR}"]);
        }
        assert!(
            cidr.starts_with("10.42.") && cidr.ends_with(".0/24"),
            "{n}: {cidr:?}"
        );
        cidrs.push(cidr);
    }
    let names = ["web-0", "web-1", "web-2"];
    for (i, n) in nodes.iter().enumerate() {
        c.apply(&web_pod(names[i], n, "app: web"));
    }
    let ips = running_ips(&c, &names);
    for (i, ip) in ips.iter().enumerate() {
        let prefix = cidrs[i].trim_end_matches("0/24");
        assert!(
            ip.starts_with(prefix),
            "{} has {ip}, node CIDR {}",
            names[i],
            cidrs[i]
        );
        let pod = c.get_json(&["pod", names[i]]);
        assert_eq!(pod["status"]["podIPs"][0]["ip"], ip.as_str());
    }
    // Every pod reaches every other by IP, across nodes, both ways.
    for (i, from) in names.iter().enumerate() {
        for (j, ip) in ips.iter().enumerate() {
            if i != j {
                let got = fetch(&c, from, &format!("http://{ip}:8080/"));
                if got.as_deref() != Some(names[j]) {
                    let routes: Vec<String> = (0..3)
                        .map(|h| {
                            String::from_utf8_lossy(&lab.exec(h, "ip", &["route"]).stdout)
                                .into_owned()
                        })
                        .collect();
                    panic!(
                        "{from} → {} ({ip}): {got:?}\nroutes of the hosts: {routes:#?}",
                        names[j]
                    );
                }
            }
        }
    }
    // resolv.conf points at the cluster DNS with the namespace's search path.
    let resolv = c.ok(&["exec", "web-0", "--", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.43.0.10"), "{resolv}");
    assert!(
        resolv.contains("search default.svc.cluster.local svc.cluster.local cluster.local"),
        "{resolv}"
    );
    assert!(resolv.contains("options ndots:5"), "{resolv}");

    // hostPort: the pod's port on its node's address, from another host on the segment.
    let hp = web_pod("hp", &nodes[1], "app: hp").replace(
        "    command:",
        "    ports: [{containerPort: 8080, hostPort: 18080}]\n    command:",
    );
    c.apply(&hp);
    running_ips(&c, &["hp"]);
    let url = format!("http://{}:18080/", lab.ip(1));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = lab.exec(0, "curl", &["-sS", "-m", "3", &url]);
        if String::from_utf8_lossy(&out.stdout).trim() == "hp" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Deleting the pods removes their interfaces and frees their addresses.
    c.ok(&["delete", "pods", "--all", "--wait=true", "--timeout=60s"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while (0..3).any(|h| !pod_veths(&lab, h).is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
    }
    for h in 0..3 {
        assert_eq!(pod_veths(&lab, h), Vec::<String>::new(), "host {h}");
    }
}

/// Names of the pods answering `n` requests for `url` from `client`.
fn answers(c: &Cluster, client: &str, url: &str, n: usize) -> Vec<String> {
    let script = format!("for i in $(seq {n}); do timeout 3 wget -q -O - {url} || echo FAIL; done");
    c.ok(&["exec", client, "--", "sh", "-c", &script])
        .lines()
        .map(str::to_string)
        .collect()
}

fn sleeper(name: &str, node: &str, ns: &str, labels: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
"#
    )
}

/// A web pod whose readiness follows the file /www/ready.
fn ready_web_pod(name: &str, node: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: web}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && touch /www/ready && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      httpGet: {{path: /ready, port: 8080}}
      periodSeconds: 1
      failureThreshold: 1
"#
    )
}

const WEB_SERVICES: &str = r#"apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8081, targetPort: 8080}]
"#;

#[test]
fn services_balance_across_nodes_follow_readiness_and_answer_on_every_node() {
    let lab = NetLab::new(3);
    let (c, _agents, nodes) = three_nodes(&lab, &[]);
    let names = ["web-0", "web-1", "web-2"];
    for (i, n) in nodes.iter().enumerate() {
        c.apply(&ready_web_pod(names[i], n));
    }
    c.apply(&sleeper("client", &nodes[0], "default", "app: client"));
    c.apply(WEB_SERVICES);
    running_ips(&c, &["web-0", "web-1", "web-2", "client"]);
    c.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod",
        "-l",
        "app=web",
        "--timeout=60s",
    ]);
    c.wait_for(
        "three ready endpoints",
        &[
            "get",
            "endpoints",
            "web",
            "-o",
            "jsonpath={.subsets[*].addresses[*].targetRef.name}",
        ],
        "web-0 web-1 web-2",
    );

    // By name through the cluster DNS and the ClusterIP: every replica, on every node.
    let seen = answers(&c, "client", "http://web.default.svc.cluster.local/", 30);
    for n in names {
        assert!(seen.iter().any(|s| s == n), "{n} never answered: {seen:?}");
    }
    assert!(!seen.iter().any(|s| s == "FAIL"), "{seen:?}");

    // web-1 turns unready: once its pod says so, no request reaches it.
    c.ok(&["exec", "web-1", "--", "rm", "/www/ready"]);
    c.wait_for(
        "web-1 unready",
        &[
            "get",
            "pod",
            "web-1",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
        "False",
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut after = answers(&c, "client", "http://web/", 20);
    while after.iter().any(|s| s == "web-1") && Instant::now() < deadline {
        after = answers(&c, "client", "http://web/", 20);
    }
    assert!(
        !after.iter().any(|s| s == "web-1" || s == "FAIL"),
        "{after:?}"
    );

    // NodePort and LoadBalancer answer on every node's address, from outside the pods.
    c.wait_for(
        "load balancer addresses",
        &[
            "get",
            "service",
            "web-lb",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[*].ip}",
        ],
        &(0..3).map(|h| lab.ip(h)).collect::<Vec<_>>().join(" "),
    );
    for h in 0..3 {
        for port in ["30080", "8081"] {
            let url = format!("http://{}:{port}/", lab.ip(h));
            // From another host on the segment, and from the node itself.
            for from in [(h + 1) % 3, h] {
                let out = lab.exec(from, "curl", &["-sS", "-m", "3", &url]);
                let body = String::from_utf8_lossy(&out.stdout).trim().to_string();
                assert!(
                    ["web-0", "web-2"].contains(&body.as_str()),
                    "{url} from host {from}: {body:?} {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

#[test]
fn headless_statefulset_pods_resolve_by_name() {
    // Host 2 is on the segment but not a node.
    let lab = NetLab::new(3);
    let c = Cluster::start_in_host(lab.host(0), &lab.ip(0), &[]);
    let _agent = c.join_agent_in("n1", lab.host(1), &lab.ip(1));
    c.wait_node_ready();
    c.apply(
        r#"apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: sql, port: 3306}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sleep", "3600"]
"#,
    );
    let node = c.wait_node_ready();
    c.apply(&sleeper("client", &node, "default", "app: client"));
    let ips = running_ips(&c, &["db-0", "db-1", "client"]);
    for (i, pod) in ["db-0", "db-1"].iter().enumerate() {
        let name = format!("{pod}.db.default.svc.cluster.local");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = c.kubectl(&["exec", "client", "--", "nslookup", &name]);
            if r.ok && r.stdout.contains(&ips[i]) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} does not resolve to {}: {} {}",
                ips[i],
                r.stdout,
                r.stderr
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    // The service name returns both pods.
    let all = c.ok(&[
        "exec",
        "client",
        "--",
        "nslookup",
        "db.default.svc.cluster.local",
    ]);
    assert!(all.contains(&ips[0]) && all.contains(&ips[1]), "{all}");

    // The node IP's DNS serves nodes (hostNetwork pods) but is no open resolver: a host that
    // is not a node gets REFUSED.
    let lookup = |host: usize| {
        let out = lab.exec(
            host,
            "busybox",
            &["nslookup", "db-0.db.default.svc.cluster.local", &lab.ip(0)],
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let from_node = lookup(1);
    assert!(from_node.contains(&ips[0]), "{from_node}");
    let from_stranger = lookup(2);
    assert!(
        from_stranger.contains("REFUSED") && !from_stranger.contains(&ips[0]),
        "{from_stranger}"
    );
}

/// The NetworkPolicy documents of ../shared/fixtures/seeds/brownbear.yaml, as written.
fn brownbear_policies() -> String {
    let seed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/seeds/brownbear.yaml"),
    )
    .expect("brownbear seed");
    seed.split("\n---")
        .filter(|d| d.contains("kind: NetworkPolicy"))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// A pod in `ns` on `node` serving its name over HTTP on each of `ports`.
fn server_pod(name: &str, ns: &str, node: &str, app: &str, ports: &[u16]) -> String {
    let daemons: Vec<String> = ports
        .iter()
        .map(|p| format!("httpd -p {p} -h /www"))
        .collect();
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}, labels: {{app: {app}}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && {} && exec sleep 3600"]
"#,
        daemons.join(" && ")
    )
}

#[test]
fn brownbear_network_policies_allow_exactly_what_they_describe() {
    let lab = NetLab::new(3);
    let (c, _agents, nodes) = three_nodes(&lab, &[]);
    c.ok(&["create", "namespace", "brownbear-production"]);
    c.ok(&["create", "namespace", "database"]);
    c.ok(&["label", "namespace", "database", "name=database"]);
    c.ok(&["create", "namespace", "elsewhere"]);
    let prod = "brownbear-production";
    c.apply(&server_pod(
        "web",
        prod,
        &nodes[1],
        "brownbear-web",
        &[8080],
    ));
    c.apply(&server_pod(
        "api",
        prod,
        &nodes[2],
        "brownbear-api",
        &[8080, 9090],
    ));
    c.apply(&server_pod(
        "db",
        "database",
        &nodes[0],
        "db",
        &[3306, 5432],
    ));
    c.apply(&server_pod(
        "outsider",
        "elsewhere",
        &nodes[1],
        "outsider",
        &[8080],
    ));
    let ip_of = |ns: &str, pod: &str| {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let v = c.get_json(&["pod", "-n", ns, pod]);
            if let (Some(ip), "Running") = (
                v["status"]["podIP"].as_str(),
                v["status"]["phase"].as_str().unwrap_or_default(),
            ) {
                return ip.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "{ns}/{pod} not running\n{}\n{}",
                c.ok(&["get", "pods", "-A", "-o", "wide"]),
                c.ok(&["get", "events", "-A"])
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let web = ip_of(prod, "web");
    let api = ip_of(prod, "api");
    let db = ip_of("database", "db");
    let outsider = ip_of("elsewhere", "outsider");
    let reaches = |ns: &str, from: &str, ip: &str, port: u16| -> bool {
        let url = format!("http://{ip}:{port}/");
        c.kubectl(&[
            "exec", "-n", ns, from, "--", "timeout", "3", "wget", "-q", "-O", "-", &url,
        ])
        .ok
    };
    // Before any policy, everything is open.
    assert!(reaches(prod, "web", &api, 9090));
    assert!(reaches(prod, "api", &web, 8080));

    // The seed's policies, plus the egress the web tier needs: default-deny-all also denies
    // web's egress (upstream semantics), so web→api needs an allow on web's side too.
    c.apply(&brownbear_policies());
    c.apply(
        r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress-to-api, namespace: brownbear-production}
spec:
  podSelector: {matchLabels: {app: brownbear-web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: brownbear-api}}}]
    ports: [{protocol: TCP, port: 8080}]
"#,
    );
    let expect = |ns: &str, from: &str, ip: &str, port: u16, allowed: bool| {
        // Rules land within moments; a flow that should change is polled briefly.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = reaches(ns, from, ip, port);
            if got == allowed {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{ns}/{from} → {ip}:{port}: wanted allowed={allowed}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    // Ingress to api: only web, only 8080.
    expect(prod, "web", &api, 8080, true);
    expect(prod, "web", &api, 9090, false);
    expect("elsewhere", "outsider", &api, 8080, false);
    expect("database", "db", &api, 8080, false);
    // api's egress: the database namespace on 3306 only (and DNS).
    expect(prod, "api", &db, 3306, true);
    expect(prod, "api", &db, 5432, false);
    expect(prod, "api", &web, 8080, false);
    expect(prod, "api", &outsider, 8080, false);
    let dns = c.kubectl(&[
        "exec",
        "-n",
        prod,
        "api",
        "--",
        "nslookup",
        "kubernetes.default.svc.cluster.local",
    ]);
    assert!(
        dns.ok && dns.stdout.contains("10.43.0.1"),
        "{} {}",
        dns.stdout,
        dns.stderr
    );
    // Default deny: nothing reaches web, web reaches nothing else.
    expect("elsewhere", "outsider", &web, 8080, false);
    expect(prod, "web", &outsider, 8080, false);
    // Namespaces without policies stay open.
    expect("elsewhere", "outsider", &db, 5432, true);
    expect("database", "db", &outsider, 8080, true);

    // Removing the policies opens everything again.
    c.ok(&["delete", "networkpolicy", "--all", "-n", prod]);
    expect(prod, "web", &api, 9090, true);
    expect(prod, "api", &web, 8080, true);
}

#[test]
fn vxlan_backend_carries_pod_traffic_between_nodes() {
    let lab = NetLab::new(2);
    let args = ["--pod-network", "vxlan"];
    let c = Cluster::start_in_host(lab.host(0), &lab.ip(0), &args);
    let agent = c.join_agent_in_with("n1", lab.host(1), &lab.ip(1), &args);
    let node = c.wait_node_ready();
    c.wait_for(
        "joined node ready",
        &[
            "get",
            "node",
            &agent.name,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
        "True",
    );
    c.apply(&web_pod("a", &node, "app: a"));
    c.apply(&web_pod("b", &agent.name, "app: b"));
    let ips = running_ips(&c, &["a", "b"]);
    assert_eq!(
        fetch(&c, "a", &format!("http://{}:8080/", ips[1])).as_deref(),
        Some("b")
    );
    assert_eq!(
        fetch(&c, "b", &format!("http://{}:8080/", ips[0])).as_deref(),
        Some("a")
    );
    // The overlay, not a direct route, carries it.
    let routes = String::from_utf8_lossy(&lab.exec(0, "ip", &["route"]).stdout).into_owned();
    assert!(routes.contains("dev skiff.vxlan"), "{routes}");
}

#[test]
fn cleanup_network_removes_what_the_node_made() {
    let lab = NetLab::new(2);
    let mut c = Cluster::start_in_host(lab.host(0), &lab.ip(0), &[]);
    let _agent = c.join_agent_in("n1", lab.host(1), &lab.ip(1));
    c.wait_node_ready();
    let text = |out: std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let state = || {
        (
            text(lab.exec(0, "ip", &["-o", "link", "show"])),
            text(lab.exec(0, "nft", &["list", "tables"])),
            text(lab.exec(0, "ip", &["route", "show", "proto", "66"])),
        )
    };
    // The server's node has its bridge, its tables and a route to the other node's pods.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (links, tables, routes) = state();
        if links.contains("skiff0") && tables.contains("inet skiff") && !routes.trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node networking never came up: {links}\n{tables}\n{routes}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    c.stop("TERM");
    for _ in 0..2 {
        // Twice: a second run finds nothing left and still succeeds.
        let out = lab.exec(0, env!("CARGO_BIN_EXE_skiff"), &["cleanup-network"]);
        assert!(out.status.success(), "{}", text(out));
        let (links, tables, routes) = state();
        assert!(!links.contains("skiff0"), "{links}");
        assert!(!tables.contains("skiff"), "{tables}");
        assert!(routes.trim().is_empty(), "{routes}");
    }
}
