//! Prometheus metrics of the agent: running pods and containers, and per-container CPU and
//! memory from the runtime's stats.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use skiff_cri::{ContainerState, RuntimeService};

/// uid → (namespace, pod) from the log directory names (`<ns>_<pod>_<uid>`).
pub(crate) fn pod_names(logs_root: &Path) -> BTreeMap<String, (String, String)> {
    std::fs::read_dir(logs_root)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let mut parts = name.splitn(3, '_');
                    let (ns, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
                    Some((uid.to_string(), (ns.to_string(), pod.to_string())))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics page.
pub async fn render(logs_root: &Path, runtime: &Arc<dyn RuntimeService>) -> String {
    let names = pod_names(logs_root);
    let containers = runtime.list_containers().await.unwrap_or_default();
    let running: Vec<_> = containers
        .iter()
        .filter(|c| matches!(c.state, ContainerState::Running { .. }))
        .collect();
    let pods: BTreeSet<&str> = running
        .iter()
        .filter_map(|c| crate::manager::uid_of_container(&c.id))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP skiff_agent_running_pods Pods with at least one running container."
    );
    let _ = writeln!(out, "# TYPE skiff_agent_running_pods gauge");
    let _ = writeln!(out, "skiff_agent_running_pods {}", pods.len());
    let _ = writeln!(
        out,
        "# HELP skiff_agent_running_containers Running containers."
    );
    let _ = writeln!(out, "# TYPE skiff_agent_running_containers gauge");
    let _ = writeln!(out, "skiff_agent_running_containers {}", running.len());
    let mut cpu = String::new();
    let mut mem = String::new();
    for c in &running {
        let Ok(stats) = runtime.stats(&c.id).await else {
            continue;
        };
        let uid = crate::manager::uid_of_container(&c.id).unwrap_or_default();
        let (ns, pod) = names.get(uid).cloned().unwrap_or_default();
        let labels = format!(
            "namespace=\"{}\",pod=\"{}\",container=\"{}\"",
            escape(&ns),
            escape(&pod),
            escape(&c.name)
        );
        let _ = writeln!(
            cpu,
            "container_cpu_usage_seconds_total{{{labels}}} {}",
            stats.cpu_usage_ns as f64 / 1e9
        );
        let _ = writeln!(
            mem,
            "container_memory_working_set_bytes{{{labels}}} {}",
            stats.memory_working_set
        );
    }
    let _ = writeln!(
        out,
        "# HELP container_cpu_usage_seconds_total Cumulative CPU time of the container."
    );
    let _ = writeln!(out, "# TYPE container_cpu_usage_seconds_total counter");
    out.push_str(&cpu);
    let _ = writeln!(
        out,
        "# HELP container_memory_working_set_bytes Working set of the container."
    );
    let _ = writeln!(out, "# TYPE container_memory_working_set_bytes gauge");
    out.push_str(&mem);
    out
}
