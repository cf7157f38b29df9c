//! The service proxy's state: the Services and EndpointSlices it knows, the rules it has
//! committed, and which Services changed since. `sync` turns the changes into one nft
//! transaction. The watch loop that feeds it lives in `proxy_run.rs`.

use crate::cidr::Ipv4Cidr;
use crate::error::NetError;
use crate::nft::{Nft, TABLE};
use crate::proxy_metrics;
use crate::service_model::{service_ports, SERVICE_NAME_LABEL};
use crate::service_rules::{diff_batch, full_batch, service_rules, Map, ProxyNet, ServiceRules};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::time::Instant;

/// How the agent configures the service proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// This node's name (endpoints with this nodeName are local).
    pub node_name: String,
    /// The node's addresses (LoadBalancer Services are also served on them).
    pub node_ips: Vec<Ipv4Addr>,
    /// The cluster's pod network.
    pub cluster_cidr: Ipv4Cidr,
    /// The Service ClusterIP range.
    pub service_cidr: Ipv4Cidr,
    /// The nftables table (family inet) owned by Skiff.
    pub table: String,
    /// Where nft runs.
    pub nft: Nft,
    /// How long to gather changes before a sync.
    pub debounce: Duration,
}

impl ProxyConfig {
    /// The defaults (table `inet skiff`, service CIDR 10.43.0.0/16, 20 ms debounce).
    pub fn new(node_name: &str, node_ips: Vec<Ipv4Addr>, cluster_cidr: Ipv4Cidr) -> ProxyConfig {
        ProxyConfig {
            node_name: node_name.to_string(),
            node_ips,
            cluster_cidr,
            service_cidr: Ipv4Cidr::new(Ipv4Addr::new(10, 43, 0, 0), 16).unwrap_or(cluster_cidr),
            table: TABLE.to_string(),
            nft: Nft::host(),
            debounce: Duration::from_millis(20),
        }
    }
}

/// `namespace/name` of an object.
fn key(ns: Option<&String>, name: Option<&String>) -> String {
    format!(
        "{}/{}",
        ns.map(String::as_str).unwrap_or(""),
        name.map(String::as_str).unwrap_or("")
    )
}

/// The `namespace/service` an EndpointSlice belongs to, from its label.
fn slice_service(slice: &EndpointSlice) -> Option<String> {
    let svc = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some(key(slice.metadata.namespace.as_ref(), Some(svc)))
}

/// Services, slices, committed rules and pending changes of one node's proxy.
pub struct ServiceProxy {
    cfg: ProxyConfig,
    net: ProxyNet,
    services: HashMap<String, Service>,
    /// Service key → slice key → slice.
    slices: HashMap<String, BTreeMap<String, EndpointSlice>>,
    /// Slice key → the Service key it was filed under.
    slice_owner: HashMap<String, String>,
    programmed: HashMap<String, ServiceRules>,
    /// Map keys → the Service whose element holds it (node-IP LB ports can collide).
    claims: HashMap<(Map, String), String>,
    /// Changed Services → when the first unsynced EndpointSlice change for it arrived.
    dirty: HashMap<String, Option<Instant>>,
    full: bool,
}

impl ServiceProxy {
    /// A proxy that will rebuild the whole table on its first sync.
    pub fn new(cfg: ProxyConfig) -> ServiceProxy {
        let net = ProxyNet {
            cluster_cidr: cfg.cluster_cidr,
            service_cidr: cfg.service_cidr,
            node_ips: cfg.node_ips.clone(),
        };
        ServiceProxy {
            cfg,
            net,
            services: HashMap::new(),
            slices: HashMap::new(),
            slice_owner: HashMap::new(),
            programmed: HashMap::new(),
            claims: HashMap::new(),
            dirty: HashMap::new(),
            full: true,
        }
    }

    /// Whether a sync has work to do.
    pub fn has_changes(&self) -> bool {
        self.full || !self.dirty.is_empty()
    }

    fn touch(&mut self, svc: String, endpoint_change: bool) {
        let at = endpoint_change.then(Instant::now);
        let entry = self.dirty.entry(svc).or_insert(at);
        if entry.is_none() {
            *entry = at;
        }
    }

    /// A Service was added or changed.
    pub fn apply_service(&mut self, svc: Service) {
        let k = key(svc.metadata.namespace.as_ref(), svc.metadata.name.as_ref());
        if self.services.get(&k).map(|old| (&old.spec, &old.status))
            == Some((&svc.spec, &svc.status))
        {
            return;
        }
        self.services.insert(k.clone(), svc);
        self.touch(k, false);
    }

    /// A Service was deleted.
    pub fn delete_service(&mut self, svc: &Service) {
        let k = key(svc.metadata.namespace.as_ref(), svc.metadata.name.as_ref());
        if self.services.remove(&k).is_some() {
            self.touch(k, false);
        }
    }

