//! The kubelet's eviction manager: every 10 s, while a hard threshold (`--eviction-hard`)
//! is crossed, evict one pod of this node, chosen as the kubelet chooses: for memory and
//! disk, pods using more than they request first, then lower priority, then the largest
//! use above the request; for PIDs, lower priority, then the most processes. Critical pods
//! (priority ≥ 2,000,000,000, mirror pods) are never evicted.
//!
//! The eviction itself is the pod worker's: it stops the containers at once, restarts none,
//! and the pod ends `Failed` with reason `Evicted`, the kubelet's message and a
//! `DisruptionTarget` condition; its owner replaces it (the pressure taint keeps the
//! replacement off this node).
//!
//! Usage figures: memory is each container's working set (cgroup); disk is each
//! container's writable layer plus its logs, and what the pod's volumes (emptyDir and the
//! like) hold; PIDs are the pod cgroup's `pids.current`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Taint};
use kube::api::ListParams;
use kube::Api;
use tokio::sync::watch;

use skiff_cri::disk_usage;

use crate::eviction::{Crossed, Pressures, Resource};
use crate::machine::MachineInfo;
use crate::worker::WorkerCtx;

/// How often thresholds are checked (the kubelet's monitoring interval).
const MONITORING_INTERVAL: Duration = Duration::from_secs(10);
/// Pods at or above this priority are critical (system-cluster-critical and up).
const CRITICAL_PRIORITY: i32 = 2_000_000_000;
/// Where the cgroup v1 hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Evictions ordered and not yet carried out by the pods' workers: pod UID → message.
#[derive(Default)]
pub(crate) struct Orders(Mutex<HashMap<String, String>>);

impl Orders {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ask the worker of pod `uid` to evict it.
    pub(crate) fn order(&self, uid: &str, message: String) {
        self.lock().insert(uid.to_string(), message);
    }

    /// The eviction ordered for pod `uid`, if any (taking it).
    pub(crate) fn take(&self, uid: &str) -> Option<String> {
        self.lock().remove(uid)
    }

    fn pending(&self, uid: &str) -> bool {
        self.lock().contains_key(uid)
    }

    /// Forget orders for pods that are gone.
    fn retain(&self, live: &HashSet<String>) {
        self.lock().retain(|uid, _| live.contains(uid));
    }
}

/// One container's use of the short resource, for the eviction message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ContainerUse {
    pub name: String,
    pub usage: u64,
    pub request: u64,
    /// The request as the spec writes it ("0" when there is none).
    pub request_text: String,
}

/// What ranking needs to know about a pod.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Candidate {
    pub uid: String,
    /// `namespace/name`, for logs.
    pub key: String,
    pub priority: i32,
    /// The pod's use of the short resource.
    pub usage: u64,
    /// What its containers request of it.
    pub request: u64,
    pub containers: Vec<ContainerUse>,
}

impl Candidate {
    fn over_request(&self) -> bool {
        self.usage > self.request
    }

    fn above_request(&self) -> i128 {
        i128::from(self.usage) - i128::from(self.request)
    }
}

/// Order pods so the first is the one to evict (the kubelet's rankMemoryPressure,
/// rankDiskPressure and rankPIDPressure).
pub(crate) fn rank(resource: Resource, pods: &mut [Candidate]) {
    match resource {
        Resource::Pids => {
            pods.sort_by(|a, b| a.priority.cmp(&b.priority).then(b.usage.cmp(&a.usage)))
        }
        Resource::Memory | Resource::EphemeralStorage => pods.sort_by(|a, b| {
            b.over_request()
                .cmp(&a.over_request())
                .then(a.priority.cmp(&b.priority))
                .then(b.above_request().cmp(&a.above_request()))
        }),
    }
}

