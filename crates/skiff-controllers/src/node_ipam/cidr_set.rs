//! The cluster CIDR cut into equal node subnets (upstream's cidrset): allocate the next
//! free one round-robin, occupy ones already on nodes, release ones of deleted nodes.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address (host bits zero).
    pub addr: Ipv4Addr,
    /// The prefix length (0–32).
    pub prefix: u8,
}

/// A CIDR that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid IPv4 CIDR {0:?}")]
pub struct BadCidr(pub String);

impl Cidr {
    /// A network from any address inside it (host bits are cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Cidr> {
        (prefix <= 32).then(|| Cidr {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl FromStr for Cidr {
    type Err = BadCidr;
    fn from_str(s: &str) -> Result<Cidr, BadCidr> {
        let bad = || BadCidr(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        let c = Cidr::new(addr, prefix).ok_or_else(bad)?;
        // A node's CIDR must be a network address, as the API validates it.
        (c.addr == addr).then_some(c).ok_or_else(bad)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The node subnets of one cluster CIDR.
#[derive(Debug, Clone)]
pub struct CidrSet {
    cluster: Cidr,
    node_prefix: u8,
    used: Vec<bool>,
    next: usize,
}

impl CidrSet {
    /// Subnets of `/node_prefix` in `cluster` (`None` if they would not fit, or there would
    /// be more than 2^16 of them).
    pub fn new(cluster: Cidr, node_prefix: u8) -> Option<CidrSet> {
        if node_prefix < cluster.prefix || node_prefix > 32 || node_prefix - cluster.prefix > 16 {
            return None;
        }
        Some(CidrSet {
            cluster,
            node_prefix,
            used: vec![false; 1usize << (node_prefix - cluster.prefix)],
            next: 0,
        })
    }

    fn subnet(&self, i: usize) -> Cidr {
        let step = 1u64 << (32 - u32::from(self.node_prefix));
        let base = u64::from(u32::from(self.cluster.addr)) + step * i as u64;
        Cidr {
            addr: Ipv4Addr::from(u32::try_from(base).unwrap_or(u32::MAX)),
            prefix: self.node_prefix,
        }
    }

    fn index(&self, c: Cidr) -> Option<usize> {
        if c.prefix != self.node_prefix
            || Cidr::new(c.addr, self.cluster.prefix) != Some(self.cluster)
        {
            return None;
        }
        let off = u32::from(c.addr) - u32::from(self.cluster.addr);
        Some((off >> (32 - u32::from(self.node_prefix))) as usize)
    }

    /// The next free subnet, now in use; `None` when all are taken.
    pub fn allocate(&mut self) -> Option<Cidr> {
        let n = self.used.len();
        let i = (0..n)
            .map(|k| (self.next + k) % n)
            .find(|&i| !self.used[i])?;
        self.used[i] = true;
        self.next = (i + 1) % n;
        Some(self.subnet(i))
    }

    /// Mark `c` used; false when it is not one of this set's subnets.
    pub fn occupy(&mut self, c: Cidr) -> bool {
        match self.index(c) {
            Some(i) => {
                self.used[i] = true;
                true
            }
            None => false,
        }
    }

    /// Mark `c` free again.
    pub fn release(&mut self, c: Cidr) {
        if let Some(i) = self.index(c) {
            self.used[i] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().expect("cidr")
    }

    #[test]
    fn allocates_round_robin_skipping_used_subnets() {
        let mut set = CidrSet::new(c("10.42.0.0/16"), 24).expect("set");
        assert!(set.occupy(c("10.42.1.0/24")));
        assert_eq!(set.allocate(), Some(c("10.42.0.0/24")));
        assert_eq!(set.allocate(), Some(c("10.42.2.0/24")));
        set.release(c("10.42.0.0/24"));
        // Round-robin: a released subnet is reused only after the rest.
        assert_eq!(set.allocate(), Some(c("10.42.3.0/24")));
        assert!(!set.occupy(c("10.43.0.0/24")));
        assert!(!set.occupy(c("10.42.0.0/25")));
    }

    #[test]
    fn exhaustion_and_reuse_after_release() {
        let mut set = CidrSet::new(c("10.42.0.0/23"), 24).expect("set");
        assert_eq!(set.allocate(), Some(c("10.42.0.0/24")));
        assert_eq!(set.allocate(), Some(c("10.42.1.0/24")));
        assert_eq!(set.allocate(), None);
        set.release(c("10.42.0.0/24"));
        assert_eq!(set.allocate(), Some(c("10.42.0.0/24")));
    }

    #[test]
    fn parsing() {
        assert_eq!(c("10.42.0.0/16").to_string(), "10.42.0.0/16");
        assert!("10.42.0.1/16".parse::<Cidr>().is_err());
        assert!("10.42.0.0".parse::<Cidr>().is_err());
        assert!(CidrSet::new(c("10.42.0.0/24"), 16).is_none());
    }
}
