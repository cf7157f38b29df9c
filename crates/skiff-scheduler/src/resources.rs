//! Resource lists in integer units: the arithmetic NodeResourcesFit and scoring need.

use crate::quantity::{parse_milli, parse_value};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// CPU (millicores), memory and ephemeral storage (bytes), pod slots and extended
/// resources (whole units).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Pod slots (allocatable) or pods counted (requested).
    pub pods: i64,
    /// Extended and other named resources (hugepages, `example.com/gpu`, ...).
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Read a Kubernetes resource list; unparsable quantities count as zero because the
    /// API server validates quantities, so a bad one here is not worth failing a pod for.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            match name.as_str() {
                "cpu" => r.milli_cpu = parse_milli(&q.0).unwrap_or(0),
                "memory" => r.memory = parse_value(&q.0).unwrap_or(0),
                "ephemeral-storage" => r.ephemeral_storage = parse_value(&q.0).unwrap_or(0),
                "pods" => r.pods = parse_value(&q.0).unwrap_or(0),
                other => {
                    r.scalar
                        .insert(other.to_string(), parse_value(&q.0).unwrap_or(0));
                }
            }
        }
        r
    }

    /// Add `other` to `self`.
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.pods += other.pods;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) += v;
        }
    }

    /// Subtract `other` from `self`.
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.pods -= other.pods;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) -= v;
        }
    }

    /// Raise each resource of `self` to at least the value in `other`.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.pods = self.pods.max(other.pods);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }
}
