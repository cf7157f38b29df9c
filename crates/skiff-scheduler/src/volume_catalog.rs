//! The claims, volumes and classes VolumeBinding reads, kept from watches like the nodes.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::Arc;

/// PersistentVolumeClaims ("namespace/name"), PersistentVolumes and StorageClasses.
#[derive(Debug, Default, Clone)]
pub struct VolumeCatalog {
    claims: HashMap<String, Arc<PersistentVolumeClaim>>,
    volumes: HashMap<String, Arc<PersistentVolume>>,
    classes: HashMap<String, Arc<StorageClass>>,
}

fn claim_key(pvc: &PersistentVolumeClaim) -> String {
    format!("{}/{}", pvc.namespace().unwrap_or_default(), pvc.name_any())
}

impl VolumeCatalog {
    /// Add or replace a claim.
    pub fn upsert_claim(&mut self, pvc: PersistentVolumeClaim) {
        self.claims.insert(claim_key(&pvc), Arc::new(pvc));
    }

    /// Forget a claim.
    pub fn remove_claim(&mut self, pvc: &PersistentVolumeClaim) {
        self.claims.remove(&claim_key(pvc));
    }

    /// Add or replace a volume.
    pub fn upsert_volume(&mut self, pv: PersistentVolume) {
        self.volumes.insert(pv.name_any(), Arc::new(pv));
    }

    /// Forget a volume.
    pub fn remove_volume(&mut self, pv: &PersistentVolume) {
        self.volumes.remove(&pv.name_any());
    }

    /// Add or replace a class.
    pub fn upsert_class(&mut self, sc: StorageClass) {
        self.classes.insert(sc.name_any(), Arc::new(sc));
    }

    /// Forget a class.
    pub fn remove_class(&mut self, sc: &StorageClass) {
        self.classes.remove(&sc.name_any());
    }

    /// Drop everything of one kind before a relist refills it.
    pub fn clear_claims(&mut self) {
        self.claims.clear();
    }

    /// See [`VolumeCatalog::clear_claims`].
    pub fn clear_volumes(&mut self) {
        self.volumes.clear();
    }

    /// See [`VolumeCatalog::clear_claims`].
    pub fn clear_classes(&mut self) {
        self.classes.clear();
    }

    /// Replace the claims with those `relist` collected.
    pub fn take_claims_from(&mut self, relist: &mut VolumeCatalog) {
        self.claims = std::mem::take(&mut relist.claims);
    }

    /// Replace the volumes with those `relist` collected.
    pub fn take_volumes_from(&mut self, relist: &mut VolumeCatalog) {
        self.volumes = std::mem::take(&mut relist.volumes);
    }

    /// Replace the classes with those `relist` collected.
    pub fn take_classes_from(&mut self, relist: &mut VolumeCatalog) {
        self.classes = std::mem::take(&mut relist.classes);
    }

    /// A claim by namespace and name.
    pub fn claim(&self, namespace: &str, name: &str) -> Option<&Arc<PersistentVolumeClaim>> {
        self.claims.get(&format!("{namespace}/{name}"))
    }

    /// A volume by name.
    pub fn volume(&self, name: &str) -> Option<&Arc<PersistentVolume>> {
        self.volumes.get(name)
    }

    /// A class by name.
    pub fn class(&self, name: &str) -> Option<&Arc<StorageClass>> {
        self.classes.get(name)
    }

    /// Every volume.
    pub fn volumes(&self) -> impl Iterator<Item = &Arc<PersistentVolume>> {
        self.volumes.values()
    }
}
