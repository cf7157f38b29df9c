//! Node-side benchmarks: pod startup on the embedded runc agent beside plain runc, and
//! end-to-end scheduling throughput and workload rollouts on simulated nodes.

pub mod api;
pub mod cleanup;
pub mod pod_startup;
pub mod rollout;
pub mod runc_peer;
pub mod scheduling;
