//! Skiff's controller manager (the kube-controller-manager role, plus k3s's bundled
//! local-path provisioner).
//!
//! Every controller is an API client: a level-triggered loop (kube-runtime's
//! `Controller`) whose watches only enqueue keys; each reconcile re-reads current state
//! from shared caches ([`Caches`]), converges with compare-and-swap writes, and is safe to
//! repeat. One module per controller:
//!
//! - [`storage_class`]: the default `local-path` StorageClass, created once if absent;
//! - [`pv_controller`]: binds claims to volumes, keeps their phases, reclaims released
//!   volumes (upstream's persistentvolume-binder);
//! - [`local_path`]: provisions `pvc-<uid>` hostPath volumes on the node the scheduler
//!   picked and deletes released ones (rancher.io/local-path);
//! - [`pvc_protection`], [`pv_protection`]: the storage-object-in-use finalizers.
//!
//! - [`deployment`]: Deployments roll out through ReplicaSets;
//! - [`replica_set`]: ReplicaSets and ReplicationControllers keep their pods;
//! - [`job`]: Jobs run pods to completion (and [`job::ttl`] deletes finished ones);
//! - [`cron_job`]: CronJobs start Jobs on a cron schedule;
//! - [`disruption`]: PodDisruptionBudget status, read by the eviction subresource;
//! - [`node_lifecycle`]: lost nodes go Unknown, get tainted, and lose their pods;
//! - [`daemon_set`]: DaemonSets run one pod per eligible node;
//! - [`stateful_set`]: StatefulSets keep ordered pods with stable names and claims;
//! - [`history`]: ControllerRevisions, the template history of StatefulSets and DaemonSets;
//! - [`workloads`]: wires the workload controllers to their shared caches
//!   ([`informer`]) and work queues ([`work_queue`]).
//!
//! Pure decisions (which volume fits a claim) live in [`volume_match`] and are shared with
//! the scheduler's VolumeBinding plugin.

pub mod caches;
pub mod cron_job;
pub mod daemon_set;
pub mod deployment;
pub mod disruption;
pub mod endpoint_pods;
pub mod endpoint_slice;
pub mod endpoint_slice_mirroring;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod expectations;
pub mod finalizers;
pub mod history;
pub mod informer;
pub mod job;
pub mod local_path;
pub mod metrics;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod owner_refs;
pub mod pod_state;
pub mod pv_controller;
pub mod pv_protection;
pub mod pvc_protection;
pub mod quantity;
pub mod replica_set;
mod run;
pub mod service_lb;
pub mod stateful_set;
pub mod status_write;
pub mod storage_class;
pub mod volume_match;
pub mod work_queue;
pub mod workloads;

pub use caches::Caches;
pub use error::ControllerError;
pub use run::{run, ControllersConfig};
