//! Prometheus metrics of the controllers, named as kube-controller-manager's work queues
//! name theirs: `workqueue_depth`, `workqueue_adds_total`,
//! `workqueue_work_duration_seconds` (reconcile latency) and `workqueue_retries_total`,
//! plus `controller_reconcile_errors_total`, and the node lifecycle's per-zone
//! `node_collector_*` series. The server renders them on its `/metrics`.

use skiff_metrics::{family, Histogram};
use std::collections::HashSet;
use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Every controller's series, in registration order.
static QUEUES: Mutex<Vec<Arc<QueueMetrics>>> = Mutex::new(Vec::new());

/// One controller's work queue series.
#[derive(Default)]
pub struct QueueMetrics {
    name: OnceLock<&'static str>,
    /// Keys waiting for a reconcile (a key queued twice before it runs counts once, as
    /// the queue de-duplicates it).
    waiting: Mutex<HashSet<String>>,
    adds: AtomicU64,
    errors: AtomicU64,
    work: Mutex<Histogram>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl QueueMetrics {
    /// Unnamed series; [`QueueMetrics::register`] names and exports them.
    pub fn new() -> Arc<QueueMetrics> {
        Arc::new(QueueMetrics::default())
    }

    /// Series for controller `name`, exported from now on.
    pub fn named(name: &'static str) -> Arc<QueueMetrics> {
        let m = QueueMetrics::new();
        m.register(name);
        m
    }

    /// Name these series and export them (once; later calls do nothing).
    pub fn register(self: &Arc<Self>, name: &'static str) {
        if self.name.set(name).is_ok() {
            lock(&QUEUES).push(self.clone());
        }
    }

    /// `key` was queued.
    pub fn added(&self, key: String) {
        self.adds.fetch_add(1, Ordering::Relaxed);
        lock(&self.waiting).insert(key);
    }

    /// `key` left the queue (its reconcile starts, or its object is gone).
    pub fn taken(&self, key: &str) {
        lock(&self.waiting).remove(key);
    }

    /// Run one reconcile, recording its duration and whether it failed.
    pub async fn time<T, E>(&self, reconcile: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let started = Instant::now();
        let r = reconcile.await;
        lock(&self.work).observe(started.elapsed().as_secs_f64());
        if r.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn render(&self, name: &str, out: &mut String, part: Part) {
        let labels = format!("name=\"{name}\"");
        match part {
            Part::Depth => {
                let _ = writeln!(
                    out,
                    "workqueue_depth{{{labels}}} {}",
                    lock(&self.waiting).len()
                );
            }
            Part::Adds => {
                let n = self.adds.load(Ordering::Relaxed);
                let _ = writeln!(out, "workqueue_adds_total{{{labels}}} {n}");
            }
            Part::Work => lock(&self.work).render(out, "workqueue_work_duration_seconds", &labels),
            Part::Retries => {
                let n = self.errors.load(Ordering::Relaxed);
                let _ = writeln!(out, "workqueue_retries_total{{{labels}}} {n}");
            }
            Part::Errors => {
                let n = self.errors.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "controller_reconcile_errors_total{{controller=\"{name}\"}} {n}"
                );
            }
        }
    }
}

/// A reconcile function recorded under `name`, for controllers run by kube-runtime's
/// `Controller` rather than [`crate::work_queue`] (their depth is not visible: it stays 0).
pub fn instrument<A, B, T, E, Fut>(
    name: &'static str,
    mut reconcile: impl FnMut(A, B) -> Fut,
) -> impl FnMut(A, B) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send>>
where
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let metrics = QueueMetrics::named(name);
    move |a, b| {
        let (m, fut) = (metrics.clone(), reconcile(a, b));
        m.adds.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move { m.time(fut).await })
    }
}

#[derive(Clone, Copy)]
enum Part {
    Depth,
    Adds,
    Work,
    Retries,
    Errors,
}

/// Append every controller's series to `out` (Prometheus text format).
pub fn render(out: &mut String) {
    let queues = lock(&QUEUES).clone();
    let families = [
        (
            Part::Depth,
            "workqueue_depth",
            "gauge",
            "Current depth of workqueue.",
        ),
        (
            Part::Adds,
            "workqueue_adds_total",
            "counter",
            "Total number of adds handled by workqueue.",
        ),
        (
            Part::Work,
            "workqueue_work_duration_seconds",
            "histogram",
            "How long in seconds processing an item from workqueue takes.",
        ),
        (
            Part::Retries,
            "workqueue_retries_total",
            "counter",
            "Total number of retries handled by workqueue (every failed reconcile is retried).",
        ),
        (
            Part::Errors,
            "controller_reconcile_errors_total",
            "counter",
            "Total number of reconciles that failed, per controller.",
        ),
    ];
    for (part, name, kind, help) in families {
        family(out, name, kind, help);
        for q in &queues {
            if let Some(n) = q.name.get() {
                q.render(n, out, part);
            }
        }
    }
    crate::node_lifecycle::zones::render(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queue_series_follow_adds_reconciles_and_errors() {
        let m = QueueMetrics::named("test-controller");
        m.added("ns/a".into());
        m.added("ns/a".into());
        m.added("ns/b".into());
        m.taken("ns/a");
        let _ = m.time(async { Ok::<_, ()>(()) }).await;
        let _ = m.time(async { Err::<(), _>(()) }).await;
        let mut out = String::new();
        render(&mut out);
        assert!(
            out.contains("workqueue_depth{name=\"test-controller\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("workqueue_adds_total{name=\"test-controller\"} 3\n"));
        assert!(out.contains("workqueue_work_duration_seconds_count{name=\"test-controller\"} 2\n"));
        assert!(out.contains("workqueue_retries_total{name=\"test-controller\"} 1\n"));
        assert!(
            out.contains("controller_reconcile_errors_total{controller=\"test-controller\"} 1\n")
        );
        assert_eq!(out.matches("# TYPE workqueue_depth gauge").count(), 1);
    }
}