/// A byte count as a canonical binary-SI quantity (`50Mi`, `1536Ki`, `1000`).
fn binary_si(n: u64) -> String {
    if n < 1024 {
        return n.to_string();
    }
    let (mut v, mut unit) = (n, 0);
    while unit < 6 && v % 1024 == 0 {
        v /= 1024;
        unit += 1;
    }
    format!("{v}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][unit])
}

fn amount(resource: Resource, n: u64) -> String {
    match resource {
        Resource::Pids => n.to_string(),
        Resource::Memory | Resource::EphemeralStorage => binary_si(n),
    }
}

/// The kubelet's eviction message for `pod`.
pub(crate) fn message(short: &Crossed, pod: &Candidate) -> String {
    let resource = short.resource.as_str();
    let mut m = format!(
        "The node was low on resource: {resource}. Threshold quantity: {}, available: {}. ",
        amount(short.resource, short.threshold),
        amount(short.resource, short.available)
    );
    for c in pod.containers.iter().filter(|c| c.usage > c.request) {
        m.push_str(&format!(
            "Container {} was using {}, request is {}, has larger consumption of {resource}. ",
            c.name,
            amount(short.resource, c.usage),
            c.request_text
        ));
    }
    m
}

/// The kubelet's eviction admission: under node pressure a new pod is refused (it ends
/// Failed, reason Evicted) unless it is critical or — under memory pressure alone — it is
/// not BestEffort or tolerates the memory-pressure taint. Returns the refusal message.
pub(crate) fn refuse_admission(pod: &Pod, pressures: Pressures) -> Option<String> {
    let conditions: Vec<&str> = [
        (pressures.memory, "MemoryPressure"),
        (pressures.disk, "DiskPressure"),
        (pressures.pid, "PIDPressure"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| *name)
    .collect();
    if conditions.is_empty() || critical(pod) {
        return None;
    }
    if conditions == ["MemoryPressure"] {
        let best_effort =
            crate::resources::qos_class(pod) == crate::resources::QosClass::BestEffort;
        let taint = Taint {
            key: "node.kubernetes.io/memory-pressure".into(),
            effect: "NoSchedule".into(),
            ..Taint::default()
        };
        let tolerated = pod
            .spec
            .iter()
            .flat_map(|s| s.tolerations.iter().flatten())
            .any(|t| skiff_selectors::tolerates(t, &taint));
        if !best_effort || tolerated {
            return None;
        }
    }
    Some(format!(
        "The node had condition: [{}]. ",
        conditions.join(" ")
    ))
}

/// Whether the kubelet would never evict this pod.
fn critical(pod: &Pod) -> bool {
    let priority = pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    priority >= CRITICAL_PRIORITY || mirror
}

/// Each container's request of `resource` (bytes), as a number and as written.
fn requests(pod: &Pod, resource: Resource) -> BTreeMap<String, (u64, String)> {
    let name = match resource {
        Resource::Memory => "memory",
        Resource::EphemeralStorage => "ephemeral-storage",
        Resource::Pids => return BTreeMap::new(),
    };
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| {
            let written = c
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get(name))
                .map(|q| q.0.clone());
            let bytes = written
                .as_deref()
                .and_then(|q| crate::quantity::parse_quantity(q).ok())
                .map_or(0, |v| v.max(0.0) as u64);
            (
                c.name.clone(),
                (bytes, written.unwrap_or_else(|| "0".into())),
            )
        })
        .collect()
}

/// The runtime container IDs of the pod's current (app) containers, by name.
fn container_ids(pod: &Pod) -> Vec<(String, String)> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| {
            let id = c.container_id.as_deref()?.strip_prefix("skiff://")?;
            Some((c.name.clone(), id.to_string()))
        })
        .collect()
}

