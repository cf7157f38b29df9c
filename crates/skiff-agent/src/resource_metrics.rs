//! kubelet's `/metrics/resource` endpoint: node, pod and container CPU and memory usage in the
//! Prometheus text format, with the metric names, labels and millisecond timestamps upstream's
//! kubelet uses, so metrics-server (or Skiff's own scraper in the API server) can read it.
//!
//! Usage comes from cgroup v1: the runtime's per-container and per-pod cgroups through
//! [`RuntimeService::stats`], and the root cgroup for the node (as cAdvisor does).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use skiff_cri::{ContainerState, RuntimeService, Stats};

/// Where the cgroup v1 hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Usage read at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Usage {
    /// Cumulative CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// Working set in bytes.
    pub memory_working_set: u64,
    /// When it was read, in milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// One container's sample.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ContainerSample {
    /// Container start time, in seconds since the epoch.
    pub start_time: f64,
    /// Its usage.
    pub usage: Usage,
}

/// One pod's samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PodSample {
    /// The pod cgroup's usage (all containers plus the sandbox), if readable.
    pub usage: Option<Usage>,
    /// Running containers by name.
    pub containers: BTreeMap<String, ContainerSample>,
}

/// Everything one scrape reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Snapshot {
    /// The node's usage, if the root cgroup is readable.
    pub node: Option<Usage>,
    /// Pods by (namespace, name).
    pub pods: BTreeMap<(String, String), PodSample>,
    /// Whether reading container stats failed.
    pub error: bool,
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn usage(stats: &Stats, at: SystemTime) -> Usage {
    Usage {
        cpu_ns: stats.cpu_usage_ns,
        memory_working_set: stats.memory_working_set,
        timestamp_ms: millis(at),
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The node's usage from the root cgroup under `cgroup_root`: cpuacct.usage, and memory
/// usage minus inactive file pages (the working set, as cAdvisor computes it).
pub(crate) fn node_usage(cgroup_root: &Path, at: SystemTime) -> Option<Usage> {
    let cpu_ns = read_u64(&cgroup_root.join("cpuacct/cpuacct.usage"))?;
    let usage = read_u64(&cgroup_root.join("memory/memory.usage_in_bytes"))?;
    let inactive = std::fs::read_to_string(cgroup_root.join("memory/memory.stat"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("total_inactive_file ")
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
        })
        .unwrap_or(0);
    Some(Usage {
        cpu_ns,
        memory_working_set: usage.saturating_sub(inactive),
        timestamp_ms: millis(at),
    })
}

/// Sample every running container of the runtime; `names` maps pod UIDs to (namespace, name).
pub(crate) async fn sample(
    runtime: &Arc<dyn RuntimeService>,
    names: &BTreeMap<String, (String, String)>,
    cgroup_root: &Path,
) -> Snapshot {
    let mut snap = Snapshot {
        node: node_usage(cgroup_root, SystemTime::now()),
        ..Snapshot::default()
    };
    let containers = match runtime.list_containers().await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "listing containers for resource metrics");
            snap.error = true;
            return snap;
        }
    };
    // (namespace, pod) → sandbox id, to read the pod cgroup once per pod.
    let mut sandboxes: BTreeMap<(String, String), String> = BTreeMap::new();
    for c in &containers {
        let ContainerState::Running { started_at, .. } = c.state else {
            continue;
        };
        let Some(key) = crate::manager::uid_of_container(&c.id).and_then(|uid| names.get(uid))
        else {
            continue;
        };
        let stats = match runtime.stats(&c.id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(container = %c.id, error = %e, "container stats");
                snap.error = true;
                continue;
            }
        };
        sandboxes.insert(key.clone(), c.sandbox_id.clone());
        snap.pods.entry(key.clone()).or_default().containers.insert(
            c.name.clone(),
            ContainerSample {
                start_time: seconds(started_at),
                usage: usage(&stats, SystemTime::now()),
            },
        );
    }
    for (key, sandbox) in sandboxes {
        let Some(pod) = snap.pods.get_mut(&key) else {
            continue;
        };
        pod.usage = match runtime.stats(&sandbox).await {
            Ok(s) => Some(usage(&s, SystemTime::now())),
            // No pod-level cgroup to read (e.g. a runtime without sandboxes): the sum of the
            // containers is the closest figure.
            Err(_) => pod
                .containers
                .values()
                .map(|c| c.usage.clone())
                .reduce(|a, b| Usage {
                    cpu_ns: a.cpu_ns + b.cpu_ns,
                    memory_working_set: a.memory_working_set + b.memory_working_set,
                    timestamp_ms: a.timestamp_ms.max(b.timestamp_ms),
                }),
        };
    }
    snap
}

