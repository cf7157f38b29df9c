//! DNS messages (RFC 1035 4.1): header, question and the three record sections, with
//! EDNS0 (RFC 6891) payload size and truncation for UDP.

use super::name::{Compressor, Name};
use super::record::{rtype, Record};
use super::WireError;

/// Response codes (RFC 1035 4.1.1).
pub mod rcode {
    /// No error.
    pub const NOERROR: u8 = 0;
    /// The query could not be parsed.
    pub const FORMERR: u8 = 1;
    /// The server failed (upstream timeout).
    pub const SERVFAIL: u8 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u8 = 3;
    /// The opcode is not supported.
    pub const NOTIMP: u8 = 4;
    /// The server refuses.
    pub const REFUSED: u8 = 5;

    /// The mnemonic of a code, for metrics.
    pub fn name(code: u8) -> &'static str {
        match code {
            NOERROR => "NOERROR",
            FORMERR => "FORMERR",
            SERVFAIL => "SERVFAIL",
            NXDOMAIN => "NXDOMAIN",
            NOTIMP => "NOTIMP",
            REFUSED => "REFUSED",
            _ => "other",
        }
    }
}

/// Largest UDP answer to a client that did not use EDNS0 (RFC 1035 4.2.1).
pub const CLASSIC_UDP_SIZE: usize = 512;

/// The fixed 12-byte header, its flags unpacked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Matches an answer to its query.
    pub id: u16,
    /// Set on responses.
    pub qr: bool,
    /// Kind of query; 0 is a standard query.
    pub opcode: u8,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated: retry over TCP.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// Authentic data (DNSSEC).
    pub ad: bool,
    /// Checking disabled (DNSSEC).
    pub cd: bool,
    /// Response code (low 4 bits).
    pub rcode: u8,
}

impl Header {
    fn flags(&self) -> u16 {
        (u16::from(self.qr) << 15)
            | (u16::from(self.opcode & 0x0F) << 11)
            | (u16::from(self.aa) << 10)
            | (u16::from(self.tc) << 9)
            | (u16::from(self.rd) << 8)
            | (u16::from(self.ra) << 7)
            | (u16::from(self.ad) << 5)
            | (u16::from(self.cd) << 4)
            | u16::from(self.rcode & 0x0F)
    }

    fn from_flags(id: u16, f: u16) -> Header {
        Header {
            id,
            qr: f & 0x8000 != 0,
            opcode: ((f >> 11) & 0x0F) as u8,
            aa: f & 0x0400 != 0,
            tc: f & 0x0200 != 0,
            rd: f & 0x0100 != 0,
            ra: f & 0x0080 != 0,
            ad: f & 0x0020 != 0,
            cd: f & 0x0010 != 0,
            rcode: (f & 0x0F) as u8,
        }
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name asked about.
    pub name: Name,
    /// The type asked for.
    pub qtype: u16,
    /// The class (IN).
    pub qclass: u16,
}

/// A whole message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Header (section counts are derived from the vectors).
    pub header: Header,
    /// Questions (one in practice).
    pub questions: Vec<Question>,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (SOA of negative answers).
    pub authority: Vec<Record>,
    /// Additional section (OPT, SRV target addresses).
    pub additional: Vec<Record>,
}

impl Message {
    /// A standard recursive query for `name`/`qtype` (used by the forwarder and tools).
    pub fn query(id: u16, name: Name, qtype: u16) -> Message {
        Message {
            header: Header {
                id,
                rd: true,
                ..Header::default()
            },
            questions: vec![Question {
                name,
                qtype,
                qclass: super::CLASS_IN,
            }],
            ..Message::default()
        }
    }

    /// The id of a raw message, if it has a header at all.
    pub fn peek_id(msg: &[u8]) -> Option<u16> {
        Some(u16::from_be_bytes([*msg.first()?, *msg.get(1)?]))
    }

