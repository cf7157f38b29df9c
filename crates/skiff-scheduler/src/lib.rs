//! Skiff's scheduler (the kube-scheduler role).
//!
//! The pure part — [`Snapshot`], [`SchedulingQueue`], the plugin [`framework`] and the
//! [`plugins`] — does no I/O and is unit-tested directly; [`run`] wires it to the API:
//! watches of nodes, pods and PriorityClasses feed the snapshot and the queue, and binds
//! happen asynchronously through the pods/binding subresource.
//!
//! Not implemented yet (pods needing them are scheduled as if the feature did not
//! exist): namespaceSelector terms other than "all namespaces" in pod affinity, nominated pods
//! holding room on their nominated node, and the symmetric part of preferred
//! inter-pod affinity scoring (existing pods' preferences toward the incoming pod).

pub mod actions;
pub mod algorithm;
pub mod config;
pub mod error;
pub mod events;
pub mod fit_error;
pub mod framework;
pub mod node_info;
pub mod plugins;
pub mod pod_info;
pub mod preemption;
pub mod priority;
pub mod quantity;
pub mod queue;
pub mod resources;
mod run;
pub mod selector;
pub mod snapshot;
pub mod volume_catalog;

pub use algorithm::{Algorithm, Framework, ScheduleResult};
pub use config::SchedulerConfig;
pub use error::SchedulerError;
pub use fit_error::FitError;
pub use node_info::NodeInfo;
pub use pod_info::PodInfo;
pub use priority::PriorityResolver;
pub use queue::SchedulingQueue;
pub use run::run;
pub use snapshot::Snapshot;
