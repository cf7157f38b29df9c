//! Relaying queries outside the cluster zone to upstream resolvers (the host's, from
//! /etc/resolv.conf), over the transport the client used.

use crate::wire::Message;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

/// How long a forwarded query may take before the client gets SERVFAIL.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Relays raw queries to upstream resolvers.
#[derive(Debug, Clone)]
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
}

impl Forwarder {
    /// Forward to `upstreams`, tried in order, all within `timeout`.
    pub fn new(upstreams: Vec<SocketAddr>, timeout: Duration) -> Forwarder {
        Forwarder { upstreams, timeout }
    }

    /// The upstream resolvers.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// Send `query` upstream (over TCP when `tcp`) and return the first answer, or `None`
    /// when every upstream failed or the time ran out.
    pub async fn relay(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let id = Message::peek_id(query)?;
        let deadline = Instant::now() + self.timeout;
        for (i, upstream) in self.upstreams.iter().enumerate() {
            // Share what time is left among the upstreams not tried yet, so one dead
            // resolver does not eat the whole budget.
            let left = deadline.saturating_duration_since(Instant::now());
            let share = left / (self.upstreams.len() - i) as u32;
            let attempt = async {
                if tcp {
                    relay_tcp(*upstream, query).await
                } else {
                    relay_udp(*upstream, query, id).await
                }
            };
            match tokio::time::timeout(share, attempt).await {
                Ok(Ok(answer)) => return Some(answer),
                Ok(Err(e)) => tracing::debug!(%upstream, error = %e, "upstream failed"),
                Err(_) => tracing::debug!(%upstream, "upstream timed out"),
            }
        }
        None
    }
}

async fn relay_udp(upstream: SocketAddr, query: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = match upstream.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(upstream).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        // A stray or spoofed datagram with another id is not the answer.
        if Message::peek_id(&buf[..n]) == Some(id) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn relay_tcp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream).await?;
    write_frame(&mut conn, query).await?;
    read_frame(&mut conn).await
}

/// Write one length-prefixed DNS message (RFC 1035 4.2.2).
pub async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, msg: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "message over 64 KiB")
    })?;
    let mut frame = Vec::with_capacity(msg.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(msg);
    w.write_all(&frame).await
}

/// Read one length-prefixed DNS message.
pub async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).await?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

/// The `nameserver` addresses of a resolv.conf, on port 53.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            // A scoped IPv6 address (fe80::1%eth0) cannot be parsed as an IpAddr; skip it.
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text =
            "# generated\nsearch example.com\nnameserver 192.0.2.1\nnameserver  2001:db8::1 \n\
                    nameserver fe80::1%eth0\noptions ndots:5\n#nameserver 192.0.2.9\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "192.0.2.1:53".parse::<SocketAddr>().unwrap(),
                "[2001:db8::1]:53".parse().unwrap()
            ]
        );
    }
}