    /// Decode a message.
    pub fn decode(msg: &[u8]) -> Result<Message, WireError> {
        let h = msg.get(..12).ok_or(WireError::Truncated(msg.len()))?;
        let word = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let header = Header::from_flags(word(0), word(2));
        let (qd, an, ns, ar) = (word(4), word(6), word(8), word(10));
        let mut pos = 12;
        let mut questions = Vec::with_capacity(usize::from(qd.min(4)));
        for _ in 0..qd {
            let name = Name::decode(msg, &mut pos)?;
            let f = msg.get(pos..pos + 4).ok_or(WireError::Truncated(pos))?;
            pos += 4;
            questions.push(Question {
                name,
                qtype: u16::from_be_bytes([f[0], f[1]]),
                qclass: u16::from_be_bytes([f[2], f[3]]),
            });
        }
        let mut section = |count: u16| -> Result<Vec<Record>, WireError> {
            // Counts come from the sender: cap the preallocation, not the loop.
            let mut v = Vec::with_capacity(usize::from(count.min(16)));
            for _ in 0..count {
                v.push(Record::decode(msg, &mut pos)?);
            }
            Ok(v)
        };
        let answers = section(an)?;
        let authority = section(ns)?;
        let additional = section(ar)?;
        Ok(Message {
            header,
            questions,
            answers,
            authority,
            additional,
        })
    }

