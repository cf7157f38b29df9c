//! The expected number of pods behind a budget: the replicas of the controllers of the
//! pods it selects (a Deployment through its ReplicaSet, a ReplicaSet, a
//! ReplicationController, a StatefulSet or any kind serving the scale subresource).

use super::budget::BudgetError;
use super::Ctx;
use crate::owner_refs::controller_of;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DynamicObject, GroupVersionKind};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

/// The sum of the replicas of the pods' controllers, and the names of selected pods that
/// have no controller (they are left out of the sum, as upstream does).
pub struct Expected {
    /// Sum of the controllers' `spec.replicas`.
    pub scale: i32,
    /// Pods without a controller.
    pub unmanaged: Vec<String>,
}

/// Find every selected pod's controller and add up their scale.
pub async fn expected_scale(ctx: &Ctx, pods: &[&Pod]) -> Result<Expected, BudgetError> {
    // Controller uid → replicas: each controller counts once however many pods it has.
    let mut seen: BTreeMap<String, i32> = BTreeMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let name = pod.name_any();
        let Some(r) = controller_of(*pod) else {
            unmanaged.push(name);
            continue;
        };
        if seen.contains_key(&r.uid) {
            continue;
        }
        let ns = pod.namespace().unwrap_or_default();
        let (uid, replicas) = controller_scale(ctx, r, &ns)
            .await
            .ok_or(BudgetError::NoController(name))?;
        seen.insert(uid, replicas);
    }
    Ok(Expected {
        scale: seen.values().sum(),
        unmanaged,
    })
}

/// `(uid, replicas)` of the controller `r` names, when it exists with that uid.
async fn controller_scale(ctx: &Ctx, r: &OwnerReference, ns: &str) -> Option<(String, i32)> {
    let group = r.api_version.split_once('/').map_or("", |(g, _)| g);
    match (group, r.kind.as_str()) {
        ("apps", "ReplicaSet") => {
            let rs = ctx
                .replica_sets
                .get(&ObjectRef::new(&r.name).within(ns))
                .filter(|rs| rs.uid().as_deref() == Some(r.uid.as_str()))?;
            // A Deployment's ReplicaSet: the Deployment's scale is what the budget tracks.
            if let Some(d) = controller_of(rs.as_ref()).filter(|d| d.kind == "Deployment") {
                let dep = ctx
                    .deployments
                    .get(&ObjectRef::new(&d.name).within(ns))
                    .filter(|dep| dep.uid().as_deref() == Some(d.uid.as_str()))?;
                let replicas = dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                return Some((d.uid.clone(), replicas));
            }
            let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            Some((r.uid.clone(), replicas))
        }
        ("", "ReplicationController") => {
            let rc = ctx
                .rcs
                .get(&ObjectRef::new(&r.name).within(ns))
                .filter(|rc| rc.uid().as_deref() == Some(r.uid.as_str()))?;
            let replicas = rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            Some((r.uid.clone(), replicas))
        }
        // StatefulSets and custom controllers: read the scale subresource they serve.
        _ => scale_subresource(ctx, r, ns).await,
    }
}

async fn scale_subresource(ctx: &Ctx, r: &OwnerReference, ns: &str) -> Option<(String, i32)> {
    let (group, version) = r
        .api_version
        .split_once('/')
        .unwrap_or(("", &r.api_version));
    let gvk = GroupVersionKind::gvk(group, version, &r.kind);
    let (resource, _) = kube::discovery::pinned_kind(&ctx.client, &gvk).await.ok()?;
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &resource);
    let scale = api.get_scale(&r.name).await.ok()?;
    if scale.metadata.uid.as_deref() != Some(r.uid.as_str()) {
        return None;
    }
    Some((
        r.uid.clone(),
        scale.spec.and_then(|s| s.replicas).unwrap_or(0),
    ))
}
