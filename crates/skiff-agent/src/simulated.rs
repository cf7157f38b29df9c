//! Simulated (kwok-like) nodes for scale tests: N Node objects with leases, whose pods go
//! Running and Ready at once and vanish at once when deleted. One pod watch and a small pool
//! of concurrent API writes serve every node; nothing runs per node.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures_util::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, NodeSpec, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::machine::MachineInfo;

/// The label every simulated node carries.
pub const SIMULATED_LABEL: &str = "skiff.dev/simulated";
/// Concurrent API writes of the simulator.
const PARALLEL: usize = 32;
const LEASE_EVERY: Duration = Duration::from_secs(10);
const STATUS_EVERY: Duration = Duration::from_secs(60);

fn sim_machine() -> MachineInfo {
    MachineInfo {
        cpus: 32,
        memory: 256 * 1024 * 1024 * 1024,
        memory_available: 256 * 1024 * 1024 * 1024,
        disk_total: 1024 * 1024 * 1024 * 1024,
        disk_available: 1024 * 1024 * 1024 * 1024,
        kernel_version: "simulated".into(),
        os_image: "Skiff simulated node".into(),
        architecture: "amd64".into(),
        machine_id: String::new(),
        pids: (0, 4_194_304),
    }
}

fn sim_config(name: &str, index: u32) -> AgentConfig {
    let mut cfg = AgentConfig::new(name, std::env::temp_dir());
    cfg.labels.insert(SIMULATED_LABEL.into(), "true".into());
    cfg.labels.insert("type".into(), "kwok".into());
    cfg.internal_ip = format!("10.{}.{}.1", 128 + (index >> 8), index & 255);
    cfg.runtime_version = "simulated://0.1.0".into();
    cfg
}

async fn register(client: &Client, name: &str, index: u32) -> Result<Option<String>, kube::Error> {
    let cfg = sim_config(name, index);
    let m = sim_machine();
    let api: Api<Node> = Api::all(client.clone());
    let node = Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(crate::node::node_labels(&cfg, &m)),
            annotations: Some(BTreeMap::from([
                ("kwok.x-k8s.io/node".to_string(), "fake".to_string()),
                ("skiff.dev/simulated".to_string(), "true".to_string()),
            ])),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: None,
    };
    let created = match api.create(&PostParams::default(), &node).await {
        Ok(n) => n,
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(name).await?,
        Err(e) => return Err(e),
    };
    crate::node::write_status(
        client,
        name,
        &crate::node::node_status(&cfg, &m, created.status.as_ref()),
    )
    .await?;
    crate::lease::renew(client, name, created.metadata.uid.as_deref()).await?;
    Ok(created.metadata.uid)
}

enum PodAction {
    Run(Pod),
    Delete(Pod),
}

