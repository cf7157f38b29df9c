//! Cluster DNS in `skiff server`: the kube-dns Service and Endpoints, records for Services
//! and EndpointSlices made with kubectl, answered over UDP and TCP on the node address
//! (127.0.0.1 for a loopback server), other names relayed to a fake upstream on 127.0.0.1.

use crate::harness::Cluster;
use skiff_dns::wire::{rcode, rtype, Message, Name, RData, Record};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const UPSTREAM_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);

/// A resolver on 127.0.0.1 that answers every question with [`UPSTREAM_IP`]; stops on drop.
struct FakeUpstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl FakeUpstream {
    fn start() -> FakeUpstream {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind fake upstream");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let addr = sock.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::SeqCst) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(q) = Message::decode(&buf[..n]) else {
                    continue;
                };
                let mut r = q.response(rcode::NOERROR);
                if let Some(question) = q.questions.first() {
                    r.answers.push(Record::new(
                        question.name.clone(),
                        30,
                        RData::A(UPSTREAM_IP),
                    ));
                }
                let _ = sock.send_to(&r.encode(), peer);
            }
        });
        FakeUpstream { addr, stop }
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn query(name: &str, qtype: u16) -> Message {
    Message::query(0x5151, Name::parse(name).expect("name"), qtype)
}

fn udp(server: SocketAddr, name: &str, qtype: u16) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    sock.send_to(&query(name, qtype).encode(), server)
        .expect("send");
    let mut buf = [0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).expect("DNS answer over UDP");
    Message::decode(&buf[..n]).expect("decodable answer")
}

fn tcp(server: SocketAddr, name: &str, qtype: u16) -> Message {
    let mut conn = TcpStream::connect(server).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let q = query(name, qtype).encode();
    let mut frame = (q.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&q);
    conn.write_all(&frame).expect("write");
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).expect("length");
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut buf).expect("DNS answer over TCP");
    Message::decode(&buf).expect("decodable answer")
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match r.data {
            RData::A(ip) => Some(ip.to_string()),
            _ => None,
        })
        .collect()
}

/// Poll `ask` (about 15 s: the server learns objects through watches) until `done`.
fn eventually(what: &str, ask: impl Fn() -> Message, done: impl Fn(&Message) -> bool) -> Message {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = ask();
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: last answer {m:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: None
  ports: [{name: mysql, port: 3306}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: default
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
ports: [{name: mysql, port: 3306, protocol: TCP}]
endpoints:
- addresses: ["10.42.0.5"]
  hostname: db-0
  conditions: {ready: true}
- addresses: ["10.42.0.6"]
  hostname: db-1
  conditions: {ready: false}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: db.example.com}
"#;

#[test]
fn cluster_dns_serves_services_over_udp_and_tcp() {
    let upstream = FakeUpstream::start();
    let up = upstream.addr.to_string();
    let c = Cluster::start_api_with_args(&["--dns-port", "0", "--dns-upstream", &up]);

    // The kube-dns Service at the cluster DNS address, its endpoints at this server.
    c.wait_for(
        "kube-dns endpoints",
        &[
            "get",
            "endpoints",
            "-n",
            "kube-system",
            "kube-dns",
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}",
        ],
        "127.0.0.1",
    );
    let svc = c.get_json(&["service", "-n", "kube-system", "kube-dns"]);
    assert_eq!(svc["spec"]["clusterIP"], "10.43.0.10");
    assert_eq!(svc["metadata"]["labels"]["k8s-app"], "kube-dns");
    assert_eq!(svc["spec"]["ports"][0]["port"], 53);
    let port: u16 = c
        .ok(&[
            "get",
            "endpoints",
            "-n",
            "kube-system",
            "kube-dns",
            "-o",
            "jsonpath={.subsets[0].ports[0].port}",
        ])
        .parse()
        .expect("dns port");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], port);
    let slice = c.get_json(&["endpointslice", "-n", "kube-system", "kube-dns"]);
    assert_eq!(slice["endpoints"][0]["addresses"][0], "127.0.0.1");
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, port));

    // The DNS Service itself resolves.
    let own = eventually(
        "kube-dns A",
        || udp(server, "kube-dns.kube-system.svc.cluster.local", rtype::A),
        |m| !m.answers.is_empty(),
    );
    assert_eq!(addresses(&own), ["10.43.0.10"]);
    assert!(own.header.aa);

    c.apply(OBJECTS);
    let web_ip = c.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    let web = eventually(
        "web A",
        || udp(server, "web.default.svc.cluster.local", rtype::A),
        |m| !m.answers.is_empty(),
    );
    assert_eq!(addresses(&web), std::slice::from_ref(&web_ip));
    assert_eq!(web.answers[0].ttl, 5);
    assert_eq!(
        addresses(&tcp(server, "web.default.svc.cluster.local", rtype::A)),
        [web_ip]
    );

    // Headless: only the ready endpoint; names by hostname; SRV per endpoint.
    let db = eventually(
        "db A",
        || udp(server, "db.default.svc.cluster.local", rtype::A),
        |m| !m.answers.is_empty(),
    );
    assert_eq!(addresses(&db), ["10.42.0.5"]);
    assert_eq!(
        addresses(&udp(server, "db-0.db.default.svc.cluster.local", rtype::A)),
        ["10.42.0.5"]
    );
    let srv = tcp(
        server,
        "_mysql._tcp.db.default.svc.cluster.local",
        rtype::SRV,
    );
    assert_eq!(srv.answers.len(), 1, "{srv:?}");
    match &srv.answers[0].data {
        RData::Srv { port, target, .. } => {
            assert_eq!(*port, 3306);
            assert_eq!(target.to_string(), "db-0.db.default.svc.cluster.local.");
        }
        other => panic!("not SRV: {other:?}"),
    }

    // Missing names: NXDOMAIN with the zone's SOA; existing name, other type: NODATA.
    let nx = udp(server, "nope.default.svc.cluster.local", rtype::A);
    assert_eq!(nx.header.rcode, rcode::NXDOMAIN);
    assert_eq!(nx.authority[0].rtype, rtype::SOA);
    let nodata = udp(server, "web.default.svc.cluster.local", rtype::AAAA);
    assert_eq!(
        (nodata.header.rcode, nodata.answers.len()),
        (rcode::NOERROR, 0)
    );

    // Outside the cluster: relayed to the upstream; ExternalName: CNAME, then upstream.
    assert_eq!(
        addresses(&udp(server, "example.com", rtype::A)),
        [UPSTREAM_IP.to_string()]
    );
    let ext = udp(server, "ext.default.svc.cluster.local", rtype::A);
    assert_eq!(ext.answers[0].rtype, rtype::CNAME, "{ext:?}");
    assert_eq!(addresses(&ext), [UPSTREAM_IP.to_string()]);

    // A deleted Service stops resolving.
    c.ok(&["delete", "svc", "web"]);
    eventually(
        "web gone",
        || udp(server, "web.default.svc.cluster.local", rtype::A),
        |m| m.header.rcode == rcode::NXDOMAIN,
    );

    let metrics = c.ok(&["get", "--raw", "/metrics"]);
    assert!(
        metrics.contains("skiff_dns_requests_total{proto=\"udp\",type=\"A\",rcode=\"NXDOMAIN\"}"),
        "no DNS request counter in /metrics"
    );
    assert!(metrics.contains("skiff_dns_request_duration_seconds_count{proto=\"tcp\"}"));
}
