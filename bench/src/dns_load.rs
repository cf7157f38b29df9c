//! Cluster DNS query load: concurrent UDP clients, each asking one name in a closed loop
//! for a fixed time; queries/s and latency percentiles of the answered ones.

use crate::error::BenchError;
use crate::stats::Latency;
use skiff_dns::wire::{rcode, Message, Name};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// What to send.
#[derive(Debug, Clone)]
pub struct DnsLoad {
    /// The DNS server.
    pub server: SocketAddr,
    /// The name asked (e.g. `kubernetes.default.svc.cluster.local`).
    pub name: String,
    /// Query type (1 = A).
    pub qtype: u16,
    /// Clients, each with one query in flight.
    pub concurrency: usize,
    /// How long to send.
    pub duration: Duration,
    /// A query unanswered this long counts as lost.
    pub timeout: Duration,
}

/// What came back.
#[derive(Debug, Clone, Copy)]
pub struct DnsLoadResult {
    /// Queries answered NOERROR with at least one record.
    pub answered: u64,
    /// Queries lost (timeout) or answered with an error or no records.
    pub failed: u64,
    /// Answered queries per second of the run.
    pub qps: f64,
    /// Latency of the answered queries.
    pub latency: Latency,
}

/// Run the load.
pub async fn run(load: &DnsLoad) -> Result<DnsLoadResult, BenchError> {
    let name = Name::parse(&load.name)
        .map_err(|e| BenchError::Node(format!("bad name {:?}: {e}", load.name)))?;
    let started = Instant::now();
    let deadline = started + load.duration;
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..load.concurrency.max(1) {
        let load = load.clone();
        let name = name.clone();
        workers.spawn(async move { client(&load, name, w as u16, deadline).await });
    }
    let mut samples = Vec::new();
    let (mut answered, mut failed) = (0u64, 0u64);
    while let Some(r) = workers.join_next().await {
        let (mut s, lost) = r.map_err(|e| BenchError::Node(format!("dns client: {e}")))??;
        answered += s.len() as u64;
        failed += lost;
        samples.append(&mut s);
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    Ok(DnsLoadResult {
        answered,
        failed,
        qps: answered as f64 / secs,
        latency: Latency::of(&mut samples),
    })
}

/// One client: returns the latencies of its answered queries and how many failed.
async fn client(
    load: &DnsLoad,
    name: Name,
    worker: u16,
    deadline: Instant,
) -> Result<(Vec<Duration>, u64), BenchError> {
    let local: SocketAddr = if load.server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |e: std::io::Error| BenchError::Node(format!("dns client socket: {e}"));
    let sock = UdpSocket::bind(local).await.map_err(io)?;
    sock.connect(load.server).await.map_err(io)?;
    let mut buf = vec![0u8; 65535];
    let mut samples = Vec::new();
    let mut failed = 0u64;
    // Ids differ per worker so a late answer to an earlier query is never taken for the
    // current one.
    let mut id = worker.wrapping_mul(4099);
    while Instant::now() < deadline {
        id = id.wrapping_add(1);
        let query = Message::query(id, name.clone(), load.qtype).encode();
        let sent = Instant::now();
        sock.send(&query).await.map_err(io)?;
        let answer = tokio::time::timeout(load.timeout, async {
            loop {
                let n = sock.recv(&mut buf).await?;
                if Message::peek_id(&buf[..n]) == Some(id) {
                    return Ok::<_, std::io::Error>(n);
                }
            }
        })
        .await;
        match answer {
            Ok(Ok(n)) => match Message::decode(&buf[..n]) {
                Ok(m) if m.header.rcode == rcode::NOERROR && !m.answers.is_empty() => {
                    samples.push(sent.elapsed())
                }
                _ => failed += 1,
            },
            // ICMP port unreachable surfaces as ECONNREFUSED on a connected socket.
            Ok(Err(_)) | Err(_) => failed += 1,
        }
    }
    Ok((samples, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback responder that answers every query with one A record.
    async fn responder() -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                let Ok(q) = Message::decode(&buf[..n]) else {
                    continue;
                };
                let mut r = q.response(rcode::NOERROR);
                r.answers.push(skiff_dns::wire::Record::new(
                    q.questions[0].name.clone(),
                    5,
                    skiff_dns::wire::RData::A(Ipv4Addr::new(10, 43, 0, 1)),
                ));
                let _ = sock.send_to(&r.encode(), peer).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn counts_answered_queries_and_losses() {
        let server = responder().await;
        let mut load = DnsLoad {
            server,
            name: "kubernetes.default.svc.cluster.local".into(),
            qtype: 1,
            concurrency: 4,
            duration: Duration::from_millis(300),
            timeout: Duration::from_millis(100),
        };
        let r = run(&load).await.unwrap();
        assert!(r.answered > 10, "{r:?}");
        assert_eq!(r.failed, 0);
        assert!(r.qps > 0.0 && r.latency.p99_ms >= r.latency.p50_ms);
        // Nobody listening: everything is lost, nothing answered.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        load.server = silent.local_addr().unwrap();
        let r = run(&load).await.unwrap();
        assert_eq!(r.answered, 0);
        assert!(r.failed > 0);
    }
}