/// Register `nodes` simulated nodes named `<name_prefix>-<i>` and run their pods until shutdown.
pub async fn run_simulated(
    client: Client,
    nodes: u32,
    name_prefix: &str,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let names: Vec<(u32, String)> = (0..nodes)
        .map(|i| (i, format!("{name_prefix}-{i}")))
        .collect();
    let index: HashMap<String, u32> = names.iter().map(|(i, n)| (n.clone(), *i)).collect();
    let uids: Vec<(String, Option<String>)> = stream::iter(names.iter().cloned())
        .map(|(i, n)| {
            let client = client.clone();
            async move { register(&client, &n, i).await.map(|uid| (n, uid)) }
        })
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
    tracing::info!(nodes, prefix = name_prefix, "simulated nodes registered");

    let api: Api<Pod> = Api::all(client.clone());
    let mut pods = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut next_ip: HashMap<u32, u32> = HashMap::new();
    let mut handled: HashSet<String> = HashSet::new();
    let mut queue: Vec<PodAction> = Vec::new();
    let mut lease_at = Instant::now() + LEASE_EVERY;
    let mut status_at = Instant::now() + STATUS_EVERY;
    let mut flush = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            ev = pods.try_next() => {
                let pod = match ev {
                    Ok(Some(Event::Apply(p) | Event::InitApply(p))) => p,
                    Ok(Some(Event::Delete(p))) => {
                        if let Some(uid) = p.metadata.uid.as_ref() { handled.remove(uid); }
                        continue;
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) => return Ok(()),
                    Err(e) => { tracing::warn!(error = %e, "simulated pod watch failed"); continue; }
                };
                let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else { continue };
                let Some(&i) = index.get(&node) else { continue };
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                if pod.metadata.deletion_timestamp.is_some() {
                    queue.push(PodAction::Delete(pod));
                } else if !handled.contains(&uid) && pod.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Running") {
                    handled.insert(uid);
                    let n = next_ip.entry(i).or_insert(1);
                    *n = if *n >= 254 { 2 } else { *n + 1 };
                    let mut pod = pod;
                    let ip = format!("10.{}.{}.{}", 128 + (i >> 8), i & 255, n);
                    pod.status.get_or_insert_with(Default::default).pod_ip = Some(ip);
                    pod.status.get_or_insert_with(Default::default).host_ip = Some(format!("10.{}.{}.1", 128 + (i >> 8), i & 255));
                    queue.push(PodAction::Run(pod));
                }
            }
            _ = flush.tick() => {
                let now = Instant::now();
                if !queue.is_empty() {
                    let batch = std::mem::take(&mut queue);
                    stream::iter(batch).for_each_concurrent(PARALLEL, |a| apply(&client, a)).await;
                }
                if now >= lease_at {
                    lease_at = now + LEASE_EVERY;
                    stream::iter(uids.iter()).for_each_concurrent(PARALLEL, |(n, uid)| {
                        let client = client.clone();
                        async move {
                            if let Err(e) = crate::lease::renew(&client, n, uid.as_deref()).await {
                                tracing::debug!(node = %n, error = %e, "simulated lease renewal failed");
                            }
                        }
                    }).await;
                }
                if now >= status_at {
                    status_at = now + STATUS_EVERY;
                    stream::iter(names.iter()).for_each_concurrent(PARALLEL, |(i, n)| {
                        let client = client.clone();
                        async move {
                            let status = crate::node::node_status(&sim_config(n, *i), &sim_machine(), None);
                            if let Err(e) = crate::node::write_status(&client, n, &status).await {
                                tracing::debug!(node = %n, error = %e, "simulated node status failed");
                            }
                        }
                    }).await;
                }
            }
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

async fn apply(client: &Client, action: PodAction) {
    match action {
        PodAction::Run(pod) => {
            let ns = pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let status = pod.status.clone().unwrap_or_default();
            let now = crate::time::now();
            let spec = pod.spec.clone().unwrap_or_default();
            let statuses: Vec<serde_json::Value> = spec
                .containers
                .iter()
                .map(|c| serde_json::json!({
                    "name": c.name, "image": c.image.clone().unwrap_or_default(), "imageID": "", "ready": true,
                    "started": true, "restartCount": 0, "state": {"running": {"startedAt": now}},
                    "containerID": format!("simulated://{}", c.name),
                }))
                .collect();
            let conds: Vec<serde_json::Value> = [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            ]
            .iter()
            .map(|t| serde_json::json!({"type": t, "status": "True", "lastTransitionTime": now}))
            .collect();
            let patch = serde_json::json!({"status": {
                "phase": "Running", "conditions": conds, "podIP": status.pod_ip, "podIPs": [{"ip": status.pod_ip}],
                "hostIP": status.host_ip, "hostIPs": [{"ip": status.host_ip}], "startTime": now,
                "qosClass": crate::resources::qos_class(&pod).as_str(), "containerStatuses": statuses,
            }});
            let name = pod.metadata.name.clone().unwrap_or_default();
            if let Err(e) = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::debug!(pod = %name, error = %e, "simulated pod status failed");
            }
        }
        PodAction::Delete(pod) => {
            let ns = pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: pod.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            if let Err(e) = api.delete(&name, &dp).await {
                tracing::debug!(pod = %name, error = %e, "simulated pod delete failed");
            }
        }
    }
}
