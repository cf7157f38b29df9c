use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use skiff_dns::forward::{read_frame, write_frame};
use skiff_dns::wire::{rcode, rtype, Message, Name, RData, Record, CLASS_IN};
use skiff_dns::{AnyClient, ClientFilter, DnsServer, Forwarder, Handler, MemoryCatalog, Zone};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;

/// The address the fake upstream gives every name.
const UPSTREAM_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn service(ns: &str, name: &str, spec: ServiceSpec) -> Arc<Service> {
    Arc::new(Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    })
}

fn catalog() -> MemoryCatalog {
    let big_endpoints = (0..100u8)
        .map(|i| Endpoint {
            addresses: vec![format!("10.42.1.{i}")],
            ..Endpoint::default()
        })
        .collect();
    MemoryCatalog {
        services: vec![
            service(
                "default",
                "web",
                ServiceSpec {
                    cluster_ip: Some("10.43.0.20".into()),
                    ports: Some(vec![ServicePort {
                        name: Some("http".into()),
                        port: 80,
                        ..ServicePort::default()
                    }]),
                    ..ServiceSpec::default()
                },
            ),
            service(
                "default",
                "big",
                ServiceSpec {
                    cluster_ip: Some("None".into()),
                    ..ServiceSpec::default()
                },
            ),
            service(
                "default",
                "ext",
                ServiceSpec {
                    type_: Some("ExternalName".into()),
                    external_name: Some("db.example.com".into()),
                    ..ServiceSpec::default()
                },
            ),
        ],
        slices: vec![Arc::new(EndpointSlice {
            metadata: ObjectMeta {
                name: Some("big-1".into()),
                namespace: Some("default".into()),
                labels: Some([("kubernetes.io/service-name".into(), "big".into())].into()),
                ..ObjectMeta::default()
            },
            address_type: "IPv4".into(),
            endpoints: big_endpoints,
            ports: None,
        })],
    }
}

/// A resolver on 127.0.0.1 answering every A question with [`UPSTREAM_IP`], over UDP and
/// TCP, counting the queries it got.
struct FakeUpstream {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
}

fn upstream_answer(query: &[u8]) -> Option<Vec<u8>> {
    let q = Message::decode(query).ok()?;
    let mut r = q.response(rcode::NOERROR);
    let name = q.questions.first()?.name.clone();
    r.answers.push(Record::new(name, 30, RData::A(UPSTREAM_IP)));
    Some(r.encode())
}

async fn fake_upstream() -> FakeUpstream {
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    drop(server);
    let udp = UdpSocket::bind(addr).await.unwrap();
    let tcp = TcpListener::bind(addr).await.unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let (stop, mut stopped) = watch::channel(false);
    let (q1, q2) = (queries.clone(), queries.clone());
    tokio::spawn(async move {
        let udp_loop = async {
            let mut buf = vec![0u8; 65535];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                q1.fetch_add(1, Ordering::SeqCst);
                if let Some(a) = upstream_answer(&buf[..n]) {
                    let _ = udp.send_to(&a, peer).await;
                }
            }
        };
        let tcp_loop = async {
            while let Ok((mut conn, _)) = tcp.accept().await {
                let q2 = q2.clone();
                tokio::spawn(async move {
                    while let Ok(q) = read_frame(&mut conn).await {
                        q2.fetch_add(1, Ordering::SeqCst);
                        let Some(a) = upstream_answer(&q) else { return };
                        if write_frame(&mut conn, &a).await.is_err() {
                            return;
                        }
                    }
                });
            }
        };
        tokio::select! {
            _ = udp_loop => {}
            _ = tcp_loop => {}
            _ = stopped.wait_for(|s| *s) => {}
        }
    });
    FakeUpstream {
        addr,
        queries,
        stop,
    }
}

/// A DNS server on 127.0.0.1 with [`catalog`], forwarding to `upstreams`.
struct Running {
    addr: SocketAddr,
    _stop: watch::Sender<bool>,
}

async fn start(upstreams: Vec<SocketAddr>, timeout: Duration) -> Running {
    start_for(upstreams, timeout, Arc::new(AnyClient)).await
}

