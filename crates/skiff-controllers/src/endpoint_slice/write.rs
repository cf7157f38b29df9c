//! Writing a [`Plan`] for one Service: create, update in place and delete slices, each
//! write remembered by the [`Tracker`]. Shared by the EndpointSlice and mirroring
//! controllers, which differ in labels and in where the endpoints come from.

use super::pack::Plan;
use super::tracker::Tracker;
use crate::error::ControllerError;
use crate::owner_refs::controller_ref;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How the slices of one Service look apart from their endpoints.
pub struct SliceMeta<'a> {
    /// The owning Service.
    pub service: &'a Service,
    /// The labels every slice carries.
    pub labels: BTreeMap<String, String>,
}

/// Write `plan` for `key` (`namespace/service`) over the cached `existing` slices.
pub async fn apply(
    client: &Client,
    tracker: &Tracker,
    key: &str,
    existing: &[Arc<EndpointSlice>],
    plan: Plan,
    meta: &SliceMeta<'_>,
) -> Result<(), ControllerError> {
    let ns = meta.service.namespace().unwrap_or_default();
    let svc = meta.service.name_any();
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
    let owner = vec![controller_ref(meta.service)];
    let pp = PostParams::default();
    for s in plan.slices {
        let ports = Some(s.ports);
        match s
            .name
            .and_then(|n| existing.iter().find(|e| e.name_any() == n))
        {
            None => {
                let slice = EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{svc}-")),
                        namespace: Some(ns.clone()),
                        labels: Some(meta.labels.clone()),
                        owner_references: Some(owner.clone()),
                        ..Default::default()
                    },
                    address_type: "IPv4".into(),
                    endpoints: s.endpoints,
                    ports,
                };
                let made = api
                    .create(&pp, &slice)
                    .await
                    .map_err(ControllerError::api(format!(
                        "creating an EndpointSlice for {key}"
                    )))?;
                tracker.wrote(key, made.name_any(), made.resource_version());
            }
            Some(cur) => {
                let same_meta = cur.labels() == &meta.labels
                    && cur.metadata.owner_references.as_ref() == Some(&owner);
                let same_ports = cur.ports.as_deref().unwrap_or_default()
                    == ports.as_deref().unwrap_or_default();
                if !s.changed && same_meta && same_ports {
                    continue;
                }
                let mut next = cur.as_ref().clone();
                next.metadata.labels = Some(meta.labels.clone());
                next.metadata.owner_references = Some(owner.clone());
                next.endpoints = s.endpoints;
                next.ports = ports;
                let name = cur.name_any();
                let done = api
                    .replace(&name, &pp, &next)
                    .await
                    .map_err(ControllerError::api(format!(
                        "updating EndpointSlice {ns}/{name}"
                    )))?;
                tracker.wrote(key, name, done.resource_version());
            }
        }
    }
    for name in plan.delete {
        let uid = existing
            .iter()
            .find(|e| e.name_any() == name)
            .and_then(|e| e.uid());
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid,
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(ControllerError::api(format!(
                    "deleting EndpointSlice {ns}/{name}"
                ))(e))
            }
        }
        tracker.wrote(key, name, None);
    }
    Ok(())
}
