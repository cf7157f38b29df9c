//! One full benchmark run: every phase against a fresh skiff server, then etcd.

use crate::args::Args;
use crate::conn::{Conn, Endpoint};
use crate::error::BenchError;
use crate::load::{self, LoadResult};
use crate::procs::{self, Server};
use crate::report::{key, Metrics};
use crate::stats::{median, Latency};
use crate::watch::{self, WatchLog};
use crate::workload::{self, Workload};
use http::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Namespaces the phases write to (each phase its own, so LIST and watches see only theirs).
const NAMESPACES: [&str; 4] = ["bench", "paced", "watch", "lag"];
/// The Accept header `kubectl get` sends.
const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
/// How long watchers may trail the last create before the phase gives up on them.
const WATCH_GRACE: Duration = Duration::from_secs(60);
/// Time for the server to settle before an RSS reading.
const SETTLE: Duration = Duration::from_secs(1);

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn progress(msg: &str) {
    eprintln!("  .. {msg}");
}

fn record_load(
    m: &mut Metrics,
    result: &mut LoadResult,
    rate: &'static str,
    p50: &'static str,
    p99: &'static str,
) {
    let lat = Latency::of(&mut result.latencies);
    m.insert(rate, result.rate());
    m.insert(p50, lat.p50_ms);
    m.insert(p99, lat.p99_ms);
}

/// CPU used by the server, by this load generator and by everything else over one phase: on
/// 2 shared cores, the client's and other tenants' shares explain part of any ceiling.
struct CpuMeter {
    server: Duration,
    client: Duration,
    busy: Duration,
    wall: Instant,
}

