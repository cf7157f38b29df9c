//! The node agent (the kubelet's role): registers a Node, heartbeats through a Lease, runs the
//! pods bound to it through the [`skiff_cri`] image and runtime services, and serves container
//! logs, health and metrics over its own HTTPS port. [`run_simulated`] registers many
//! kwok-like nodes whose pods go Running without containers, for scale tests.
//!
//! Layout: `agent` wires the parts; `heartbeat` (Node + Lease), `manager` (pod watch,
//! adoption) and `worker` (one state machine per pod, with `container_start` and
//! `pod_status`) do the work; pure translation from pod spec to runtime config lives in
//! `command`, `env`, `resources`, `security`, `volumes`; `server`, `logs`, `metrics`,
//! `resource_metrics` (kubelet's `/metrics/resource`),
//! `exec_stream` and `port_forward` (with `stream_target`) are the HTTPS API; `recording`
//! has in-memory services for tests.

mod agent;
mod atomic_writer;
mod backoff;
mod command;
mod config;
mod container_start;
mod env;
mod error;
mod events;
mod eviction;
mod eviction_manager;
mod exec_stream;
mod grpc_probe;
mod heartbeat;
mod lease;
mod local_path;
mod logs;
mod machine;
mod manager;
mod metrics;
mod network;
mod node;
mod pod_status;
mod port_forward;
mod post_start;
mod probes;
mod pull_auth;
mod quantity;
pub mod recording;
mod refs;
mod resolv_conf;
mod resource_metrics;
mod resources;
mod sa_tokens;
mod security;
mod server;
mod simulated;
mod slot;
mod stream_target;
mod time;
mod volumes;
mod worker;

pub use agent::run;
pub use atomic_writer::{write_atomic, FileEntry, Payload};
pub use backoff::Backoff;
pub use command::resolve_command;
pub use config::{AgentConfig, PodNetworkSetup};
pub use container_start::pull_policy;
pub use env::{expand, resolve_env, ConfigError, PodFacts, RefData};
pub use error::AgentError;
pub use events::{EventRecorder, EventType};
pub use eviction::{EvictionParseError, EvictionThresholds, Pressures, Threshold};
pub use lease::LEASE_NAMESPACE;
pub use logs::{render as render_logs, LogError, LogOptions};
pub use machine::MachineInfo;
pub use node::{node_labels, node_status, KUBELET_VERSION};
pub use probes::{run_probe, ProbeState, ProbeTarget, ProbeVerdict};
pub use pull_auth::{pull_auth, registry_host};
pub use quantity::{parse_millicores, parse_quantity, QuantityError};
pub use refs::fetch_refs;
pub use resources::{container_resources, qos_class, QosClass, CPU_PERIOD};
pub use security::container_security;
pub use simulated::{run_simulated, SIMULATED_LABEL};
pub use volumes::{container_mounts, prepare_volumes, PreparedVolume, VolumeError};