    /// Encode the whole message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&self.header.id.to_be_bytes());
        out.extend_from_slice(&self.header.flags().to_be_bytes());
        for n in [
            self.questions.len(),
            self.answers.len(),
            self.authority.len(),
            self.additional.len(),
        ] {
            out.extend_from_slice(&(n.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        }
        let mut comp = Compressor::default();
        for q in &self.questions {
            q.name.encode(&mut out, &mut comp);
            out.extend_from_slice(&q.qtype.to_be_bytes());
            out.extend_from_slice(&q.qclass.to_be_bytes());
        }
        for r in self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
        {
            r.encode(&mut out, &mut comp);
        }
        out
    }

    /// Encode for a transport that carries at most `limit` bytes: when the message does
    /// not fit, send the question alone (and OPT) with TC set, so the client retries
    /// over TCP (RFC 2181 9).
    pub fn encode_within(&self, limit: usize) -> Vec<u8> {
        let full = self.encode();
        if full.len() <= limit {
            return full;
        }
        let mut short = Message {
            header: self.header.clone(),
            questions: self.questions.clone(),
            answers: Vec::new(),
            authority: Vec::new(),
            additional: self
                .additional
                .iter()
                .filter(|r| r.rtype == rtype::OPT)
                .cloned()
                .collect(),
        };
        short.header.tc = true;
        short.encode()
    }

    /// The EDNS0 OPT record, if the message has one.
    pub fn opt(&self) -> Option<&Record> {
        self.additional.iter().find(|r| r.rtype == rtype::OPT)
    }

    /// How large a UDP answer the sender of this query accepts.
    pub fn udp_limit(&self) -> usize {
        match self.opt() {
            // RFC 6891 6.2.5: values below 512 are treated as 512.
            Some(opt) => usize::from(opt.class).max(CLASSIC_UDP_SIZE),
            None => CLASSIC_UDP_SIZE,
        }
    }

    /// The skeleton of the answer to this query: same id, opcode, RD and question, an
    /// OPT record echoed when the query had one.
    pub fn response(&self, rcode: u8) -> Message {
        Message {
            header: Header {
                id: self.header.id,
                qr: true,
                opcode: self.header.opcode,
                rd: self.header.rd,
                ra: true,
                cd: self.header.cd,
                rcode,
                ..Header::default()
            },
            questions: self.questions.clone(),
            answers: Vec::new(),
            authority: Vec::new(),
            additional: self
                .opt()
                .map(|_| vec![Record::opt(EDNS_UDP_SIZE)])
                .unwrap_or_default(),
        }
    }
}

/// The UDP payload size this server advertises (the DNS flag day 2020 value).
pub const EDNS_UDP_SIZE: u16 = 1232;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{RData, CLASS_IN};
    use std::net::Ipv4Addr;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn query_round_trips_with_edns() {
        let mut q = Message::query(0xBEEF, name("web.default.svc.cluster.local"), rtype::A);
        q.additional.push(Record::opt(4096));
        let bytes = q.encode();
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, q);
        assert!(back.header.rd && !back.header.qr);
        assert_eq!(back.udp_limit(), 4096);
        assert_eq!(Message::peek_id(&bytes), Some(0xBEEF));
    }

    #[test]
    fn decodes_a_real_dig_query() {
        // `dig @127.0.0.1 example.com A` (EDNS with a cookie option), captured bytes.
        let bytes: &[u8] = &[
            0x12, 0x34, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x07, b'e',
            b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, 0x00, 0x01, 0x00,
            0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a,
            0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        let m = Message::decode(bytes).unwrap();
        assert_eq!(m.header.id, 0x1234);
        assert!(m.header.rd && m.header.ad);
        assert_eq!(m.questions[0].name, name("example.com"));
        assert_eq!(m.questions[0].qtype, rtype::A);
        assert_eq!(m.udp_limit(), 1232);
        // Unknown data is kept byte for byte, so re-encoding reproduces the query.
        assert_eq!(m.encode(), bytes);
    }

    #[test]
    fn answer_sections_round_trip_with_compression() {
        let q = Message::query(
            7,
            name("_http._tcp.web.default.svc.cluster.local"),
            rtype::SRV,
        );
        let mut r = q.response(rcode::NOERROR);
        r.header.aa = true;
        let target = name("web.default.svc.cluster.local");
        r.answers.push(Record::new(
            q.questions[0].name.clone(),
            5,
            RData::Srv {
                priority: 0,
                weight: 100,
                port: 80,
                target: target.clone(),
            },
        ));
        r.additional.push(Record::new(
            target,
            5,
            RData::A(Ipv4Addr::new(10, 43, 0, 20)),
        ));
        r.authority.push(Record::new(
            name("cluster.local"),
            5,
            RData::Soa {
                mname: name("ns.dns.cluster.local"),
                rname: name("hostmaster.cluster.local"),
                serial: 1,
                refresh: 7200,
                retry: 1800,
                expire: 86400,
                minimum: 5,
            },
        ));
        let bytes = r.encode();
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, r);
        assert!(back.header.qr && back.header.aa && back.header.ra);
        assert_eq!(back.answers[0].class, CLASS_IN);
    }

    #[test]
    fn oversized_udp_answers_are_truncated_with_tc() {
        let q = Message::query(9, name("big.default.svc.cluster.local"), rtype::A);
        let mut r = q.response(rcode::NOERROR);
        for i in 0..100u8 {
            r.answers.push(Record::new(
                q.questions[0].name.clone(),
                5,
                RData::A(Ipv4Addr::new(10, 42, 0, i)),
            ));
        }
        // 100 compressed A records are 1,600 bytes: over 512.
        let short = Message::decode(&r.encode_within(CLASSIC_UDP_SIZE)).unwrap();
        assert!(short.header.tc);
        assert!(short.answers.is_empty());
        assert_eq!(short.questions, q.questions);
        let full = Message::decode(&r.encode_within(65535)).unwrap();
        assert!(!full.header.tc);
        assert_eq!(full.answers.len(), 100);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Message::decode(&[1, 2, 3]).is_err());
        // Header claims one question, none follows.
        assert!(Message::decode(&[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]).is_err());
        // Record whose RDLENGTH overruns the message.
        let mut m = Message::query(1, name("a"), rtype::A).encode();
        m[7] = 1; // ANCOUNT = 1
        m.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 9, 1, 2]);
        assert!(Message::decode(&m).is_err());
    }
}
