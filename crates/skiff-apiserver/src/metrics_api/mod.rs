//! The resource metrics API (metrics.k8s.io/v1beta1, what `kubectl top` reads), served by the
//! API server itself instead of a metrics-server behind an APIService: `scraper` polls each
//! node agent's kubelet-style `/metrics/resource` (parsed by `prom`), `series` keeps the last
//! two points per node, pod and container and computes usage, `format` prints quantities,
//! and `handler` answers get/list.

mod format;
mod handler;
mod prom;
mod scraper;
mod series;

pub use format::{cpu_quantity, go_duration, memory_quantity};
pub use handler::{is_metrics, serve, GROUP};
pub use prom::{parse as parse_prometheus, PromError, Sample};
pub use scraper::{run as scrape_loop, scrape_once, ScrapeError, RESOLUTION};
pub use series::{MetricsStore, PodUsage, Usage};