/// A float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it (Prometheus' Go client
/// does): shortest round-trip digits, exponent form below 1e-4 and from 1e6 up.
pub(crate) fn go_float(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{v}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn line(out: &mut String, name: &str, labels: &str, value: f64, ts: Option<i64>) {
    let labels = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = match ts {
        Some(ts) => writeln!(out, "{name}{labels} {} {ts}", go_float(value)),
        None => writeln!(out, "{name}{labels} {}", go_float(value)),
    };
}

/// The page, families in name order and labels sorted by name, as kubelet serves it.
pub(crate) fn render(snap: &Snapshot) -> String {
    let mut out = String::new();
    // (container labels, sample) in label order: container, namespace, pod.
    let mut containers: Vec<(String, &ContainerSample)> = Vec::new();
    for ((ns, pod), p) in &snap.pods {
        for (name, c) in &p.containers {
            let labels = format!(
                "container=\"{}\",namespace=\"{}\",pod=\"{}\"",
                escape(name),
                escape(ns),
                escape(pod)
            );
            containers.push((labels, c));
        }
    }
    containers.sort_by(|a, b| a.0.cmp(&b.0));
    family(
        &mut out,
        "container_cpu_usage_seconds_total",
        "counter",
        "[STABLE] Cumulative cpu time consumed by the container in core-seconds",
    );
    for (labels, c) in &containers {
        let secs = c.usage.cpu_ns as f64 / 1e9;
        line(
            &mut out,
            "container_cpu_usage_seconds_total",
            labels,
            secs,
            Some(c.usage.timestamp_ms),
        );
    }
    family(
        &mut out,
        "container_memory_working_set_bytes",
        "gauge",
        "[STABLE] Current working set of the container in bytes",
    );
    for (labels, c) in &containers {
        let bytes = c.usage.memory_working_set as f64;
        line(
            &mut out,
            "container_memory_working_set_bytes",
            labels,
            bytes,
            Some(c.usage.timestamp_ms),
        );
    }
    family(
        &mut out,
        "container_start_time_seconds",
        "gauge",
        "[STABLE] Start time of the container since unix epoch in seconds",
    );
    for (labels, c) in &containers {
        line(
            &mut out,
            "container_start_time_seconds",
            labels,
            c.start_time,
            None,
        );
    }
    if let Some(n) = &snap.node {
        family(
            &mut out,
            "node_cpu_usage_seconds_total",
            "counter",
            "[STABLE] Cumulative cpu time consumed by the node in core-seconds",
        );
        let secs = n.cpu_ns as f64 / 1e9;
        line(
            &mut out,
            "node_cpu_usage_seconds_total",
            "",
            secs,
            Some(n.timestamp_ms),
        );
        family(
            &mut out,
            "node_memory_working_set_bytes",
            "gauge",
            "[STABLE] Current working set of the node in bytes",
        );
        let bytes = n.memory_working_set as f64;
        line(
            &mut out,
            "node_memory_working_set_bytes",
            "",
            bytes,
            Some(n.timestamp_ms),
        );
    }
    let pods: Vec<(String, &Usage)> = snap
        .pods
        .iter()
        .filter_map(|((ns, pod), p)| {
            let labels = format!("namespace=\"{}\",pod=\"{}\"", escape(ns), escape(pod));
            p.usage.as_ref().map(|u| (labels, u))
        })
        .collect();
    family(
        &mut out,
        "pod_cpu_usage_seconds_total",
        "counter",
        "[STABLE] Cumulative cpu time consumed by the pod in core-seconds",
    );
    for (labels, u) in &pods {
        let secs = u.cpu_ns as f64 / 1e9;
        line(
            &mut out,
            "pod_cpu_usage_seconds_total",
            labels,
            secs,
            Some(u.timestamp_ms),
        );
    }
    family(
        &mut out,
        "pod_memory_working_set_bytes",
        "gauge",
        "[STABLE] Current working set of the pod in bytes",
    );
    for (labels, u) in &pods {
        let bytes = u.memory_working_set as f64;
        line(
            &mut out,
            "pod_memory_working_set_bytes",
            labels,
            bytes,
            Some(u.timestamp_ms),
        );
    }
    let err = if snap.error { 1.0 } else { 0.0 };
    let help = "1 if there was an error while getting container metrics, 0 otherwise";
    family(
        &mut out,
        "resource_scrape_error",
        "gauge",
        &format!("[STABLE] {help}"),
    );
    line(&mut out, "resource_scrape_error", "", err, None);
    family(
        &mut out,
        "scrape_error",
        "gauge",
        &format!("[ALPHA] (Deprecated since 1.29.0) {help}"),
    );
    line(&mut out, "scrape_error", "", err, None);
    out
}

/// Sample the node now and answer with the page.
pub(crate) async fn response(
    logs_root: &Path,
    runtime: &Arc<dyn RuntimeService>,
) -> http::Response<BoxBody<Bytes, std::io::Error>> {
    let names = crate::metrics::pod_names(logs_root);
    let page = render(&sample(runtime, &names, Path::new(CGROUP_ROOT)).await);
    let mut r = http::Response::new(
        Full::new(Bytes::from(page))
            .map_err(|e: std::convert::Infallible| match e {})
            .boxed(),
    );
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::RecordingRuntime;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(go_float(0.0), "0");
        assert_eq!(go_float(2.406213443), "2.406213443");
        assert_eq!(go_float(13750272.0), "1.3750272e+07");
        assert_eq!(go_float(1.7e9), "1.7e+09");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(1.0), "1");
    }

    #[test]
    fn node_usage_reads_the_root_cgroup() {
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(tmp.path().join("cpuacct")).expect("mkdir");
        std::fs::create_dir_all(tmp.path().join("memory")).expect("mkdir");
        std::fs::write(tmp.path().join("cpuacct/cpuacct.usage"), "5000000000\n").expect("w");
        std::fs::write(tmp.path().join("memory/memory.usage_in_bytes"), "3000\n").expect("w");
        std::fs::write(
            tmp.path().join("memory/memory.stat"),
            "cache 10\ninactive_file 1\ntotal_inactive_file 1000\n",
        )
        .expect("w");
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1234);
        assert_eq!(
            node_usage(tmp.path(), at),
            Some(Usage {
                cpu_ns: 5_000_000_000,
                memory_working_set: 2000,
                timestamp_ms: 1234
            })
        );
        assert_eq!(node_usage(&tmp.path().join("nope"), at), None);
    }

    #[test]
    fn renders_kubelet_names_and_timestamps() {
        let mut snap = Snapshot {
            node: Some(Usage {
                cpu_ns: 1_500_000_000,
                memory_working_set: 1 << 30,
                timestamp_ms: 1000,
            }),
            ..Snapshot::default()
        };
        let pod = snap
            .pods
            .entry(("default".into(), "web".into()))
            .or_default();
        pod.usage = Some(Usage {
            cpu_ns: 3_000_000_000,
            memory_working_set: 8192,
            timestamp_ms: 2000,
        });
        pod.containers.insert(
            "app".into(),
            ContainerSample {
                start_time: 1.7e9,
                usage: Usage {
                    cpu_ns: 2_500_000_000,
                    memory_working_set: 4096,
                    timestamp_ms: 2000,
                },
            },
        );
        let page = render(&snap);
        let lines: Vec<&str> = page.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            vec![
                "container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"web\"} 2.5 2000",
                "container_memory_working_set_bytes{container=\"app\",namespace=\"default\",pod=\"web\"} 4096 2000",
                "container_start_time_seconds{container=\"app\",namespace=\"default\",pod=\"web\"} 1.7e+09",
                "node_cpu_usage_seconds_total 1.5 1000",
                "node_memory_working_set_bytes 1.073741824e+09 1000",
                "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"web\"} 3 2000",
                "pod_memory_working_set_bytes{namespace=\"default\",pod=\"web\"} 8192 2000",
                "resource_scrape_error 0",
                "scrape_error 0",
            ]
        );
        assert!(page.contains(
            "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter\n"
        ));
    }

    #[tokio::test]
    async fn samples_running_containers_by_pod() {
        let runtime = RecordingRuntime::new();
        let sb = runtime
            .run_sandbox(Default::default())
            .await
            .expect("sandbox");
        for (id, name) in [("uid1_app_0", "app"), ("uid1_side_0", "side")] {
            let cfg = skiff_cri::ContainerConfig {
                id: id.into(),
                sandbox_id: sb.id.clone(),
                name: name.into(),
                ..Default::default()
            };
            runtime.create_container(cfg).await.expect("create");
        }
        runtime.start_container("uid1_app_0").await.expect("start");
        let runtime: Arc<dyn RuntimeService> = runtime;
        let names = BTreeMap::from([("uid1".to_string(), ("ns".to_string(), "p".to_string()))]);
        let snap = sample(&runtime, &names, Path::new("/nonexistent")).await;
        assert_eq!(snap.node, None);
        let pod = snap.pods.get(&("ns".into(), "p".into())).expect("pod");
        // Only the running container counts; the pod falls back to the containers' sum.
        assert_eq!(pod.containers.keys().collect::<Vec<_>>(), vec!["app"]);
        assert_eq!(
            pod.usage.as_ref().map(|u| u.memory_working_set),
            Some(4 << 20)
        );
        assert!(!snap.error);
    }
}
