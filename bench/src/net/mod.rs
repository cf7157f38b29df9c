//! Pod-network benchmarks: HTTP to a pod directly and through its ClusterIP, from a node
//! that is a private network namespace.

pub mod http_load;
