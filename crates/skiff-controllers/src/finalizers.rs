//! Adding and removing one finalizer with a patch conditional on the object's
//! resourceVersion, so a concurrent change makes the write fail (and the reconcile retry)
//! instead of dropping someone else's finalizer.

use crate::error::ControllerError;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

/// Whether `obj` carries `finalizer`.
pub fn has<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// Add `finalizer` to `obj` if absent.
pub async fn add<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<(), ControllerError>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if has(obj, finalizer) {
        return Ok(());
    }
    let mut wanted = obj.finalizers().to_vec();
    wanted.push(finalizer.to_string());
    write(api, obj, wanted, finalizer).await
}

/// Remove `finalizer` from `obj` if present.
pub async fn remove<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<(), ControllerError>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if !has(obj, finalizer) {
        return Ok(());
    }
    let wanted: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    write(api, obj, wanted, finalizer).await
}

async fn write<K>(
    api: &Api<K>,
    obj: &K,
    wanted: Vec<String>,
    finalizer: &str,
) -> Result<(), ControllerError>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    // A merge patch replaces the list wholesale; the resourceVersion in it makes the
    // write conditional on the object we decided from.
    let patch =
        json!({"metadata": {"finalizers": wanted, "resourceVersion": obj.resource_version()}});
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Gone already: nothing left to guard.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ControllerError::api(format!(
            "updating finalizer {finalizer} of {}",
            obj.name_any()
        ))(e)),
    }
}
