//! Builders shared by the plugin tests.

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::resources::Resources;
use k8s_openapi::api::core::v1::{Taint, Toleration};

/// A Ready node with cpu (milli), memory and 110 pod slots.
pub fn node(name: &str, milli_cpu: i64, memory: i64) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        allocatable: Resources {
            milli_cpu,
            memory,
            pods: 110,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A pod in "default" requesting cpu (milli) and memory.
pub fn pod(name: &str, milli_cpu: i64, memory: i64) -> PodInfo {
    PodInfo {
        namespace: "default".into(),
        name: name.into(),
        can_preempt: true,
        requests: Resources {
            milli_cpu,
            memory,
            pods: 1,
            ..Default::default()
        },
        non_zero_milli_cpu: if milli_cpu == 0 { 100 } else { milli_cpu },
        non_zero_memory: if memory == 0 { 200 << 20 } else { memory },
        scheduler_name: "default-scheduler".into(),
        ..Default::default()
    }
}

/// A taint.
pub fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: Some(value.into()).filter(|v: &String| !v.is_empty()),
        effect: effect.into(),
        ..Default::default()
    }
}

/// A toleration.
pub fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.into()).filter(|k: &String| !k.is_empty()),
        operator: Some(op.into()),
        value: Some(value.into()).filter(|v: &String| !v.is_empty()),
        effect: Some(effect.into()).filter(|e: &String| !e.is_empty()),
        ..Default::default()
    }
}
