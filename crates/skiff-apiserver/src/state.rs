//! The API server's shared state: store, registry (built-ins plus CRDs), metrics, caches.

use crate::auth::Tokens;
use crate::metrics::Metrics;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use skiff_api::Registry;
use skiff_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Settings the server runs with.
#[derive(Clone, Debug)]
pub struct Config {
    /// `host:port` clients use, reported in discovery.
    pub advertise_address: String,
    /// Service CIDR base (first three octets are kept; a /16 is assumed), e.g. 10.43.0.0.
    pub service_cidr: std::net::Ipv4Addr,
    /// NodePort range.
    pub node_port_range: (u16, u16),
    /// The cluster CA certificate (PEM), published in every namespace's kube-root-ca.crt.
    pub ca_pem: String,
    /// Admits joining node agents (absent: joining is refused).
    pub join: Option<crate::join::JoinAuthority>,
    /// Signs service account tokens; absent, the server makes an in-memory key at start.
    pub token_signer: Option<Arc<crate::sa_token::TokenSigner>>,
    /// tolerationSeconds of the not-ready NoExecute toleration pods get by default
    /// (--default-not-ready-toleration-seconds).
    pub default_not_ready_toleration_seconds: i64,
    /// tolerationSeconds of the unreachable NoExecute toleration pods get by default
    /// (--default-unreachable-toleration-seconds).
    pub default_unreachable_toleration_seconds: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            advertise_address: "127.0.0.1:6443".into(),
            service_cidr: std::net::Ipv4Addr::new(10, 43, 0, 0),
            node_port_range: (30000, 32767),
            ca_pem: String::new(),
            join: None,
            token_signer: None,
            default_not_ready_toleration_seconds: 300,
            default_unreachable_toleration_seconds: 300,
        }
    }
}

/// Everything a request handler can reach.
pub struct ApiServer {
    /// Object storage.
    pub store: Arc<dyn Store>,
    registry: RwLock<Arc<Registry>>,
    /// Request, watch and store metrics.
    pub metrics: Arc<Metrics>,
    /// Static bearer tokens.
    pub tokens: RwLock<Tokens>,
    /// Server settings.
    pub config: Config,
    /// OpenAPI documents by group-version path, with their hash; cleared on registry change.
    pub openapi_cache: Mutex<HashMap<String, (String, Bytes)>>,
    /// Serializes allocations of ClusterIPs and NodePorts.
    pub alloc_lock: tokio::sync::Mutex<()>,
    /// Flips to true when shutdown begins; long-running requests end.
    pub shutdown: watch::Receiver<bool>,
    /// Wakes namespace termination and garbage collection after a deletion.
    pub cleanup_wake: tokio::sync::Notify,
    /// TLS client settings for reaching node agents (client certificate + cluster CA).
    pub agent_tls: RwLock<Option<Arc<rustls::ClientConfig>>>,
    /// Node, pod and container usage scraped from node agents (metrics.k8s.io).
    pub resource_metrics: crate::metrics_api::MetricsStore,
}

impl ApiServer {
    /// A server over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        tokens: Tokens,
        config: Config,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<ApiServer> {
        let mut config = config;
        if config.token_signer.is_none() {
            config.token_signer = crate::sa_token::TokenSigner::ephemeral().ok().map(Arc::new);
        }
        let metrics = Arc::new(Metrics::default());
        let store: Arc<dyn Store> =
            Arc::new(crate::metered::MeteredStore::new(store, metrics.clone()));
        Arc::new(ApiServer {
            store,
            registry: RwLock::new(Arc::new(Registry::builtin())),
            metrics,
            tokens: RwLock::new(tokens),
            config,
            openapi_cache: Mutex::new(HashMap::new()),
            alloc_lock: tokio::sync::Mutex::new(()),
            shutdown,
            cleanup_wake: tokio::sync::Notify::new(),
            agent_tls: RwLock::new(None),
            resource_metrics: Default::default(),
        })
    }

    /// The current registry snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().clone()
    }

    /// Replace the registry (CRD changes) and drop cached documents.
    pub fn update_registry(&self, f: impl FnOnce(&mut Registry)) {
        let mut guard = self.registry.write();
        let mut next = (**guard).clone();
        f(&mut next);
        *guard = Arc::new(next);
        self.openapi_cache.lock().clear();
    }
}
