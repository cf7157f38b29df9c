//! Who may query the server. The cluster DNS listens on the node's address, so without a
//! filter anyone who reaches that address could use it as an open resolver (relaying to the
//! host's upstreams); queries from anyone else are answered REFUSED, like a resolver's ACL.

use std::net::IpAddr;

/// Decides whether a client address may be served.
pub trait ClientFilter: Send + Sync {
    /// True when queries from `client` are answered.
    fn allows(&self, client: IpAddr) -> bool;
}

/// Every client is served (tests, tools on loopback).
#[derive(Debug, Default, Clone, Copy)]
pub struct AnyClient;

impl ClientFilter for AnyClient {
    fn allows(&self, _client: IpAddr) -> bool {
        true
    }
}