/// The pods of this node that may be evicted, with their use of `resource`.
async fn candidates(ctx: &WorkerCtx, pods: &[Pod], resource: Resource) -> Vec<Candidate> {
    let evictable: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && !critical(p))
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .filter(|p| {
            !ctx.evictions
                .pending(p.metadata.uid.as_deref().unwrap_or(""))
        })
        .collect();
    let names: BTreeMap<String, (String, String)> = evictable
        .iter()
        .filter_map(|p| {
            Some((
                p.metadata.uid.clone()?,
                (p.metadata.namespace.clone()?, p.metadata.name.clone()?),
            ))
        })
        .collect();
    let memory = match resource {
        Resource::Memory => Some(
            crate::resource_metrics::sample(&ctx.runtime, &names, Path::new(CGROUP_ROOT)).await,
        ),
        _ => None,
    };
    let mut out = Vec::new();
    for pod in evictable {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let Some((ns, name)) = names.get(&uid).cloned() else {
            continue;
        };
        let requests = requests(pod, resource);
        let mut containers: Vec<ContainerUse> = Vec::new();
        let usage = match resource {
            Resource::Memory => {
                let sample = memory
                    .as_ref()
                    .and_then(|m| m.pods.get(&(ns.clone(), name.clone())));
                for (cname, c) in sample.map(|s| &s.containers).into_iter().flatten() {
                    let (request, request_text) =
                        requests.get(cname).cloned().unwrap_or((0, "0".into()));
                    containers.push(ContainerUse {
                        name: cname.clone(),
                        usage: c.usage.memory_working_set,
                        request,
                        request_text,
                    });
                }
                containers.iter().map(|c| c.usage).sum()
            }
            Resource::EphemeralStorage => {
                let logs = ctx.cfg.pod_log_dir(&ns, &name, &uid);
                for (cname, id) in container_ids(pod) {
                    let rootfs = ctx.runtime.writable_layer_usage(&id).await.unwrap_or(0);
                    let (request, request_text) =
                        requests.get(&cname).cloned().unwrap_or((0, "0".into()));
                    containers.push(ContainerUse {
                        usage: rootfs + disk_usage(&logs.join(&cname)),
                        name: cname,
                        request,
                        request_text,
                    });
                }
                // Plus what the pod's volumes (emptyDir and the like) hold.
                containers.iter().map(|c| c.usage).sum::<u64>() + disk_usage(&ctx.cfg.pod_dir(&uid))
            }
            Resource::Pids => {
                let parent = crate::resources::qos_class(pod).cgroup_parent(&uid);
                let path = format!("{CGROUP_ROOT}/pids{parent}/pids.current");
                std::fs::read_to_string(path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0)
            }
        };
        out.push(Candidate {
            uid,
            key: format!("{ns}/{name}"),
            priority: pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0),
            usage,
            request: requests.values().map(|(b, _)| b).sum(),
            containers,
        });
    }
    out
}

/// Pick the pod to evict for `short` and order its eviction; returns its key.
async fn evict_one(ctx: &WorkerCtx, short: &Crossed) -> Result<Option<String>, kube::Error> {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let lp = ListParams::default().fields(&format!("spec.nodeName={}", ctx.cfg.node_name));
    let pods = api.list(&lp).await?.items;
    let live: HashSet<String> = pods.iter().filter_map(|p| p.metadata.uid.clone()).collect();
    ctx.evictions.retain(&live);
    let mut ranked = candidates(ctx, &pods, short.resource).await;
    rank(short.resource, &mut ranked);
    let Some(victim) = ranked.first() else {
        return Ok(None);
    };
    ctx.evictions.order(&victim.uid, message(short, victim));
    Ok(Some(victim.key.clone()))
}

