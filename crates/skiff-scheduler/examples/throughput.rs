//! Pure scheduling throughput: N fake nodes in the snapshot, P pods scheduled and
//! assumed one after another (no API, no binding). Run with
//! `cargo run --release -p skiff-scheduler --example throughput -- 5000 50000`.

use skiff_scheduler::resources::Resources;
use skiff_scheduler::{Algorithm, Framework, NodeInfo, PodInfo, Snapshot};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let nodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let pods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let mut snapshot = Snapshot::new();
    for i in 0..nodes {
        snapshot.upsert_node_info(NodeInfo {
            name: format!("node-{i}"),
            labels: BTreeMap::from([
                ("kubernetes.io/hostname".to_string(), format!("node-{i}")),
                (
                    "topology.kubernetes.io/zone".to_string(),
                    format!("zone-{}", i % 3),
                ),
            ]),
            allocatable: Resources {
                milli_cpu: 32_000,
                memory: 128 << 30,
                pods: 110,
                ..Default::default()
            },
            ..Default::default()
        });
    }
    let mut algorithm = Algorithm::new(Framework::default(), 0);
    let started = Instant::now();
    let mut placed = 0usize;
    for i in 0..pods {
        let pod = PodInfo {
            namespace: "bench".into(),
            name: format!("pod-{i}"),
            labels: BTreeMap::from([("app".to_string(), format!("app-{}", i % 50))]),
            requests: Resources {
                milli_cpu: 100,
                memory: 128 << 20,
                pods: 1,
                ..Default::default()
            },
            non_zero_milli_cpu: 100,
            non_zero_memory: 128 << 20,
            can_preempt: true,
            scheduler_name: "default-scheduler".into(),
            ..Default::default()
        };
        if let Ok(r) = algorithm.schedule(&pod, &snapshot) {
            snapshot.assume(&pod, &r.node);
            placed += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{nodes} nodes, {placed}/{pods} pods placed in {secs:.2}s: {:.0} pods/s",
        pods as f64 / secs
    );
}
