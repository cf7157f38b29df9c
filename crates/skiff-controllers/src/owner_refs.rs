//! Controller references: finding an object's controller, adopting orphans that match a
//! selector and releasing objects that stopped matching (upstream's ControllerRefManager).

use crate::error::ControllerError;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

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
