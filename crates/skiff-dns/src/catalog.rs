//! What the DNS server knows of the cluster: Services and EndpointSlices, behind a trait
//! so lookups are tested on in-memory objects and served from watch caches.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::sync::Arc;

/// The label tying an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Read access to the cluster's Services and EndpointSlices.
pub trait Catalog: Send + Sync {
    /// Every Service.
    fn services(&self) -> Vec<Arc<Service>>;

    /// Every EndpointSlice.
    fn endpoint_slices(&self) -> Vec<Arc<EndpointSlice>>;

    /// The Service `ns/name`.
    fn service(&self, ns: &str, name: &str) -> Option<Arc<Service>> {
        self.services().into_iter().find(|s| {
            s.metadata.namespace.as_deref() == Some(ns) && s.metadata.name.as_deref() == Some(name)
        })
    }

    /// The EndpointSlices of Service `ns/name`.
    fn slices_of(&self, ns: &str, name: &str) -> Vec<Arc<EndpointSlice>> {
        self.endpoint_slices()
            .into_iter()
            .filter(|s| {
                s.metadata.namespace.as_deref() == Some(ns)
                    && s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(SERVICE_NAME_LABEL))
                        .is_some_and(|v| v == name)
            })
            .collect()
    }

    /// Whether namespace `ns` has any Service (`<ns>.svc.<domain>` then exists).
    fn namespace_has_services(&self, ns: &str) -> bool {
        self.services()
            .iter()
            .any(|s| s.metadata.namespace.as_deref() == Some(ns))
    }
}

/// A fixed set of objects: tests, and tools that serve a snapshot.
#[derive(Debug, Default, Clone)]
pub struct MemoryCatalog {
    /// The Services.
    pub services: Vec<Arc<Service>>,
    /// The EndpointSlices.
    pub slices: Vec<Arc<EndpointSlice>>,
}

impl Catalog for MemoryCatalog {
    fn services(&self) -> Vec<Arc<Service>> {
        self.services.clone()
    }

    fn endpoint_slices(&self) -> Vec<Arc<EndpointSlice>> {
        self.slices.clone()
    }
}
