//! Writing a workload's status through its status subresource the way the upstream
//! controllers do: one retry after a conflict, on a fresh copy — unless that copy's spec
//! generation moved, in which case the next reconcile computes a status for the new spec.

use crate::error::ControllerError;
use kube::api::PostParams;
use kube::core::NamespaceResourceScope;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// Replace the status of `current`: `set` puts the new status on a copy (the first read,
/// or a fresh one after a 409, so it can keep fields another writer bumped meanwhile).
/// A vanished object is not an error.
pub async fn replace_status<K>(
    client: &Client,
    current: &K,
    set: impl Fn(&mut K),
) -> Result<(), ControllerError>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let name = current.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), &current.namespace().unwrap_or_default());
    let mut obj = current.clone();
    for attempt in 0..2 {
        set(&mut obj);
        match api
            .replace_status(&name, &PostParams::default(), &obj)
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt == 0 => {
                obj = api
                    .get(&name)
                    .await
                    .map_err(ControllerError::api(format!("reading {name}")))?;
                if obj.meta().generation != current.meta().generation {
                    return Ok(());
                }
            }
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => {
                return Err(ControllerError::api(format!("updating status of {name}"))(
                    e,
                ))
            }
        }
    }
    Ok(())
}
