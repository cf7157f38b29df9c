//! Scheduler settings.

use crate::pod_info::DEFAULT_SCHEDULER_NAME;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Pods whose spec.schedulerName equals this (or is empty, for the default) are ours.
    pub scheduler_name: String,
    /// percentageOfNodesToScore; 0 = adaptive (50% - nodes/125, min 5%, min 100 nodes).
    pub percentage_of_nodes_to_score: u32,
    /// Binding requests in flight at most.
    pub bind_concurrency: usize,
    /// Pods scheduled between two looks at watch events.
    pub batch_size: usize,
    /// How long shutdown waits for in-flight binds and status writes.
    pub shutdown_grace: std::time::Duration,
}

impl Default for SchedulerConfig {
    fn default() -> SchedulerConfig {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            percentage_of_nodes_to_score: 0,
            bind_concurrency: 64,
            batch_size: 256,
            shutdown_grace: std::time::Duration::from_secs(5),
        }
    }
}
