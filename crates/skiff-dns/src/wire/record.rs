//! Resource records and the record types the cluster zone serves.

use super::name::{Compressor, Name};
use super::WireError;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Record type numbers (RFC 1035 3.2.2, RFC 3596, RFC 2782, RFC 6891).
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Authoritative name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Reverse pointer.
    pub const PTR: u16 = 12;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service location.
    pub const SRV: u16 = 33;
    /// EDNS0 pseudo-record.
    pub const OPT: u16 = 41;
    /// Any type (query only).
    pub const ANY: u16 = 255;

    /// The mnemonic of a type, for metrics; unusual types share one label.
    pub fn name(t: u16) -> &'static str {
        match t {
            A => "A",
            NS => "NS",
            CNAME => "CNAME",
            SOA => "SOA",
            PTR => "PTR",
            TXT => "TXT",
            AAAA => "AAAA",
            SRV => "SRV",
            ANY => "ANY",
            15 => "MX",
            65 => "HTTPS",
            _ => "other",
        }
    }
}

/// The Internet class.
pub const CLASS_IN: u16 = 1;

/// A record's data, decoded for the types this server builds and kept raw otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// The canonical name of an alias.
    Cname(Name),
    /// The name an address maps back to.
    Ptr(Name),
    /// A name server.
    Ns(Name),
    /// A service location (RFC 2782).
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Relative share among equal priorities.
        weight: u16,
        /// The service's port.
        port: u16,
        /// The host offering it.
        target: Name,
    },
    /// Zone authority, carried in negative answers (RFC 2308).
    Soa {
        /// Primary name server.
        mname: Name,
        /// Responsible mailbox.
        rname: Name,
        /// Zone version.
        serial: u32,
        /// Secondary refresh interval.
        refresh: u32,
        /// Secondary retry interval.
        retry: u32,
        /// Secondary expiry.
        expire: u32,
        /// Negative caching TTL.
        minimum: u32,
    },
    /// Any other type, as the bytes on the wire (OPT options among them).
    Raw(Vec<u8>),
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name.
    pub name: Name,
    /// Type number ([`rtype`]).
    pub rtype: u16,
    /// Class; for OPT, the requester's UDP payload size.
    pub class: u16,
    /// Time to live; for OPT, extended rcode, version and flags.
    pub ttl: u32,
    /// The data.
    pub data: RData,
}

impl Record {
    /// An IN-class record whose type follows from `data`.
    pub fn new(name: Name, ttl: u32, data: RData) -> Record {
        let rtype = match &data {
            RData::A(_) => rtype::A,
            RData::Aaaa(_) => rtype::AAAA,
            RData::Cname(_) => rtype::CNAME,
            RData::Ptr(_) => rtype::PTR,
            RData::Ns(_) => rtype::NS,
            RData::Srv { .. } => rtype::SRV,
            RData::Soa { .. } => rtype::SOA,
            RData::Raw(_) => 0,
        };
        Record {
            name,
            rtype,
            class: CLASS_IN,
            ttl,
            data,
        }
    }

    /// An EDNS0 OPT pseudo-record advertising `udp_size`, version 0, no options.
    pub fn opt(udp_size: u16) -> Record {
        Record {
            name: Name::root(),
            rtype: rtype::OPT,
            class: udp_size,
            ttl: 0,
            data: RData::Raw(Vec::new()),
        }
    }

    /// Read one record at `*pos`.
    pub fn decode(msg: &[u8], pos: &mut usize) -> Result<Record, WireError> {
        let name = Name::decode(msg, pos)?;
        let fixed = msg.get(*pos..*pos + 10).ok_or(WireError::Truncated(*pos))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        *pos += 10;
        let start = *pos;
        let end = start + rdlen;
        let rdata = msg.get(start..end).ok_or(WireError::Truncated(start))?;
        let mut p = start;
        let data = match rtype {
            rtype::A if rdlen == 4 => {
                RData::A(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]))
            }
            rtype::AAAA if rdlen == 16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                RData::Aaaa(Ipv6Addr::from(b))
            }
            rtype::CNAME => RData::Cname(Name::decode(msg, &mut p)?),
            rtype::PTR => RData::Ptr(Name::decode(msg, &mut p)?),
            rtype::NS => RData::Ns(Name::decode(msg, &mut p)?),
            rtype::SRV => {
                let f = msg.get(p..p + 6).ok_or(WireError::Truncated(p))?;
                p += 6;
                RData::Srv {
                    priority: u16::from_be_bytes([f[0], f[1]]),
                    weight: u16::from_be_bytes([f[2], f[3]]),
                    port: u16::from_be_bytes([f[4], f[5]]),
                    target: Name::decode(msg, &mut p)?,
                }
            }
            rtype::SOA => {
                let mname = Name::decode(msg, &mut p)?;
                let rname = Name::decode(msg, &mut p)?;
                let f = msg.get(p..p + 20).ok_or(WireError::Truncated(p))?;
                p += 20;
                let word = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
                RData::Soa {
                    mname,
                    rname,
                    serial: word(0),
                    refresh: word(4),
                    retry: word(8),
                    expire: word(12),
                    minimum: word(16),
                }
            }
            _ => {
                p = end;
                RData::Raw(rdata.to_vec())
            }
        };
        if let RData::A(_) | RData::Aaaa(_) = data {
            p = end;
        }
        if p != end {
            return Err(WireError::RdataLength(start));
        }
        *pos = end;
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            data,
        })
    }

    /// Append this record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>, comp: &mut Compressor) {
        self.name.encode(out, comp);
        out.extend_from_slice(&self.rtype.to_be_bytes());
        out.extend_from_slice(&self.class.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        match &self.data {
            RData::A(ip) => out.extend_from_slice(&ip.octets()),
            RData::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
            RData::Cname(n) | RData::Ptr(n) | RData::Ns(n) => n.encode(out, comp),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&weight.to_be_bytes());
                out.extend_from_slice(&port.to_be_bytes());
                // RFC 2782: the target must not be compressed.
                target.encode_plain(out);
            }
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                mname.encode(out, comp);
                rname.encode(out, comp);
                for v in [serial, refresh, retry, expire, minimum] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            RData::Raw(bytes) => out.extend_from_slice(bytes),
        }
        let rdlen = (out.len() - len_at - 2) as u16;
        out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    }
}
