//! A closed-loop HTTP/1.0 load generator: each worker connects, sends one GET, reads the
//! answer to EOF, and repeats — one TCP connection per request, so every request pays the
//! connection setup (and, through a Service, the DNAT decision) as short-lived service calls do.

use crate::stats::Latency;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What one load run measured.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct LoadResult {
    /// Completed requests per second.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Requests that failed.
    pub errors: u64,
}

async fn one_request(addr: SocketAddr) -> std::io::Result<()> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
        .await?;
    let mut buf = Vec::with_capacity(1024);
    s.read_to_end(&mut buf).await?;
    if buf.starts_with(b"HTTP/1.") && buf.windows(3).any(|w| w == b"200") {
        Ok(())
    } else {
        Err(std::io::Error::other("not a 200 answer"))
    }
}

/// `workers` concurrent clients against `addr` for `duration`.
pub async fn run(addr: SocketAddr, workers: usize, duration: Duration) -> LoadResult {
    let end = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                match tokio::time::timeout(Duration::from_secs(5), one_request(addr)).await {
                    Ok(Ok(())) => samples.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (samples, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((s, e)) = t.await {
            all.extend(s);
            errors += e;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = all.len();
    let lat = Latency::of(&mut all);
    LoadResult {
        rps: n as f64 / secs,
        p50_ms: lat.p50_ms,
        p99_ms: lat.p99_ms,
        errors,
    }
}
