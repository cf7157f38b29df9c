//! Node networking for Skiff: every pod sandbox gets a veth on the node's bridge and an IP
//! from the node's podCIDR, nodes route to each other's podCIDRs, and one nftables table per
//! node carries Services and NetworkPolicies.

mod bridge;
mod cidr;
mod command;
mod error;
pub mod host_ports;
mod ipam;
mod network_policy;
mod nft;
pub mod policy_rules;
mod proxy_metrics;
mod proxy_run;
pub mod routes;
pub mod service_model;
mod service_proxy;
pub mod service_rules;

pub use bridge::{host_interface, BridgeConfig, BridgeNetwork, BRIDGE};
pub use cidr::{CidrError, Ipv4Cidr};
pub use error::NetError;
pub use ipam::Ipam;
pub use network_policy::{run_network_policy, PolicyEngine};
pub use nft::{cleanup, Nft, TABLE};
pub use proxy_metrics::proxy_metrics;
pub use proxy_run::run_service_proxy;
pub use service_proxy::{ProxyConfig, ServiceProxy};
