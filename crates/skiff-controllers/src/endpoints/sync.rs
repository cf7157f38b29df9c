//! One reconcile of a Service's Endpoints: compute the subsets, write only when they (or
//! the labels) differ from what is stored.

use super::{trigger_time, Ctx};
use crate::endpoint_pods::{self, HEADLESS_LABEL};
use crate::error::ControllerError;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Reconcile the Endpoints of one Service.
pub async fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    // Without a selector the Endpoints are the user's (upstream leaves them alone).
    if !endpoint_pods::has_selector(&svc) {
        return Ok(Action::await_change());
    }
    let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    let all_pods = ctx.pods.state();
    let pods: Vec<&Pod> = all_pods
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| endpoint_pods::selects(&svc, p))
        .collect();
    let trigger = ctx.triggers.compute(&svc, &pods);
    let subsets = super::desired(&svc, &pods);
    let mut labels: BTreeMap<String, String> = svc.labels().clone();
    if endpoint_pods::is_headless(&svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    let current = ctx.endpoints.get(&ObjectRef::new(&name).within(&ns));
    if let Some(cur) = &current {
        let same_subsets = cur.subsets.clone().unwrap_or_default() == subsets;
        if same_subsets && cur.labels() == &labels {
            return Ok(Action::await_change());
        }
    }
    let mut annotations = current
        .as_ref()
        .map(|c| c.annotations().clone())
        .unwrap_or_default();
    match trigger {
        Some(t) => annotations.insert(trigger_time::ANNOTATION.into(), t.to_string()),
        None => annotations.remove(trigger_time::ANNOTATION),
    };
    let ep = Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels),
            annotations: Some(annotations).filter(|a| !a.is_empty()),
            resource_version: current.as_ref().and_then(|c| c.resource_version()),
            ..Default::default()
        },
        subsets: Some(subsets).filter(|s| !s.is_empty()),
    };
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
    let pp = PostParams::default();
    match current {
        None => match api.create(&pp, &ep).await {
            // Created meanwhile (the cache lags): the next event brings it here again.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            r => {
                r.map_err(ControllerError::api(format!(
                    "creating Endpoints {ns}/{name}"
                )))?;
            }
        },
        Some(_) => {
            api.replace(&name, &pp, &ep)
                .await
                .map_err(ControllerError::api(format!(
                    "updating Endpoints {ns}/{name}"
                )))?;
        }
    }
    Ok(Action::await_change())
}