async fn start_for(
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
    clients: Arc<dyn ClientFilter>,
) -> Running {
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let handler = Arc::new(
        Handler::new(
            Arc::new(catalog()),
            Zone::new("cluster.local").unwrap(),
            Forwarder::new(upstreams, timeout),
        )
        .with_clients(clients),
    );
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(server.run(handler, stopped));
    Running { addr, _stop: stop }
}

async fn udp_query(server: SocketAddr, msg: &Message) -> Message {
    udp_query_from(Ipv4Addr::LOCALHOST, server, msg).await
}

async fn udp_query_from(client: Ipv4Addr, server: SocketAddr, msg: &Message) -> Message {
    let sock = UdpSocket::bind((client, 0)).await.unwrap();
    sock.send_to(&msg.encode(), server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("answer within 5 s")
        .unwrap();
    let answer = Message::decode(&buf[..n]).unwrap();
    assert_eq!(answer.header.id, msg.header.id);
    assert!(answer.header.qr);
    answer
}

async fn tcp_query(conn: &mut TcpStream, msg: &Message) -> Message {
    write_frame(conn, &msg.encode()).await.unwrap();
    let bytes = tokio::time::timeout(Duration::from_secs(5), read_frame(conn))
        .await
        .expect("answer within 5 s")
        .unwrap();
    Message::decode(&bytes).unwrap()
}

fn q(name: &str, qtype: u16) -> Message {
    Message::query(0x4242, Name::parse(name).unwrap(), qtype)
}

fn a_records(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match r.data {
            RData::A(ip) => Some(ip.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn udp_answers_cluster_names_and_relays_others() {
    let up = fake_upstream().await;
    let dns = start(vec![up.addr], Duration::from_secs(2)).await;

    let a = udp_query(dns.addr, &q("web.default.svc.cluster.local", rtype::A)).await;
    assert_eq!(a.header.rcode, rcode::NOERROR);
    assert!(a.header.aa);
    assert_eq!(a_records(&a), ["10.43.0.20"]);

    let nx = udp_query(dns.addr, &q("nope.default.svc.cluster.local", rtype::A)).await;
    assert_eq!(nx.header.rcode, rcode::NXDOMAIN);
    assert_eq!(nx.authority[0].rtype, rtype::SOA);
    assert_eq!(
        up.queries.load(Ordering::SeqCst),
        0,
        "cluster names never go upstream"
    );

    let fwd = udp_query(dns.addr, &q("example.com", rtype::A)).await;
    assert_eq!(a_records(&fwd), [UPSTREAM_IP.to_string()]);
    assert_eq!(up.queries.load(Ordering::SeqCst), 1);

    let srv = udp_query(
        dns.addr,
        &q("_http._tcp.web.default.svc.cluster.local", rtype::SRV),
    )
    .await;
    assert_eq!(srv.answers.len(), 1);
    assert_eq!(srv.additional.len(), 1);
    let _ = up.stop.send(true);
}

/// Serves only 127.0.0.2.
struct OnlyOneClient;

impl ClientFilter for OnlyOneClient {
    fn allows(&self, client: IpAddr) -> bool {
        client == IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))
    }
}

#[tokio::test]
async fn clients_the_filter_refuses_get_refused_and_nothing_is_relayed() {
    let up = fake_upstream().await;
    let dns = start_for(
        vec![up.addr],
        Duration::from_secs(2),
        Arc::new(OnlyOneClient),
    )
    .await;
    let allowed = Ipv4Addr::new(127, 0, 0, 2);

    let ok = udp_query_from(allowed, dns.addr, &q("example.com", rtype::A)).await;
    assert_eq!(a_records(&ok), [UPSTREAM_IP.to_string()]);
    let query = q("example.com", rtype::A);
    let no = udp_query_from(Ipv4Addr::LOCALHOST, dns.addr, &query).await;
    assert_eq!(no.header.rcode, rcode::REFUSED);
    assert!(no.answers.is_empty());
    assert_eq!(no.questions, query.questions, "the question is echoed");
    assert!(
        no.encode().len() <= query.encode().len(),
        "no amplification"
    );
    let cluster = udp_query_from(
        Ipv4Addr::LOCALHOST,
        dns.addr,
        &q("web.default.svc.cluster.local", rtype::A),
    )
    .await;
    assert_eq!(cluster.header.rcode, rcode::REFUSED);
    // Over TCP too.
    let mut conn = TcpStream::connect(dns.addr).await.unwrap();
    let t = tcp_query(&mut conn, &q("example.com", rtype::A)).await;
    assert_eq!(t.header.rcode, rcode::REFUSED);
    assert_eq!(
        up.queries.load(Ordering::SeqCst),
        1,
        "only the allowed query went upstream"
    );
    let _ = up.stop.send(true);
}

#[tokio::test]
async fn edns_is_echoed_and_large_udp_answers_are_truncated() {
    let dns = start(Vec::new(), Duration::from_millis(200)).await;
    // 100 endpoints: 1,600+ bytes, over 512 and 1232.
    let plain = udp_query(dns.addr, &q("big.default.svc.cluster.local", rtype::A)).await;
    assert!(plain.header.tc);
    assert!(plain.answers.is_empty());
    assert!(plain.opt().is_none());

    let mut edns = q("big.default.svc.cluster.local", rtype::A);
    edns.additional.push(Record::opt(4096));
    let big = udp_query(dns.addr, &edns).await;
    assert!(!big.header.tc);
    assert_eq!(big.answers.len(), 100);
    assert_eq!(big.opt().map(|o| o.class), Some(1232));
}

#[tokio::test]
async fn tcp_answers_in_full_and_relays_over_tcp() {
    let up = fake_upstream().await;
    let dns = start(vec![up.addr], Duration::from_secs(2)).await;
    let mut conn = TcpStream::connect(dns.addr).await.unwrap();
    // Several queries on one connection.
    let big = tcp_query(&mut conn, &q("big.default.svc.cluster.local", rtype::A)).await;
    assert!(!big.header.tc);
    assert_eq!(big.answers.len(), 100);
    let web = tcp_query(&mut conn, &q("web.default.svc.cluster.local", rtype::A)).await;
    assert_eq!(a_records(&web), ["10.43.0.20"]);
    let fwd = tcp_query(&mut conn, &q("example.org", rtype::A)).await;
    assert_eq!(a_records(&fwd), [UPSTREAM_IP.to_string()]);
    assert_eq!(up.queries.load(Ordering::SeqCst), 1);
    let _ = up.stop.send(true);
}

#[tokio::test]
async fn external_name_is_chased_through_the_upstream() {
    let up = fake_upstream().await;
    let dns = start(vec![up.addr], Duration::from_secs(2)).await;
    let a = udp_query(dns.addr, &q("ext.default.svc.cluster.local", rtype::A)).await;
    assert_eq!(a.header.rcode, rcode::NOERROR);
    assert_eq!(a.answers.len(), 2);
    assert_eq!(
        a.answers[0].data,
        RData::Cname(Name::parse("db.example.com").unwrap())
    );
    assert_eq!(a.answers[1].name, Name::parse("db.example.com").unwrap());
    assert_eq!(a_records(&a), [UPSTREAM_IP.to_string()]);
    let _ = up.stop.send(true);
}

#[tokio::test]
async fn silent_upstream_gives_servfail_after_the_timeout() {
    // A socket that never answers.
    let black_hole = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dns = start(
        vec![black_hole.local_addr().unwrap()],
        Duration::from_millis(300),
    )
    .await;
    let started = std::time::Instant::now();
    let r = udp_query(dns.addr, &q("example.com", rtype::A)).await;
    assert_eq!(r.header.rcode, rcode::SERVFAIL);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn malformed_queries_get_formerr_and_responses_are_ignored() {
    let dns = start(Vec::new(), Duration::from_millis(200)).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Header says one question; the name is cut short.
    sock.send_to(
        &[0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 5, b'a'],
        dns.addr,
    )
    .await
    .unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let r = Message::decode(&buf[..n]).unwrap();
    assert_eq!((r.header.id, r.header.rcode), (0xABCD, rcode::FORMERR));
    // A response (QR set) sent to the server gets nothing back.
    let mut resp = q("web.default.svc.cluster.local", rtype::A);
    resp.header.qr = true;
    sock.send_to(&resp.encode(), dns.addr).await.unwrap();
    let silent = tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf)).await;
    assert!(silent.is_err(), "answered a response");
    // The class is checked: the question is echoed as asked.
    let a = udp_query(dns.addr, &q("web.default.svc.cluster.local", rtype::A)).await;
    assert_eq!(a.questions[0].qclass, CLASS_IN);
}
