//! Controller references: finding an object's controller, adopting orphans that match a
//! selector and releasing objects that stopped matching (upstream's ControllerRefManager).

use crate::error::ControllerError;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use std::sync::Arc;

/// The owner reference marked `controller: true`, if any.
pub fn controller_of<K: Resource>(obj: &K) -> Option<&OwnerReference> {
    obj.meta()
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// A controller reference to `owner` (controller and blockOwnerDeletion set, as upstream's
/// controllers write them).
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `obj` is controlled by `owner` (same kind and uid).
pub fn controlled_by<O: Resource<DynamicType = ()>, K: Resource>(obj: &K, owner: &O) -> bool {
    controller_of(obj)
        .is_some_and(|r| r.kind == O::kind(&()) && Some(&r.uid) == owner.meta().uid.as_ref())
}

/// Make `owner` the controller of the orphan `obj`; compare-and-swap on its
/// resourceVersion so an object adopted meanwhile by someone else is left alone.
pub async fn adopt<O, K>(api: &Api<K>, owner: &O, obj: &K) -> Result<K, ControllerError>
where
    O: Resource<DynamicType = ()>,
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut refs: Vec<OwnerReference> = obj.owner_references().to_vec();
    refs.push(controller_ref(owner));
    let patch = json!({"metadata": {
        "ownerReferences": refs,
        "resourceVersion": obj.resource_version(),
    }});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(ControllerError::api(format!("adopting {}", obj.name_any())))
}

/// Remove `owner`'s reference from `obj`, which no longer matches its selector.
pub async fn release<O, K>(api: &Api<K>, owner: &O, obj: &K) -> Result<(), ControllerError>
where
    O: Resource<DynamicType = ()>,
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let uid = owner.meta().uid.clone().unwrap_or_default();
    let refs: Vec<&OwnerReference> = obj
        .owner_references()
        .iter()
        .filter(|r| r.uid != uid)
        .collect();
    let patch = json!({"metadata": {
        "ownerReferences": refs,
        "resourceVersion": obj.resource_version(),
    }});
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Gone already: nothing to release.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ControllerError::api(format!(
            "releasing {}",
            obj.name_any()
        ))(e)),
    }
}

/// Re-read `owner` before adopting (upstream's canAdopt): a cached owner may already be
/// deleted, or replaced by a namesake with another uid.
pub async fn still_current<O>(client: &Client, owner: &O) -> Result<bool, ControllerError>
where
    O: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<O> = Api::namespaced(client.clone(), &owner.namespace().unwrap_or_default());
    let fresh = api
        .get_opt(&owner.name_any())
        .await
        .map_err(ControllerError::api(format!(
            "reading {}",
            owner.name_any()
        )))?;
    Ok(fresh
        .is_some_and(|f| f.meta().uid == owner.meta().uid && f.meta().deletion_timestamp.is_none()))
}

/// The objects `owner` controls among `candidates` (same namespace), as upstream's
/// ControllerRefManager claims them: controlled ones that still `belong` are kept, those
/// that stopped belonging are released (unless the owner is being deleted), and orphans
/// that belong are adopted (unless the owner or the orphan is being deleted, and only after
/// the owner was re-read from the API).
pub async fn claim<O, K>(
    client: &Client,
    owner: &O,
    candidates: impl IntoIterator<Item = Arc<K>>,
    belongs: impl Fn(&K) -> bool,
) -> Result<Vec<Arc<K>>, ControllerError>
where
    O: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let ns = owner.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    let owner_deleting = owner.meta().deletion_timestamp.is_some();
    let mut owned = Vec::new();
    let mut can_adopt: Option<bool> = None;
    for obj in candidates {
        if obj.namespace().as_deref() != Some(ns.as_str()) {
            continue;
        }
        match controller_of(obj.as_ref()) {
            Some(r) if Some(&r.uid) == owner.meta().uid.as_ref() => {
                if belongs(&obj) {
                    owned.push(obj);
                } else if !owner_deleting {
                    release(&api, owner, obj.as_ref()).await?;
                }
            }
            Some(_) => {}
            None if !owner_deleting && obj.meta().deletion_timestamp.is_none() && belongs(&obj) => {
                if can_adopt.is_none() {
                    can_adopt = Some(still_current(client, owner).await?);
                }
                if can_adopt == Some(true) {
                    match adopt(&api, owner, obj.as_ref()).await {
                        Ok(o) => owned.push(Arc::new(o)),
                        // Changed or gone meanwhile: its next event brings it back.
                        Err(e) if matches!(e.http_code(), Some(404) | Some(409)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            None => {}
        }
    }
    Ok(owned)
}
