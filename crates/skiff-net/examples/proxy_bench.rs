//! Network programming latency of the service proxy with real nft: 1,000 Services × 10
//! endpoints in a private network namespace, then endpoint changes one at a time, each
//! timed from handing the EndpointSlice to the proxy to `nft` having committed it.
//! Run as root: `cargo run --release -p skiff-net --example proxy_bench [services] [changes]`.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;
use skiff_net::{Nft, ProxyConfig, ServiceProxy};
use std::process::Command;
use std::time::{Duration, Instant};

/// Deletes the benchmark's namespace however the run ends.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn service(i: usize) -> Service {
    let ip = format!("10.43.{}.{}", i / 250, i % 250 + 1);
    serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": format!("svc-{i}")},
        "spec": {"type": if i.is_multiple_of(10) { "NodePort" } else { "ClusterIP" },
                 "clusterIP": ip, "clusterIPs": [ip],
                 "ports": [{"name": "http", "port": 80, "nodePort": 30000 + i}]}
    }))
    .expect("service")
}

/// Slice of Service `i`, version `v` (the last endpoint's address moves with `v`).
fn slice(i: usize, v: usize) -> EndpointSlice {
    let eps: Vec<_> = (0..10)
        .map(|e| {
            let host = if e == 9 { 10 + v % 200 } else { e + 1 };
            json!({"addresses": [format!("10.42.{}.{}", i % 250, host)],
                   "nodeName": if e.is_multiple_of(2) { "node-a" } else { "node-b" },
                   "conditions": {"ready": true}})
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": format!("svc-{i}-x"),
                     "labels": {"kubernetes.io/service-name": format!("svc-{i}")}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": eps
    }))
    .expect("slice")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let services: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let changes: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let ns = Netns(format!("skt-nft-bench-{}", std::process::id()));
    let status = Command::new("ip").args(["netns", "add", &ns.0]).status()?;
    if !status.success() {
        return Err("ip netns add failed (run as root)".into());
    }
    let mut cfg = ProxyConfig::new(
        "node-a",
        vec!["192.168.250.1".parse()?],
        "10.42.0.0/16".parse()?,
    );
    cfg.nft = Nft::in_netns(&ns.0);
    let mut proxy = ServiceProxy::new(cfg);
    for i in 0..services {
        proxy.apply_service(service(i));
        proxy.apply_slice(slice(i, 0));
    }
    let t = Instant::now();
    proxy.sync().await?;
    let full = t.elapsed();
    let listed = Nft::in_netns(&ns.0)
        .run(&["list", "table", "inet", "skiff"])
        .await?;
    let chains = listed.matches("\tchain ").count();
    println!(
        "full sync: {services} services x 10 endpoints, {chains} chains, {:.1} ms",
        full.as_secs_f64() * 1e3
    );

    let mut lat = Vec::with_capacity(changes);
    for c in 0..changes {
        // Spread the changes over the Services (a fixed stride keeps runs comparable).
        let i = (c * 7919) % services;
        let t = Instant::now();
        proxy.apply_slice(slice(i, c + 1));
        proxy.sync().await?;
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "endpoint change -> committed, {changes} changes: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
    );
    print!(
        "{}",
        skiff_net::proxy_metrics()
            .lines()
            .filter(|l| l.contains("_count"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    Ok(())
}
