//! The cluster zone's records (kube-dns specification, CoreDNS kubernetes plugin): what a
//! question about a name in the cluster domain, or a reverse name of a cluster address,
//! is answered with. Pure: no I/O, everything comes from a [`Catalog`].

use crate::catalog::Catalog;
use crate::wire::{rcode, rtype, Name, RData, Record};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TTL of every record served (CoreDNS's default).
pub const TTL: u32 = 5;

/// ExternalName chains inside the zone are followed at most this deep.
const MAX_CHAIN: usize = 8;

/// The cluster domain and how its records are served.
#[derive(Debug, Clone)]
pub struct Zone {
    domain: Name,
    soa: Record,
}

/// How a question is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered from the zone.
    Answer(Reply),
    /// Not ours: relay the query to the upstream resolvers.
    Forward,
    /// An ExternalName outside the zone: answer `reply` (its CNAME records) plus what the
    /// upstream resolvers say about `target`.
    Chase {
        /// The CNAME records so far.
        reply: Reply,
        /// The name to resolve upstream.
        target: Name,
    },
}

/// An authoritative answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// Response code.
    pub rcode: u8,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (the SOA of negative answers).
    pub authority: Vec<Record>,
    /// Additional section (addresses of SRV targets).
    pub additional: Vec<Record>,
}

/// One address an endpoint name resolves to.
struct EndpointAddr {
    /// Hostname, or the address with dashes.
    label: String,
    ip: IpAddr,
}

impl Zone {
    /// The zone for `domain` (e.g. `cluster.local`).
    pub fn new(domain: &str) -> Result<Zone, crate::wire::WireError> {
        let domain = Name::parse(domain)?;
        let soa = Record::new(
            domain.clone(),
            TTL,
            RData::Soa {
                mname: domain.prepend(&["ns", "dns"])?,
                rname: domain.prepend(&["hostmaster"])?,
                // CoreDNS uses the time of its last data change; a constant is as valid
                // for a zone no secondary ever transfers.
                serial: 1,
                refresh: 7200,
                retry: 1800,
                expire: 86400,
                minimum: TTL,
            },
        );
        Ok(Zone { domain, soa })
    }

    /// The cluster domain.
    pub fn domain(&self) -> &Name {
        &self.domain
    }

    /// Answer `qname`/`qtype`.
    pub fn lookup(&self, cat: &dyn Catalog, qname: &Name, qtype: u16) -> Outcome {
        if let Some(ip) = reverse_ip(qname) {
            return match self.ptr(cat, ip) {
                Some(target) if qtype == rtype::PTR || qtype == rtype::ANY => {
                    Outcome::Answer(Reply {
                        answers: vec![Record::new(qname.clone(), TTL, RData::Ptr(target))],
                        ..Reply::default()
                    })
                }
                Some(_) => Outcome::Answer(self.nodata()),
                // Not a cluster address: the host's resolvers own the reverse zone (CoreDNS
                // `fallthrough in-addr.arpa ip6.arpa`).
                None => Outcome::Forward,
            };
        }
        let Some(rel) = qname.relative_to(&self.domain) else {
            return Outcome::Forward;
        };
        let mut reply = Reply::default();
        let mut name = qname.clone();
        let mut rel = rel;
        for _ in 0..MAX_CHAIN {
            match self.lookup_in_zone(cat, &name, &rel, qtype) {
                Step::Done(r) => {
                    reply.rcode = r.rcode;
                    reply.answers.extend(r.answers);
                    reply.authority = r.authority;
                    reply.additional.extend(r.additional);
                    return Outcome::Answer(reply);
                }
                Step::Alias(cname, target) => {
                    reply.answers.push(cname);
                    if qtype == rtype::CNAME {
                        return Outcome::Answer(reply);
                    }
                    match target.relative_to(&self.domain) {
                        Some(r) => {
                            name = target;
                            rel = r;
                        }
                        None => return Outcome::Chase { reply, target },
                    }
                }
            }
        }
        reply.rcode = rcode::SERVFAIL;
        Outcome::Answer(reply)
    }

