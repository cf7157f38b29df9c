//! Durable-create throughput and list latency of the SQLite store (not a test; prints numbers).
//! `cargo run --release -p skiff-store --example store_bench -- [writers] [total] [dir]`

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use skiff_store::{SqliteStore, Store, StoreOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let writers: usize = args.get(1).map_or(Ok(16), |s| s.parse())?;
    let total: usize = args.get(2).map_or(Ok(20_000), |s| s.parse())?;
    let dir = match args.get(3) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("skiff-store-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.db");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = SqliteStore::open(&path, StoreOptions::default())?;
        let payload = "x".repeat(1024 - 120);
        let per = total / writers;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let store = Arc::clone(&store);
            let payload = payload.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let name = format!("cm-{w}-{i}");
                    let value = json!({"apiVersion":"v1","kind":"ConfigMap",
                        "metadata":{"name":name,"namespace":"bench"},"data":{"payload":payload}});
                    let t = Instant::now();
                    store
                        .create(format!("/registry/configmaps/bench/{name}"), value)
                        .await?;
                    lat.push(t.elapsed());
                }
                Ok::<_, skiff_store::StoreError>(lat)
            }));
        }
        let mut lat = Vec::new();
        for task in tasks {
            lat.extend(task.await??);
        }
        let secs = start.elapsed().as_secs_f64();
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
        println!(
            "{} durable creates by {writers} writers in {secs:.2}s: {:.0}/s, p50 {:?}, p99 {:?}",
            lat.len(),
            lat.len() as f64 / secs,
            p(0.5),
            p(0.99)
        );
        let t = Instant::now();
        let (items, rev) = store.list("/registry/configmaps/bench/");
        println!(
            "list {} objects at rev {rev}: {:?}",
            items.len(),
            t.elapsed()
        );
        store.close().await;
        let t = Instant::now();
        let store = SqliteStore::open(&path, StoreOptions::default())?;
        println!(
            "reopen with {} objects: {:?}",
            store.list("/").0.len(),
            t.elapsed()
        );
        store.close().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
