//! skiff-bench: benchmarks of the API server (`skiff-bench`) and of the node side
//! (`skiff-bench-node`: pod startup beside plain runc, end-to-end scheduling on simulated
//! nodes). See bench/README.md.

pub mod args;
pub mod conn;
pub mod dns_load;
pub mod error;
pub mod load;
pub mod net;
pub mod node;
pub mod plan;
pub mod procs;
pub mod report;
pub mod stats;
pub mod tls;
pub mod watch;
pub mod workload;