/// Metric keys a [`CpuMeter`] fills: server µs/op, client µs/op, other processes' cores.
type CpuKeys = (&'static str, &'static str, &'static str);

impl CpuMeter {
    fn start(server: &procs::Process) -> Result<CpuMeter, BenchError> {
        Ok(CpuMeter {
            server: server.cpu()?,
            client: procs::own_cpu()?,
            busy: procs::system_busy()?,
            wall: Instant::now(),
        })
    }

    /// Record µs of CPU per operation for server and client, and the cores used by the rest.
    fn record(
        self,
        server: &procs::Process,
        m: &mut Metrics,
        ops: usize,
        keys: CpuKeys,
    ) -> Result<(), BenchError> {
        let wall = self.wall.elapsed().as_secs_f64();
        let server_cpu = server.cpu()?.saturating_sub(self.server);
        let client_cpu = procs::own_cpu()?.saturating_sub(self.client);
        let busy = procs::system_busy()?.saturating_sub(self.busy);
        let per_op = |d: Duration| d.as_secs_f64() * 1e6 / ops.max(1) as f64;
        m.insert(keys.0, per_op(server_cpu));
        m.insert(keys.1, per_op(client_cpu));
        let other = busy.saturating_sub(server_cpu + client_cpu).as_secs_f64();
        m.insert(keys.2, if wall > 0.0 { other / wall } else { f64::NAN });
        Ok(())
    }
}

/// Run every phase once; the servers are killed on return, error or not.
pub async fn run_once(args: &Args) -> Result<Metrics, BenchError> {
    let mut m = Metrics::new();
    {
        let mut skiff = procs::start_skiff(&args.skiff, &args.tmp_dir).await?;
        progress(&format!(
            "skiff pid {} at {} (data in {})",
            skiff.process.pid(),
            skiff.endpoint.addr,
            skiff.dir().display()
        ));
        let outcome = skiff_phases(args, &mut skiff, &mut m).await;
        if outcome.is_err() {
            eprintln!("skiff log tail:\n{}", skiff.log_tail());
        }
        outcome?;
    }
    if !args.no_etcd {
        let etcd = procs::start_etcd(&args.etcd, &args.tmp_dir).await?;
        progress(&format!(
            "etcd pid {} at {}",
            etcd.process.pid(),
            etcd.endpoint.addr
        ));
        let w = Workload::EtcdPut {
            prefix: "bench-".into(),
        };
        let conns = etcd.endpoint.connect_many(args.clients).await?;
        let cpu = CpuMeter::start(&etcd.process)?;
        let mut r = load::closed_loop(conns, &w, 0, args.creates)
            .await?
            .checked("etcd puts")?;
        let keys = (
            key::ETCD_SERVER_CPU,
            key::ETCD_CLIENT_CPU,
            key::ETCD_OTHER_CPU,
        );
        cpu.record(&etcd.process, &mut m, args.creates, keys)?;
        record_load(&mut m, &mut r, key::ETCD_RATE, key::ETCD_P50, key::ETCD_P99);
        progress(&format!("etcd: {:.0} puts/s", r.rate()));
    }
    Ok(m)
}

async fn skiff_phases(args: &Args, skiff: &mut Server, m: &mut Metrics) -> Result<(), BenchError> {
    let ep = skiff.endpoint.clone();
    tokio::time::sleep(SETTLE).await;
    m.insert(key::RSS_IDLE, mib(skiff.process.rss_kib()?));

    let mut admin = ep.connect().await?;
    for ns in NAMESPACES {
        admin
            .expect(
                Method::POST,
                "/api/v1/namespaces",
                None,
                Some(workload::namespace(ns)),
                201,
            )
            .await?;
    }

    // 10k objects for LIST and the "with objects" RSS reading.
    let stored = Workload::ConfigMaps {
        namespace: "bench".into(),
        prefix: "cm-".into(),
    };
    load::closed_loop(
        ep.connect_many(args.clients).await?,
        &stored,
        0,
        args.objects,
    )
    .await?
    .checked("storing LIST objects")?;
    tokio::time::sleep(SETTLE).await;
    m.insert(key::RSS_OBJECTS, mib(skiff.process.rss_kib()?));
    progress(&format!("stored {} objects", args.objects));

    let path = stored.path();
    let (json_ms, json_bytes) = list(
        &mut admin,
        &path,
        None,
        args.list_runs,
        "items",
        args.objects,
    )
    .await?;
    let (table_ms, table_bytes) = list(
        &mut admin,
        &path,
        Some(TABLE_ACCEPT),
        args.list_runs,
        "rows",
        args.objects,
    )
    .await?;
    m.insert(key::LIST_JSON, json_ms);
    m.insert(key::LIST_TABLE, table_ms);
    m.insert(key::LIST_JSON_MIB, json_bytes as f64 / 1048576.0);
    m.insert(key::LIST_TABLE_MIB, table_bytes as f64 / 1048576.0);
    progress(&format!(
        "LIST: {json_ms:.1} ms JSON, {table_ms:.1} ms Table"
    ));

    let creates = Workload::ConfigMaps {
        namespace: "default".into(),
        prefix: "bench-".into(),
    };
    let conns = ep.connect_many(args.clients).await?;
    let cpu = CpuMeter::start(&skiff.process)?;
    let mut r = load::closed_loop(conns, &creates, 0, args.creates)
        .await?
        .checked("skiff creates")?;
    let keys = (
        key::CREATE_SERVER_CPU,
        key::CREATE_CLIENT_CPU,
        key::CREATE_OTHER_CPU,
    );
    cpu.record(&skiff.process, m, args.creates, keys)?;
    record_load(
        m,
        &mut r,
        key::CREATE_RATE,
        key::CREATE_P50,
        key::CREATE_P99,
    );
    progress(&format!("creates: {:.0}/s", r.rate()));

    let paced = Workload::ConfigMaps {
        namespace: "paced".into(),
        prefix: "p-".into(),
    };
    let n = (args.rate * args.paced_secs).round() as usize;
    let conns = ep.connect_many(args.paced_conns).await?;
    let cpu = CpuMeter::start(&skiff.process)?;
    let mut r = load::open_loop(conns, &paced, 0, n, args.rate)
        .await?
        .checked("paced creates")?;
    let keys = (
        key::PACED_SERVER_CPU,
        key::PACED_CLIENT_CPU,
        key::PACED_OTHER_CPU,
    );
    cpu.record(&skiff.process, m, n, keys)?;
    let lat = Latency::of(&mut r.latencies);
    m.insert(key::PACED_RATE, r.rate());
    m.insert(key::PACED_P50, lat.p50_ms);
    m.insert(key::PACED_P99, lat.p99_ms);
    m.insert(key::PACED_MAX, lat.max_ms);
    progress(&format!(
        "paced: p99 {:.2} ms at {:.0}/s",
        lat.p99_ms,
        r.rate()
    ));

    single_watcher(args, &ep, &mut admin, m).await?;
    watcher_lag(args, &ep, &mut admin, m).await?;

    skiff.process.alive()?;
    m.insert(key::RSS_END, mib(skiff.process.rss_kib()?));
    Ok(())
}

/// Median wall time (ms) of `runs` full-body LISTs, and the body size; checks the item count.
async fn list(
    conn: &mut Conn,
    path: &str,
    accept: Option<&str>,
    runs: usize,
    items: &str,
    want: usize,
) -> Result<(f64, usize), BenchError> {
    let mut times = Vec::with_capacity(runs);
    let mut last = bytes::Bytes::new();
    // One unmeasured warm-up so a cold first request does not decide a 10-sample median.
    for n in 0..=runs {
        let req = conn.request(Method::GET, path, accept, None)?;
        let start = Instant::now();
        let reply = conn.call(req).await?;
        let took = start.elapsed();
        reply.check("GET", path, 200)?;
        if n > 0 {
            times.push(took.as_secs_f64() * 1e3);
        }
        last = reply.body;
    }
    let v: Value = serde_json::from_slice(&last).map_err(|source| BenchError::Body {
        context: "LIST",
        source,
    })?;
    let got = v[items].as_array().map_or(0, Vec::len);
    if got != want {
        return Err(BenchError::Failures {
            phase: format!("LIST {path} ({accept:?})"),
            failed: want.abs_diff(got),
            total: want,
            first: format!("{got} {items} returned"),
        });
    }
    Ok((median(&times).unwrap_or(f64::NAN), last.len()))
}

/// The collection's current resourceVersion (a watch from it sees only later changes).
async fn resource_version(conn: &mut Conn, path: &str) -> Result<String, BenchError> {
    let body = conn
        .expect(Method::GET, &format!("{path}?limit=1"), None, None, 200)
        .await?;
    let v: Value = serde_json::from_slice(&body).map_err(|source| BenchError::Body {
        context: "list resourceVersion",
        source,
    })?;
    Ok(v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string())
}

/// Wait for watchers to finish, stopping the stragglers after `WATCH_GRACE`.
async fn collect(
    handles: Vec<tokio::task::JoinHandle<WatchLog>>,
    stop: &tokio::sync::watch::Sender<bool>,
) -> Result<Vec<WatchLog>, BenchError> {
    let deadline = Instant::now() + WATCH_GRACE;
    let mut logs = Vec::with_capacity(handles.len());
    for mut h in handles {
        let log = match tokio::time::timeout_at(deadline, &mut h).await {
            Ok(r) => r,
            Err(_) => {
                let _ = stop.send(true);
                h.await
            }
        };
        logs.push(log.map_err(BenchError::Join)?);
    }
    Ok(logs)
}

/// One watch stream while 16 clients create objects: how many events/s it receives.
async fn single_watcher(
    args: &Args,
    ep: &Endpoint,
    admin: &mut Conn,
    m: &mut Metrics,
) -> Result<(), BenchError> {
    let w = Arc::new(Workload::ConfigMaps {
        namespace: "watch".into(),
        prefix: "w-".into(),
    });
    let rv = resource_version(admin, &w.path()).await?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let handle = watch::open(ep, w.clone(), &rv, args.objects, stop_rx).await?;
    let conns = ep.connect_many(args.clients).await?;
    let start = Instant::now();
    let r = load::closed_loop(conns, &w, 0, args.objects)
        .await?
        .checked("creates under one watcher")?;
    let log = collect(vec![handle], &stop)
        .await?
        .pop()
        .unwrap_or_default();
    if let Some(e) = &log.error {
        return Err(BenchError::Failures {
            phase: "single watcher".into(),
            failed: args.objects - log.seen.len().min(args.objects),
            total: args.objects,
            first: e.clone(),
        });
    }
    let last = log.seen.iter().map(|(_, t)| *t).max().unwrap_or(start);
    let secs = last.duration_since(start).as_secs_f64();
    m.insert(
        key::WATCH_EVENTS,
        if secs > 0.0 {
            log.seen.len() as f64 / secs
        } else {
            f64::NAN
        },
    );
    m.insert(key::WATCH_CREATES, r.rate());
    progress(&format!(
        "1 watcher: {:.0} events/s ({:.0} creates/s)",
        log.seen.len() as f64 / secs,
        r.rate()
    ));
    Ok(())
}

/// Many watchers while creates arrive at a steady rate: time from each create's acknowledgement
/// to each watcher receiving its event (pooled over all watchers and events).
async fn watcher_lag(
    args: &Args,
    ep: &Endpoint,
    admin: &mut Conn,
    m: &mut Metrics,
) -> Result<(), BenchError> {
    let w = Arc::new(Workload::ConfigMaps {
        namespace: "lag".into(),
        prefix: "l-".into(),
    });
    let n = (args.lag_rate * args.lag_secs).round() as usize;
    let rv = resource_version(admin, &w.path()).await?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::with_capacity(args.watchers);
    for _ in 0..args.watchers {
        handles.push(watch::open(ep, w.clone(), &rv, n, stop_rx.clone()).await?);
    }
    let conns = ep.connect_many(args.clients).await?;
    let r = load::open_loop(conns, &w, 0, n, args.lag_rate)
        .await?
        .checked("creates under many watchers")?;
    let logs = collect(handles, &stop).await?;
    let (mut lags, missing) = lags(&r.acks, &logs, n);
    let lat = Latency::of(&mut lags);
    m.insert(key::LAG_P50, lat.p50_ms);
    m.insert(key::LAG_P99, lat.p99_ms);
    m.insert(key::LAG_MAX, lat.max_ms);
    m.insert(key::LAG_MISSING, missing as f64);
    progress(&format!(
        "{} watchers: lag p50 {:.2} ms p99 {:.2} ms, {missing} missing",
        args.watchers, lat.p50_ms, lat.p99_ms
    ));
    Ok(())
}

/// Lags (event arrival minus create acknowledgement; zero when the event beat the response)
/// and the number of (watcher, object) events never received.
pub fn lags(acks: &[(usize, Instant)], logs: &[WatchLog], n: usize) -> (Vec<Duration>, usize) {
    let mut acked: Vec<Option<Instant>> = vec![None; n];
    for &(i, t) in acks {
        if let Some(slot) = acked.get_mut(i) {
            *slot = Some(t);
        }
    }
    let mut lags = Vec::with_capacity(logs.len() * n);
    let mut missing = 0;
    for log in logs {
        let mut got = vec![false; n];
        for &(i, t) in &log.seen {
            if let (Some(Some(a)), Some(g)) = (acked.get(i), got.get_mut(i)) {
                if !*g {
                    *g = true;
                    lags.push(t.saturating_duration_since(*a));
                }
            }
        }
        missing += got.iter().filter(|g| !**g).count();
    }
    (lags, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_pair_events_with_acks() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let acks = vec![(0, ms(10)), (1, ms(20)), (2, ms(30))];
        let logs = vec![
            // Every event, one of them before its ack (counted as zero lag), one duplicate.
            WatchLog {
                seen: vec![(0, ms(12)), (1, ms(19)), (2, ms(35)), (2, ms(90))],
                error: None,
            },
            // Missing object 2; an index outside the workload is ignored.
            WatchLog {
                seen: vec![(0, ms(15)), (1, ms(21)), (7, ms(50))],
                error: None,
            },
        ];
        let (mut got, missing) = lags(&acks, &logs, 3);
        got.sort();
        let want: Vec<Duration> = [0, 1, 2, 5, 5]
            .iter()
            .map(|&x| Duration::from_millis(x))
            .collect();
        assert_eq!(got, want);
        assert_eq!(missing, 1);
    }

    #[test]
    fn unacknowledged_creates_are_not_lags() {
        let t0 = Instant::now();
        let logs = vec![WatchLog {
            seen: vec![(0, t0)],
            error: None,
        }];
        let (got, missing) = lags(&[], &logs, 1);
        assert!(got.is_empty());
        assert_eq!(missing, 1);
    }
}
