//! One query in, one answer out: decode, answer from the zone or relay upstream, encode
//! within the transport's size, count it.

use crate::catalog::Catalog;
use crate::clients::{AnyClient, ClientFilter};
use crate::forward::Forwarder;
use crate::metrics;
use crate::wire::{rcode, rtype, Header, Message, CLASS_IN};
use crate::zone::{Outcome, Reply, Zone};
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::time::Instant;

/// How the query arrived, which bounds the answer's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A datagram: answers beyond the client's payload size are truncated (TC).
    Udp,
    /// A TCP stream: up to 64 KiB.
    Tcp,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Answers queries for the cluster zone and relays the rest.
pub struct Handler {
    catalog: Arc<dyn Catalog>,
    zone: Zone,
    forwarder: Forwarder,
    clients: Arc<dyn ClientFilter>,
}

/// An answer ready to send, with what metrics record about it.
struct Answered {
    bytes: Vec<u8>,
    qtype: u16,
    rcode: u8,
}

impl Handler {
    /// A handler serving `zone` from `catalog` to any client, relaying other names to
    /// `forwarder`.
    pub fn new(catalog: Arc<dyn Catalog>, zone: Zone, forwarder: Forwarder) -> Handler {
        Handler {
            catalog,
            zone,
            forwarder,
            clients: Arc::new(AnyClient),
        }
    }

    /// Serve only the clients `clients` allows; others get REFUSED.
    pub fn with_clients(mut self, clients: Arc<dyn ClientFilter>) -> Handler {
        self.clients = clients;
        self
    }

    /// The answer to the raw query `query` from `client`, or `None` when nothing should be
    /// sent (not a query at all).
    pub async fn handle(
        &self,
        query: &[u8],
        transport: Transport,
        client: IpAddr,
    ) -> Option<Vec<u8>> {
        let started = Instant::now();
        let a = if self.clients.allows(client) {
            self.answer(query, transport).await?
        } else {
            refused(query)?
        };
        metrics::observe(
            transport.label(),
            rtype::name(a.qtype),
            rcode::name(a.rcode),
            started.elapsed().as_secs_f64(),
        );
        Some(a.bytes)
    }

    async fn answer(&self, query: &[u8], transport: Transport) -> Option<Answered> {
        let msg = match Message::decode(query) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable query");
                return formerr(query);
            }
        };
        if msg.header.qr {
            return None;
        }
        let limit = match transport {
            Transport::Udp => msg.udp_limit(),
            Transport::Tcp => usize::from(u16::MAX),
        };
        let done = |resp: Message, qtype: u16| {
            Some(Answered {
                rcode: resp.header.rcode,
                bytes: resp.encode_within(limit),
                qtype,
            })
        };
        if msg.header.opcode != 0 {
            return done(msg.response(rcode::NOTIMP), 0);
        }
        let [q] = msg.questions.as_slice() else {
            return done(msg.response(rcode::FORMERR), 0);
        };
        let qtype = q.qtype;
        let outcome = if q.qclass == CLASS_IN {
            self.zone.lookup(self.catalog.as_ref(), &q.name, qtype)
        } else {
            // CHAOS and other classes are not the cluster's.
            Outcome::Forward
        };
        match outcome {
            Outcome::Answer(reply) => done(authoritative(&msg, reply), qtype),
            Outcome::Forward => {
                match self
                    .forwarder
                    .relay(query, transport == Transport::Tcp)
                    .await
                {
                    Some(bytes) => Some(Answered {
                        rcode: bytes.get(3).map_or(rcode::SERVFAIL, |b| b & 0x0F),
                        bytes,
                        qtype,
                    }),
                    None => done(msg.response(rcode::SERVFAIL), qtype),
                }
            }
            Outcome::Chase { mut reply, target } => {
                let sub = Message::query(random_id(), target, qtype).encode();
                let upstream = self
                    .forwarder
                    .relay(&sub, transport == Transport::Tcp)
                    .await
                    .and_then(|b| Message::decode(&b).ok());
                match upstream {
                    Some(up) => {
                        reply.rcode = up.header.rcode;
                        reply.answers.extend(up.answers);
                    }
                    None => reply.rcode = rcode::SERVFAIL,
                }
                let mut resp = authoritative(&msg, reply);
                // Only the CNAME is ours; the rest is hearsay from upstream.
                resp.header.aa = false;
                done(resp, qtype)
            }
        }
    }
}

/// The response carrying `reply`.
fn authoritative(query: &Message, reply: Reply) -> Message {
    let mut resp = query.response(reply.rcode);
    resp.header.aa = true;
    resp.answers = reply.answers;
    resp.authority = reply.authority;
    // Keep the echoed OPT record last, after the SRV targets' addresses.
    let opt = std::mem::take(&mut resp.additional);
    resp.additional = reply.additional;
    resp.additional.extend(opt);
    resp
}

/// FORMERR for a message that has a header but could not be decoded further.
fn formerr(query: &[u8]) -> Option<Answered> {
    header_only(query, rcode::FORMERR)
}

/// REFUSED for a client the server does not serve: the header and the question echoed, no
/// bigger than the query (nothing to amplify).
fn refused(query: &[u8]) -> Option<Answered> {
    let Ok(msg) = Message::decode(query) else {
        return header_only(query, rcode::REFUSED);
    };
    if msg.header.qr {
        return None;
    }
    let mut resp = msg.response(rcode::REFUSED);
    resp.additional.clear();
    Some(Answered {
        bytes: resp.encode(),
        qtype: msg.questions.first().map_or(0, |q| q.qtype),
        rcode: rcode::REFUSED,
    })
}

/// A response of only a header with `code`, for a query that could not be decoded.
fn header_only(query: &[u8], code: u8) -> Option<Answered> {
    let id = Message::peek_id(query)?;
    let flags = *query.get(2)?;
    if flags & 0x80 != 0 {
        // A response, not a query: never answer those (reflection loops).
        return None;
    }
    let resp = Message {
        header: Header {
            id,
            qr: true,
            opcode: (flags >> 3) & 0x0F,
            rcode: code,
            ..Header::default()
        },
        ..Message::default()
    };
    Some(Answered {
        bytes: resp.encode(),
        qtype: 0,
        rcode: code,
    })
}

/// An unpredictable query id for queries this server makes itself (spoofing resistance).
fn random_id() -> u16 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish() as u16
}
