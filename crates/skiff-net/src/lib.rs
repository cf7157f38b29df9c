//! Node networking for Skiff: every pod sandbox gets a veth on the node's bridge and an IP
//! from the node's podCIDR, nodes route to each other's podCIDRs, and one nftables table per
//! node carries Services and NetworkPolicies.