    fn lookup_in_zone(&self, cat: &dyn Catalog, qname: &Name, rel: &[String], qtype: u16) -> Step {
        let labels: Vec<&str> = rel.iter().map(String::as_str).collect();
        match labels.as_slice() {
            [] if qtype == rtype::SOA || qtype == rtype::ANY => Step::Done(Reply {
                answers: vec![self.soa.clone()],
                ..Reply::default()
            }),
            [] | ["svc"] | ["pod"] => Step::Done(self.nodata()),
            [ns, "svc"] if cat.namespace_has_services(ns) => Step::Done(self.nodata()),
            [svc, ns, "svc"] => match cat.service(ns, svc) {
                Some(s) => self.service_records(cat, qname, &s, qtype),
                None => Step::Done(self.nxdomain()),
            },
            [port, proto, svc, ns, "svc"] if port.starts_with('_') && proto.starts_with('_') => {
                match cat.service(ns, svc) {
                    Some(s) => Step::Done(self.srv_records(cat, qname, &s, port, proto, qtype)),
                    None => Step::Done(self.nxdomain()),
                }
            }
            [host, svc, ns, "svc"] => match cat.service(ns, svc) {
                Some(s) if is_headless(&s) => {
                    let ips: Vec<IpAddr> = endpoint_addrs(&cat.slices_of(ns, svc), &s)
                        .into_iter()
                        .filter(|e| e.label == *host)
                        .map(|e| e.ip)
                        .collect();
                    if ips.is_empty() {
                        Step::Done(self.nxdomain())
                    } else {
                        Step::Done(self.addresses(qname, &ips, qtype))
                    }
                }
                _ => Step::Done(self.nxdomain()),
            },
            // `pods insecure`, as k3s configures CoreDNS: any well-formed address answers.
            [ip, _ns, "pod"] => match undash(ip) {
                Some(ip) => Step::Done(self.addresses(qname, &[ip], qtype)),
                None => Step::Done(self.nxdomain()),
            },
            _ => Step::Done(self.nxdomain()),
        }
    }

    fn service_records(&self, cat: &dyn Catalog, qname: &Name, svc: &Service, qtype: u16) -> Step {
        let spec = svc.spec.as_ref();
        if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            let target = spec
                .and_then(|s| s.external_name.as_deref())
                .and_then(|n| Name::parse(n).ok());
            return match target {
                Some(t) => Step::Alias(Record::new(qname.clone(), TTL, RData::Cname(t.clone())), t),
                None => Step::Done(self.nodata()),
            };
        }
        let ips: Vec<IpAddr> = if is_headless(svc) {
            let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
            let name = svc.metadata.name.as_deref().unwrap_or_default();
            endpoint_addrs(&cat.slices_of(ns, name), svc)
                .into_iter()
                .map(|e| e.ip)
                .collect()
        } else {
            cluster_ips(svc)
        };
        Step::Done(self.addresses(qname, &ips, qtype))
    }

    fn srv_records(
        &self,
        cat: &dyn Catalog,
        qname: &Name,
        svc: &Service,
        port: &str,
        proto: &str,
        qtype: u16,
    ) -> Reply {
        let port_name = &port[1..];
        let proto = &proto[1..];
        let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let Ok(svc_name) = self.domain.prepend(&[name, ns, "svc"]) else {
            return self.nxdomain();
        };
        let proto_matches = |p: Option<&str>| p.unwrap_or("TCP").eq_ignore_ascii_case(proto);
        // (port, target, address) of each SRV record.
        let mut found: Vec<(u16, Name, IpAddr)> = Vec::new();
        if is_headless(svc) {
            for slice in cat.slices_of(ns, name) {
                let Some(p) = slice.ports.iter().flatten().find(|p| {
                    p.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(port_name))
                        && proto_matches(p.protocol.as_deref())
                }) else {
                    continue;
                };
                let Some(number) = p.port.and_then(|n| u16::try_from(n).ok()) else {
                    continue;
                };
                for e in endpoint_addrs(std::slice::from_ref(&slice), svc) {
                    if let Ok(target) = svc_name.prepend(&[&e.label]) {
                        found.push((number, target, e.ip));
                    }
                }
            }
        } else {
            let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
            if let Some(p) = ports.into_iter().flatten().find(|p| {
                p.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(port_name))
                    && proto_matches(p.protocol.as_deref())
            }) {
                if let Ok(number) = u16::try_from(p.port) {
                    for ip in cluster_ips(svc) {
                        found.push((number, svc_name.clone(), ip));
                    }
                    found.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
                }
            }
        }
        if found.is_empty() {
            // The service exists, so the port name does too in CoreDNS's view only when it
            // is one of the service's ports; otherwise the name does not exist.
            return self.nxdomain();
        }
        if qtype != rtype::SRV && qtype != rtype::ANY {
            return self.nodata();
        }
        let weight = (100 / found.len()).max(1) as u16;
        let mut reply = Reply::default();
        for (port, target, ip) in found {
            reply.answers.push(Record::new(
                qname.clone(),
                TTL,
                RData::Srv {
                    priority: 0,
                    weight,
                    port,
                    target: target.clone(),
                },
            ));
            reply.additional.push(address_record(target, ip));
        }
        reply
    }

    /// A and AAAA records of `ips` for the name `qname`; NODATA when none fits `qtype`.
    fn addresses(&self, qname: &Name, ips: &[IpAddr], qtype: u16) -> Reply {
        let answers: Vec<Record> = ips
            .iter()
            .filter(|ip| match qtype {
                rtype::A => ip.is_ipv4(),
                rtype::AAAA => ip.is_ipv6(),
                rtype::ANY => true,
                _ => false,
            })
            .map(|ip| address_record(qname.clone(), *ip))
            .collect();
        if answers.is_empty() {
            return self.nodata();
        }
        Reply {
            answers,
            ..Reply::default()
        }
    }

    /// The name `ip` maps back to: a Service's ClusterIP, or an endpoint of a headless
    /// Service.
    fn ptr(&self, cat: &dyn Catalog, ip: IpAddr) -> Option<Name> {
        for svc in cat.services() {
            let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
            let name = svc.metadata.name.as_deref().unwrap_or_default();
            if cluster_ips(&svc).contains(&ip) {
                return self.domain.prepend(&[name, ns, "svc"]).ok();
            }
        }
        for slice in cat.endpoint_slices() {
            let ns = slice.metadata.namespace.as_deref().unwrap_or_default();
            let Some(svc_name) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(crate::catalog::SERVICE_NAME_LABEL))
            else {
                continue;
            };
            let Some(svc) = cat.service(ns, svc_name).filter(|s| is_headless(s)) else {
                continue;
            };
            if let Some(e) = endpoint_addrs(std::slice::from_ref(&slice), &svc)
                .into_iter()
                .find(|e| e.ip == ip)
            {
                return self.domain.prepend(&[&e.label, svc_name, ns, "svc"]).ok();
            }
        }
        None
    }

    fn nxdomain(&self) -> Reply {
        Reply {
            rcode: rcode::NXDOMAIN,
            authority: vec![self.soa.clone()],
            ..Reply::default()
        }
    }

    fn nodata(&self) -> Reply {
        Reply {
            rcode: rcode::NOERROR,
            authority: vec![self.soa.clone()],
            ..Reply::default()
        }
    }
}

