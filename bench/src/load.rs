//! Create load generators: closed loop (as fast as N clients can go) and open loop (paced).

use crate::conn::Conn;
use crate::error::BenchError;
use crate::workload::Workload;
use bytes::Bytes;
use http::Method;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The outcome of one create workload.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Requests attempted.
    pub total: usize,
    /// Wall time from the first request to the last acknowledgement.
    pub elapsed: Duration,
    /// Latency of every successful request (open loop: from its scheduled start).
    pub latencies: Vec<Duration>,
    /// `(index, when its response arrived)` for every successful create.
    pub acks: Vec<(usize, Instant)>,
    /// Failed requests (wrong status or broken connection).
    pub failed: usize,
    /// The first failure, for the error message.
    pub first_failure: Option<String>,
}

impl LoadResult {
    /// Successful requests per second over the whole run.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latencies.len() as f64 / secs
        } else {
            0.0
        }
    }

    /// Fail when any request failed: a benchmark of partly failing writes measures nothing.
    pub fn checked(self, phase: &str) -> Result<LoadResult, BenchError> {
        let failed = self.failed
            + self
                .total
                .saturating_sub(self.failed + self.latencies.len());
        if failed == 0 {
            return Ok(self);
        }
        Err(BenchError::Failures {
            phase: phase.to_string(),
            failed,
            total: self.total,
            first: self
                .first_failure
                .unwrap_or_else(|| "workers stopped early".to_string()),
        })
    }

    fn merge(&mut self, part: WorkerResult) {
        self.latencies.extend(part.latencies);
        self.acks.extend(part.acks);
        self.failed += part.failed;
        if self.first_failure.is_none() {
            self.first_failure = part.first_failure;
        }
    }
}

/// What one client connection observed.
#[derive(Default)]
struct WorkerResult {
    latencies: Vec<Duration>,
    acks: Vec<(usize, Instant)>,
    failed: usize,
    first_failure: Option<String>,
}

impl WorkerResult {
    fn fail(&mut self, why: String) {
        self.failed += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(why);
        }
    }
}

/// Send create `i` on `conn` and record the outcome; `Err` only when the connection broke.
async fn create(
    conn: &mut Conn,
    path: &str,
    body: Bytes,
    expected: u16,
    out: &mut WorkerResult,
    started: Instant,
    i: usize,
) -> Result<(), BenchError> {
    let req = conn.request(Method::POST, path, None, Some(body))?;
    let reply = conn.call(req).await?;
    let now = Instant::now();
    match reply.check("POST", path, expected) {
        Ok(()) => {
            out.latencies.push(now.duration_since(started));
            out.acks.push((i, now));
        }
        Err(e) => out.fail(e.to_string()),
    }
    Ok(())
}

/// Bodies are built before the clock starts so the load generator spends its CPU on I/O.
fn bodies(workload: &Workload, range: std::ops::Range<usize>) -> Arc<Vec<Bytes>> {
    Arc::new(range.map(|i| workload.body(i)).collect())
}

async fn join(mut set: JoinSet<WorkerResult>, result: &mut LoadResult) -> Result<(), BenchError> {
    while let Some(part) = set.join_next().await {
        result.merge(part.map_err(BenchError::Join)?);
    }
    Ok(())
}

/// Create objects `first..first+n` as fast as the connections allow, each connection one
/// request at a time (a closed loop of `conns.len()` clients).
pub async fn closed_loop(
    conns: Vec<Conn>,
    workload: &Workload,
    first: usize,
    n: usize,
) -> Result<LoadResult, BenchError> {
    let bodies = bodies(workload, first..first + n);
    let next = Arc::new(AtomicUsize::new(0));
    let path: Arc<str> = workload.path().into();
    let expected = workload.expected();
    let start = Instant::now();
    let mut set = JoinSet::new();
    for mut conn in conns {
        let (bodies, next, path) = (bodies.clone(), next.clone(), path.clone());
        set.spawn(async move {
            let mut out = WorkerResult::default();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(k) else { break };
                if let Err(e) = create(
                    &mut conn,
                    &path,
                    body.clone(),
                    expected,
                    &mut out,
                    Instant::now(),
                    first + k,
                )
                .await
                {
                    // A broken connection ends this client; the others take over its share.
                    out.fail(e.to_string());
                    break;
                }
            }
            out
        });
    }
    let mut result = LoadResult {
        total: n,
        ..LoadResult::default()
    };
    join(set, &mut result).await?;
    result.elapsed = last_ack(&result.acks, start);
    Ok(result)
}

/// Create objects `first..first+n` at a fixed offered `rate` per second, whether or not earlier
/// requests have finished (open loop). Latency is measured from each request's scheduled start,
/// so time spent queued behind a slow server counts (no coordinated omission).
pub async fn open_loop(
    conns: Vec<Conn>,
    workload: &Workload,
    first: usize,
    n: usize,
    rate: f64,
) -> Result<LoadResult, BenchError> {
    let bodies = bodies(workload, first..first + n);
    let path: Arc<str> = workload.path().into();
    let expected = workload.expected();
    let (tx, rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let mut set = JoinSet::new();
    for mut conn in conns {
        let (bodies, path, rx) = (bodies.clone(), path.clone(), rx.clone());
        set.spawn(async move {
            let mut out = WorkerResult::default();
            loop {
                // Only the idle connection waiting for work holds the lock.
                let job = rx.lock().await.recv().await;
                let Some((k, scheduled)) = job else { break };
                let Some(body) = bodies.get(k) else { break };
                if let Err(e) = create(
                    &mut conn,
                    &path,
                    body.clone(),
                    expected,
                    &mut out,
                    scheduled,
                    first + k,
                )
                .await
                {
                    out.fail(e.to_string());
                    break;
                }
            }
            out
        });
    }
    let period = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let start = Instant::now();
    for k in 0..n {
        let at = start + period.mul_f64(k as f64);
        tokio::time::sleep_until(at).await;
        if tx.send((k, at)).is_err() {
            break; // every worker is gone; the count check reports it
        }
    }
    drop(tx);
    let mut result = LoadResult {
        total: n,
        ..LoadResult::default()
    };
    join(set, &mut result).await?;
    result.elapsed = last_ack(&result.acks, start);
    Ok(result)
}

fn last_ack(acks: &[(usize, Instant)], start: Instant) -> Duration {
    acks.iter()
        .map(|(_, t)| t.duration_since(start))
        .max()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_counts_missing_requests_as_failures() {
        let ok = LoadResult {
            total: 2,
            latencies: vec![Duration::from_millis(1); 2],
            ..LoadResult::default()
        };
        assert!(ok.checked("x").is_ok());
        let cases = [(3, 2, 0, 1), (3, 1, 1, 2), (2, 0, 2, 2)];
        for (total, done, failed, want) in cases {
            let r = LoadResult {
                total,
                latencies: vec![Duration::from_millis(1); done],
                failed,
                ..LoadResult::default()
            };
            match r.checked("phase") {
                Err(BenchError::Failures { failed, .. }) => {
                    assert_eq!(failed, want, "total {total} done {done}")
                }
                other => panic!("expected a failure, got {other:?}"),
            }
        }
    }

    #[test]
    fn rate_is_successes_per_second() {
        let r = LoadResult {
            total: 10,
            elapsed: Duration::from_millis(500),
            latencies: vec![Duration::ZERO; 10],
            ..LoadResult::default()
        };
        assert!((r.rate() - 20.0).abs() < 1e-9);
        assert_eq!(LoadResult::default().rate(), 0.0);
    }
}
