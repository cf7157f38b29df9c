use super::*;
use crate::catalog::MemoryCatalog;
use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::sync::Arc;

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn service(ns: &str, n: &str, spec: ServiceSpec) -> Arc<Service> {
    Arc::new(Service {
        metadata: ObjectMeta {
            name: Some(n.into()),
            namespace: Some(ns.into()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    })
}

fn port(n: &str, number: i32, proto: &str) -> ServicePort {
    ServicePort {
        name: Some(n.into()),
        port: number,
        protocol: Some(proto.into()),
        ..ServicePort::default()
    }
}

fn endpoint(ip: &str, hostname: Option<&str>, ready: Option<bool>) -> Endpoint {
    Endpoint {
        addresses: vec![ip.into()],
        hostname: hostname.map(Into::into),
        conditions: Some(EndpointConditions {
            ready,
            ..EndpointConditions::default()
        }),
        ..Endpoint::default()
    }
}

fn slice(
    ns: &str,
    svc: &str,
    endpoints: Vec<Endpoint>,
    ports: Vec<(&str, i32)>,
) -> Arc<EndpointSlice> {
    Arc::new(EndpointSlice {
        metadata: ObjectMeta {
            name: Some(format!("{svc}-abc")),
            namespace: Some(ns.into()),
            labels: Some([(crate::catalog::SERVICE_NAME_LABEL.into(), svc.into())].into()),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".into(),
        endpoints,
        ports: Some(
            ports
                .into_iter()
                .map(|(n, p)| EndpointPort {
                    name: Some(n.into()),
                    port: Some(p),
                    protocol: Some("TCP".into()),
                    ..EndpointPort::default()
                })
                .collect(),
        ),
    })
}

/// web: ClusterIP with a named port; db: headless StatefulSet-style with hostnames, one
/// pod not ready; ext: ExternalName outside the zone; alias: ExternalName to web.
fn catalog() -> MemoryCatalog {
    MemoryCatalog {
        services: vec![
            service(
                "default",
                "web",
                ServiceSpec {
                    cluster_ip: Some("10.43.0.20".into()),
                    cluster_ips: Some(vec!["10.43.0.20".into()]),
                    ports: Some(vec![port("http", 80, "TCP"), port("dns", 53, "UDP")]),
                    ..ServiceSpec::default()
                },
            ),
            service(
                "prod",
                "db",
                ServiceSpec {
                    cluster_ip: Some("None".into()),
                    ports: Some(vec![port("mysql", 3306, "TCP")]),
                    ..ServiceSpec::default()
                },
            ),
            service(
                "default",
                "ext",
                ServiceSpec {
                    type_: Some("ExternalName".into()),
                    external_name: Some("example.com".into()),
                    ..ServiceSpec::default()
                },
            ),
            service(
                "default",
                "alias",
                ServiceSpec {
                    type_: Some("ExternalName".into()),
                    external_name: Some("web.default.svc.cluster.local".into()),
                    ..ServiceSpec::default()
                },
            ),
        ],
        slices: vec![slice(
            "prod",
            "db",
            vec![
                endpoint("10.42.0.5", Some("db-0"), Some(true)),
                endpoint("10.42.1.6", Some("db-1"), None),
                endpoint("10.42.2.7", None, Some(true)),
                endpoint("10.42.0.9", Some("db-2"), Some(false)),
            ],
            vec![("mysql", 3306)],
        )],
    }
}

fn zone() -> Zone {
    Zone::new("cluster.local").unwrap()
}

fn answer(q: &str, qtype: u16) -> Reply {
    match zone().lookup(&catalog(), &name(q), qtype) {
        Outcome::Answer(r) => r,
        other => panic!("{q}: expected an answer, got {other:?}"),
    }
}

fn ips(r: &Reply) -> Vec<String> {
    r.answers
        .iter()
        .map(|rec| match &rec.data {
            RData::A(ip) => ip.to_string(),
            RData::Aaaa(ip) => ip.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn cluster_ip_service_answers_its_cluster_ip() {
    let r = answer("web.default.svc.cluster.local", rtype::A);
    assert_eq!(r.rcode, rcode::NOERROR);
    assert_eq!(ips(&r), ["10.43.0.20"]);
    assert_eq!(r.answers[0].ttl, 5);
    // Case-insensitive, and the owner name echoes the question's spelling.
    let r = answer("WEB.default.svc.Cluster.Local.", rtype::A);
    assert_eq!(
        r.answers[0].name.to_string(),
        "WEB.default.svc.Cluster.Local."
    );
}

#[test]
fn existing_name_without_the_type_is_nodata_with_soa() {
    let r = answer("web.default.svc.cluster.local", rtype::AAAA);
    assert_eq!(r.rcode, rcode::NOERROR);
    assert!(r.answers.is_empty());
    assert_eq!(r.authority.len(), 1);
    assert_eq!(r.authority[0].rtype, rtype::SOA);
    assert_eq!(r.authority[0].name.to_string(), "cluster.local.");
}

#[test]
fn missing_names_in_the_zone_are_nxdomain_with_soa() {
    for q in [
        "nope.default.svc.cluster.local",
        "web.nope.svc.cluster.local",
        "x.y.cluster.local",
        "nope.svc.cluster.local",
        "db-9.db.prod.svc.cluster.local",
        "web-0.web.default.svc.cluster.local",
        "_nope._tcp.web.default.svc.cluster.local",
        "_http._udp.web.default.svc.cluster.local",
        "not-an-ip.default.pod.cluster.local",
    ] {
        let r = answer(q, rtype::A);
        assert_eq!(r.rcode, rcode::NXDOMAIN, "{q}");
        assert_eq!(r.authority[0].rtype, rtype::SOA, "{q}");
    }
}

#[test]
fn zone_structure_names_exist() {
    for q in [
        "cluster.local",
        "svc.cluster.local",
        "default.svc.cluster.local",
        "pod.cluster.local",
    ] {
        let r = answer(q, rtype::A);
        assert_eq!(r.rcode, rcode::NOERROR, "{q}");
        assert!(r.answers.is_empty(), "{q}");
    }
    let r = answer("cluster.local", rtype::SOA);
    assert_eq!(r.answers[0].rtype, rtype::SOA);
}

#[test]
fn headless_service_answers_ready_endpoints() {
    let r = answer("db.prod.svc.cluster.local", rtype::A);
    assert_eq!(ips(&r), ["10.42.0.5", "10.42.1.6", "10.42.2.7"]);
}

#[test]
fn publish_not_ready_addresses_includes_unready_endpoints() {
    let mut cat = catalog();
    let mut db = (*cat.services[1]).clone();
    db.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    cat.services[1] = Arc::new(db);
    let r = match zone().lookup(&cat, &name("db.prod.svc.cluster.local"), rtype::A) {
        Outcome::Answer(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ips(&r),
        ["10.42.0.5", "10.42.1.6", "10.42.2.7", "10.42.0.9"]
    );
}

#[test]
fn endpoint_hostnames_and_dashed_addresses_resolve() {
    assert_eq!(
        ips(&answer("db-0.db.prod.svc.cluster.local", rtype::A)),
        ["10.42.0.5"]
    );
    assert_eq!(
        ips(&answer("10-42-2-7.db.prod.svc.cluster.local", rtype::A)),
        ["10.42.2.7"]
    );
    // Not ready and not published: no name.
    assert_eq!(
        answer("db-2.db.prod.svc.cluster.local", rtype::A).rcode,
        rcode::NXDOMAIN
    );
}

#[test]
fn srv_of_a_cluster_ip_service_targets_the_service() {
    let r = answer("_http._tcp.web.default.svc.cluster.local", rtype::SRV);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(
        r.answers[0].data,
        RData::Srv {
            priority: 0,
            weight: 100,
            port: 80,
            target: name("web.default.svc.cluster.local"),
        }
    );
    assert_eq!(
        ips(&Reply {
            answers: r.additional.clone(),
            ..Reply::default()
        }),
        ["10.43.0.20"]
    );
    let udp = answer("_dns._udp.web.default.svc.cluster.local", rtype::SRV);
    assert_eq!(udp.answers.len(), 1);
    // The name exists; an A query for it is NODATA.
    let a = answer("_http._tcp.web.default.svc.cluster.local", rtype::A);
    assert_eq!((a.rcode, a.answers.len()), (rcode::NOERROR, 0));
}

#[test]
fn srv_of_a_headless_service_has_one_record_per_endpoint() {
    let r = answer("_mysql._tcp.db.prod.svc.cluster.local", rtype::SRV);
    let targets: Vec<String> = r
        .answers
        .iter()
        .map(|rec| match &rec.data {
            RData::Srv { target, port, .. } => format!("{port} {target}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        targets,
        [
            "3306 db-0.db.prod.svc.cluster.local.",
            "3306 db-1.db.prod.svc.cluster.local.",
            "3306 10-42-2-7.db.prod.svc.cluster.local."
        ]
    );
    assert_eq!(r.additional.len(), 3);
}

#[test]
fn external_name_outside_the_zone_is_chased_upstream() {
    match zone().lookup(&catalog(), &name("ext.default.svc.cluster.local"), rtype::A) {
        Outcome::Chase { reply, target } => {
            assert_eq!(target, name("example.com"));
            assert_eq!(reply.answers[0].data, RData::Cname(name("example.com")));
        }
        other => panic!("{other:?}"),
    }
    // A CNAME question is answered with the CNAME alone.
    let r = answer("ext.default.svc.cluster.local", rtype::CNAME);
    assert_eq!(r.answers.len(), 1);
}

#[test]
fn external_name_inside_the_zone_is_followed() {
    let r = answer("alias.default.svc.cluster.local", rtype::A);
    assert_eq!(r.answers.len(), 2);
    assert_eq!(r.answers[0].rtype, rtype::CNAME);
    assert_eq!(r.answers[1].data, RData::A(Ipv4Addr::new(10, 43, 0, 20)));
    assert_eq!(r.answers[1].name, name("web.default.svc.cluster.local"));
}

#[test]
fn pod_names_answer_their_dashed_address() {
    assert_eq!(
        ips(&answer("10-42-0-5.default.pod.cluster.local", rtype::A)),
        ["10.42.0.5"]
    );
    let r = answer("10-42-0-5.default.pod.cluster.local", rtype::AAAA);
    assert_eq!((r.rcode, r.answers.len()), (rcode::NOERROR, 0));
}

#[test]
fn reverse_lookups_of_cluster_addresses_answer_ptr_and_others_forward() {
    let r = answer("20.0.43.10.in-addr.arpa", rtype::PTR);
    assert_eq!(
        r.answers[0].data,
        RData::Ptr(name("web.default.svc.cluster.local"))
    );
    let r = answer("5.0.42.10.in-addr.arpa", rtype::PTR);
    assert_eq!(
        r.answers[0].data,
        RData::Ptr(name("db-0.db.prod.svc.cluster.local"))
    );
    assert_eq!(
        zone().lookup(&catalog(), &name("1.1.168.192.in-addr.arpa"), rtype::PTR),
        Outcome::Forward
    );
}

#[test]
fn names_outside_the_zone_are_forwarded() {
    for q in ["example.com", "local", "cluster.local.example.com"] {
        assert_eq!(
            zone().lookup(&catalog(), &name(q), rtype::A),
            Outcome::Forward,
            "{q}"
        );
    }
}
