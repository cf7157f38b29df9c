//! Skiff's cluster DNS server: what CoreDNS's kubernetes plugin serves (the kube-dns
//! specification) for the cluster domain, from watches on Services and EndpointSlices;
//! every other name is relayed to the host's resolvers.
//!
//! Records (TTL 5 s), for domain `cluster.local`:
//! - `<svc>.<ns>.svc` A/AAAA: the ClusterIPs; for a headless Service the addresses of its
//!   ready endpoints (all of them with `publishNotReadyAddresses`).
//! - `<host>.<svc>.<ns>.svc`: an endpoint of a headless Service by hostname (StatefulSet
//!   pods whose subdomain is the Service), or by dashed address (`10-42-0-5`).
//! - `_<port>._<proto>.<svc>.<ns>.svc` SRV for named ports: the Service name for a
//!   ClusterIP Service, one record per endpoint for a headless one; targets' addresses in
//!   the additional section.
//! - ExternalName Services: a CNAME, followed inside the zone or resolved upstream.
//! - `<a-b-c-d>.<ns>.pod` A (CoreDNS `pods insecure`, as k3s configures it).
//! - PTR for ClusterIPs and headless endpoints; other reverse names go upstream.
//! - NXDOMAIN with the zone's SOA for names that do not exist, NOERROR with the SOA
//!   (NODATA) for names that exist without the asked type.
//!
//! UDP answers larger than the client's EDNS0 payload size (512 without EDNS0) are sent
//! truncated (TC) so the client retries over TCP. Forwarded queries are relayed byte for
//! byte over the client's transport; no answer within 2 s gives SERVFAIL. Clients a
//! [`ClientFilter`] does not allow get REFUSED (`skiff server` serves pods, nodes and loopback).

pub mod catalog;
pub mod clients;
pub mod forward;
mod handler;
mod kube_dns;
pub mod metrics;
mod server;
mod watch;
pub mod wire;
pub mod zone;

pub use catalog::{Catalog, MemoryCatalog};
pub use clients::{AnyClient, ClientFilter};
pub use forward::Forwarder;
pub use handler::{Handler, Transport};
pub use kube_dns::{ensure as ensure_kube_dns, keep as keep_kube_dns, DnsAddress};
pub use server::DnsServer;
pub use watch::KubeCatalog;
pub use zone::Zone;