/// Watch the thresholds until shutdown, evicting one pod per interval while one is crossed.
pub(crate) async fn run(ctx: Arc<WorkerCtx>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(MONITORING_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        let machine = MachineInfo::read(&ctx.cfg.data_dir);
        let Some(short) = ctx.cfg.eviction_hard.crossed(&machine).into_iter().next() else {
            continue;
        };
        match evict_one(&ctx, &short).await {
            Ok(Some(pod)) => tracing::info!(
                %pod,
                resource = short.resource.as_str(),
                available = short.available,
                threshold = short.threshold,
                "evicting a pod to reclaim a resource"
            ),
            Ok(None) => tracing::warn!(
                resource = short.resource.as_str(),
                "eviction threshold crossed but no pod can be evicted"
            ),
            Err(e) => tracing::warn!(error = %e, "listing this node's pods for eviction"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str, priority: i32, usage: u64, request: u64) -> Candidate {
        Candidate {
            uid: uid.into(),
            key: format!("d/{uid}"),
            priority,
            usage,
            request,
            containers: Vec::new(),
        }
    }

    fn order(resource: Resource, mut pods: Vec<Candidate>) -> Vec<String> {
        rank(resource, &mut pods);
        pods.into_iter().map(|p| p.uid).collect()
    }

    #[test]
    fn memory_and_disk_rank_by_excess_then_priority_then_size_above_request() {
        let pods = vec![
            pod("within-request", -10, 900, 1000),
            pod("high-priority-over", 100, 2000, 0),
            pod("over-a-little", 0, 1100, 1000),
            pod("over-a-lot", 0, 5000, 1000),
            pod("low-priority-over", -5, 10, 0),
        ];
        let want = [
            "low-priority-over",
            "over-a-lot",
            "over-a-little",
            "high-priority-over",
            "within-request",
        ];
        assert_eq!(order(Resource::Memory, pods.clone()), want);
        assert_eq!(order(Resource::EphemeralStorage, pods), want);
    }

    #[test]
    fn pids_rank_by_priority_then_process_count() {
        let pods = vec![
            pod("few", 0, 3, 0),
            pod("many", 0, 300, 0),
            pod("low", -1, 1, 0),
        ];
        assert_eq!(order(Resource::Pids, pods), ["low", "many", "few"]);
    }

    #[test]
    fn messages_read_like_the_kubelets() {
        let short = Crossed {
            resource: Resource::Memory,
            threshold: 100 << 20,
            available: 3 * 1024 * 1024 + 512 * 1024,
        };
        let mut p = pod("u", 0, 0, 0);
        p.containers = vec![
            ContainerUse {
                name: "hog".into(),
                usage: 200 << 20,
                request: 64 << 20,
                request_text: "64Mi".into(),
            },
            ContainerUse {
                name: "quiet".into(),
                usage: 1 << 20,
                request: 64 << 20,
                request_text: "64Mi".into(),
            },
        ];
        assert_eq!(
            message(&short, &p),
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 3584Ki. \
             Container hog was using 200Mi, request is 64Mi, has larger consumption of memory. "
        );
        let disk = Crossed {
            resource: Resource::EphemeralStorage,
            threshold: 10_000_000_001,
            available: 1000,
        };
        assert_eq!(
            message(&disk, &pod("u", 0, 0, 0)),
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10000000001, available: 1000. "
        );
        let pids = Crossed {
            resource: Resource::Pids,
            threshold: 3276,
            available: 12,
        };
        assert!(message(&pids, &pod("u", 0, 0, 0)).starts_with(
            "The node was low on resource: pids. Threshold quantity: 3276, available: 12. "
        ));
    }

    #[test]
    fn admission_under_pressure_spares_critical_and_non_best_effort_pods() {
        let pod = |spec: serde_json::Value| -> Pod {
            serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "spec": spec}))
                .expect("pod")
        };
        let best_effort = pod(serde_json::json!({"containers": [{"name": "c"}]}));
        let burstable = pod(serde_json::json!({"containers": [{"name": "c",
            "resources": {"requests": {"memory": "1Mi"}}}]}));
        let tolerating = pod(serde_json::json!({"containers": [{"name": "c"}],
            "tolerations": [{"key": "node.kubernetes.io/memory-pressure", "operator": "Exists"}]}));
        let critical =
            pod(serde_json::json!({"containers": [{"name": "c"}], "priority": 2000001000}));
        let memory = Pressures {
            memory: true,
            ..Pressures::default()
        };
        let disk = Pressures {
            disk: true,
            pid: true,
            ..Pressures::default()
        };
        assert_eq!(refuse_admission(&best_effort, Pressures::default()), None);
        assert_eq!(
            refuse_admission(&best_effort, memory).as_deref(),
            Some("The node had condition: [MemoryPressure]. ")
        );
        assert_eq!(refuse_admission(&burstable, memory), None);
        assert_eq!(refuse_admission(&tolerating, memory), None);
        assert_eq!(
            refuse_admission(&burstable, disk).as_deref(),
            Some("The node had condition: [DiskPressure PIDPressure]. ")
        );
        assert_eq!(refuse_admission(&critical, disk), None);
    }

    #[test]
    fn orders_are_taken_once_and_forgotten_with_their_pod() {
        let orders = Orders::default();
        orders.order("a", "m".into());
        orders.order("b", "n".into());
        assert!(orders.pending("a"));
        assert_eq!(orders.take("a").as_deref(), Some("m"));
        assert_eq!(orders.take("a"), None);
        orders.retain(&HashSet::new());
        assert!(!orders.pending("b"));
    }
}