/// One step of resolving a name inside the zone.
enum Step {
    /// The final records.
    Done(Reply),
    /// An ExternalName: its CNAME record and target.
    Alias(Record, Name),
}

fn address_record(name: Name, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::new(name, TTL, RData::A(v4)),
        IpAddr::V6(v6) => Record::new(name, TTL, RData::Aaaa(v6)),
    }
}

fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

fn cluster_ips(svc: &Service) -> Vec<IpAddr> {
    let Some(spec) = svc.spec.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<IpAddr> = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
        .filter_map(|s| s.parse().ok())
        .collect();
    let mut seen = Vec::with_capacity(ips.len());
    ips.retain(|ip| {
        let new = !seen.contains(ip);
        seen.push(*ip);
        new
    });
    ips
}

/// The addresses a headless Service's names resolve to: ready endpoints, or every endpoint
/// with publishNotReadyAddresses; each labelled with its hostname or dashed address.
fn endpoint_addrs(slices: &[std::sync::Arc<EndpointSlice>], svc: &Service) -> Vec<EndpointAddr> {
    let publish_all = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut out: Vec<EndpointAddr> = Vec::new();
    for slice in slices {
        for ep in &slice.endpoints {
            // A nil ready condition means ready (discovery.k8s.io/v1 API docs).
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !ready && !publish_all {
                continue;
            }
            for addr in &ep.addresses {
                let Ok(ip) = addr.parse::<IpAddr>() else {
                    continue;
                };
                // The same address can sit in two slices while the controller moves it.
                if out.iter().any(|e| e.ip == ip) {
                    continue;
                }
                let label = match ep.hostname.as_deref() {
                    Some(h) if !h.is_empty() => h.to_ascii_lowercase(),
                    _ => dash(ip),
                };
                out.push(EndpointAddr { label, ip });
            }
        }
    }
    out
}

/// `10.42.0.5` → `10-42-0-5`; IPv6 colons become dashes as well.
fn dash(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

/// The address a dashed pod label names (`10-42-0-5`, or an IPv6 with dashes).
fn undash(label: &str) -> Option<IpAddr> {
    if let Ok(v4) = label.replace('-', ".").parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    label
        .replace('-', ":")
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

/// The IPv4 address of a full `d.c.b.a.in-addr.arpa` name.
fn reverse_ip(qname: &Name) -> Option<IpAddr> {
    let rel = qname.relative_to(&Name::parse("in-addr.arpa").ok()?)?;
    if rel.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, label) in rel.iter().rev().enumerate() {
        octets[i] = label.parse().ok()?;
    }
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

#[cfg(test)]
mod tests;