    /// An EndpointSlice was added or changed.
    pub fn apply_slice(&mut self, slice: EndpointSlice) {
        let sk = key(
            slice.metadata.namespace.as_ref(),
            slice.metadata.name.as_ref(),
        );
        let owner = slice_service(&slice);
        if let Some(old_owner) = self.slice_owner.get(&sk).cloned() {
            if Some(&old_owner) != owner.as_ref() {
                self.remove_slice(&sk);
            } else if let Some(old) = self.slices.get(&old_owner).and_then(|m| m.get(&sk)) {
                let same = old.endpoints == slice.endpoints
                    && old.ports == slice.ports
                    && old.address_type == slice.address_type;
                if same {
                    return;
                }
            }
        }
        let Some(owner) = owner else { return };
        self.slice_owner.insert(sk.clone(), owner.clone());
        self.slices
            .entry(owner.clone())
            .or_default()
            .insert(sk, slice);
        self.touch(owner, true);
    }

    /// An EndpointSlice was deleted.
    pub fn delete_slice(&mut self, slice: &EndpointSlice) {
        let sk = key(
            slice.metadata.namespace.as_ref(),
            slice.metadata.name.as_ref(),
        );
        self.remove_slice(&sk);
    }

    fn remove_slice(&mut self, sk: &str) {
        let Some(owner) = self.slice_owner.remove(sk) else {
            return;
        };
        if let Some(m) = self.slices.get_mut(&owner) {
            m.remove(sk);
            if m.is_empty() {
                self.slices.remove(&owner);
            }
        }
        self.touch(owner, true);
    }

    /// Replace every Service after a (re)list.
    pub fn replace_services(&mut self, list: Vec<Service>) {
        let stale: Vec<String> = self.services.keys().cloned().collect();
        for k in stale {
            self.touch(k, false);
        }
        self.services.clear();
        for svc in list {
            self.apply_service(svc);
        }
    }

    /// Replace every EndpointSlice after a (re)list.
    pub fn replace_slices(&mut self, list: Vec<EndpointSlice>) {
        let stale: Vec<String> = self.slice_owner.keys().cloned().collect();
        for sk in stale {
            self.remove_slice(&sk);
        }
        for slice in list {
            self.apply_slice(slice);
        }
    }

    /// The rules `svc_key` should have now, minus map keys another Service already holds.
    fn desired(&self, svc_key: &str, claims: &HashMap<(Map, String), String>) -> ServiceRules {
        let Some(svc) = self.services.get(svc_key) else {
            return ServiceRules::default();
        };
        let slices: Vec<&EndpointSlice> = self
            .slices
            .get(svc_key)
            .map(|m| m.values().collect())
            .unwrap_or_default();
        let mut rules = service_rules(&service_ports(svc, &slices, &self.cfg.node_name), &self.net);
        rules.elements.retain(|k, _| match claims.get(k) {
            Some(owner) if owner != svc_key => {
                tracing::warn!(service = svc_key, key = %k.1, holder = %owner, "address and port already used by another service");
                false
            }
            _ => true,
        });
        rules
    }

    /// Commit pending changes as one nft transaction: the whole table on the first sync
    /// (or after a failure), otherwise only the Services that changed.
    pub async fn sync(&mut self) -> Result<(), NetError> {
        let started = Instant::now();
        let table = self.cfg.table.clone();
        let result = if self.full {
            self.sync_full(&table).await
        } else {
            self.sync_changed(&table).await
        };
        match &result {
            Ok(()) => {
                let now = Instant::now();
                for at in self.dirty.drain().filter_map(|(_, at)| at) {
                    proxy_metrics::observe_programming(now - at);
                }
                proxy_metrics::observe_sync(now - started);
            }
            // The table may no longer match what we think: rebuild it whole next time.
            Err(_) => self.full = true,
        }
        result
    }

    async fn sync_full(&mut self, table: &str) -> Result<(), NetError> {
        let mut keys: Vec<String> = self.services.keys().cloned().collect();
        keys.sort();
        let mut claims = HashMap::new();
        let mut all = HashMap::new();
        for k in keys {
            let rules = self.desired(&k, &claims);
            for e in rules.elements.keys() {
                claims.insert(e.clone(), k.clone());
            }
            all.insert(k, rules);
        }
        let batch = full_batch(table, &self.net, all.values());
        self.cfg.nft.apply(&batch).await?;
        crate::nft::table_replaced();
        self.programmed = all;
        self.claims = claims;
        self.full = false;
        Ok(())
    }

    async fn sync_changed(&mut self, table: &str) -> Result<(), NetError> {
        let mut keys: Vec<String> = self.dirty.keys().cloned().collect();
        keys.sort();
        let mut claims = self.claims.clone();
        let empty = ServiceRules::default();
        let mut batch = String::new();
        let mut staged = Vec::new();
        for k in keys {
            let old = self.programmed.get(&k).unwrap_or(&empty);
            for e in old.elements.keys() {
                claims.remove(e);
            }
            let new = self.desired(&k, &claims);
            for e in new.elements.keys() {
                claims.insert(e.clone(), k.clone());
            }
            diff_batch(table, old, &new, &mut batch);
            staged.push((k, new));
        }
        if !batch.is_empty() {
            self.cfg.nft.apply(&batch).await?;
        }
        for (k, rules) in staged {
            if rules == ServiceRules::default() {
                self.programmed.remove(&k);
            } else {
                self.programmed.insert(k, rules);
            }
        }
        self.claims = claims;
        Ok(())
    }
}
