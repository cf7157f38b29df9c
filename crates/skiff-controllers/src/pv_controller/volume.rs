//! syncVolume: a volume's phase from its claimRef and the claim it names, and what happens
//! to a volume whose claim is gone (Released, then reclaimed by its policy).

use super::{annotation, volume_phase, Ctx, RESYNC};
use crate::error::ControllerError;
use crate::volume_match::{ANN_BOUND_BY_CONTROLLER, ANN_PROVISIONED_BY};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::PostParams;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::sync::Arc;

/// Reconcile one volume.
pub async fn sync(pv: Arc<PersistentVolume>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    if pv.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.clone());
    let Some(r) = claim_ref else {
        set_phase(&ctx, &pv, "Available", None).await?;
        return Ok(Action::await_change());
    };
    let uid = r.uid.clone().unwrap_or_default();
    if uid.is_empty() {
        // Pre-bound by the user to a claim that has not bound yet.
        set_phase(&ctx, &pv, "Available", None).await?;
        return Ok(Action::requeue(RESYNC));
    }
    let (Some(ns), Some(name)) = (r.namespace.as_deref(), r.name.as_deref()) else {
        return Ok(Action::await_change());
    };
    // Read the claim from the API: acting on a cache that has not seen the claim yet would
    // release a volume that is in use.
    let claim = Api::<PersistentVolumeClaim>::namespaced(ctx.caches.client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(ControllerError::api(format!("reading claim {ns}/{name}")))?
        .filter(|c| c.metadata.uid.as_deref() == Some(uid.as_str()));
    let Some(claim) = claim else {
        return release(&ctx, &pv).await;
    };
    let claim_volume = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("");
    if claim_volume.is_empty() {
        // The claim loop finishes the bind; it is woken by this volume's claimRef.
        return Ok(Action::requeue(RESYNC));
    }
    if claim_volume == pv.name_any() {
        set_phase(&ctx, &pv, "Bound", None).await?;
        return Ok(Action::await_change());
    }
    // The claim bound to another volume: undo our half of the bind.
    let mut fresh = (*pv).clone();
    let by_controller = annotation(&fresh, ANN_BOUND_BY_CONTROLLER).is_some();
    if let Some(spec) = fresh.spec.as_mut() {
        if by_controller {
            spec.claim_ref = None;
        } else if let Some(r) = spec.claim_ref.as_mut() {
            r.uid = None;
            r.resource_version = None;
        }
    }
    if by_controller {
        fresh.annotations_mut().remove(ANN_BOUND_BY_CONTROLLER);
    }
    Api::<PersistentVolume>::all(ctx.caches.client.clone())
        .replace(&pv.name_any(), &PostParams::default(), &fresh)
        .await
        .map_err(ControllerError::api(format!(
            "unbinding volume {}",
            pv.name_any()
        )))?;
    Ok(Action::await_change())
}

/// The claim is gone: mark the volume Released and apply its reclaim policy.
async fn release(ctx: &Ctx, pv: &PersistentVolume) -> Result<Action, ControllerError> {
    let phase = volume_phase(pv);
    if phase == "Failed" {
        return Ok(Action::await_change());
    }
    let pv = if phase != "Released" {
        set_phase(ctx, pv, "Released", None).await?
    } else {
        pv.clone()
    };
    let policy = pv
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain");
    match policy {
        "Delete" if annotation(&pv, ANN_PROVISIONED_BY).is_some() => {
            // Dynamically provisioned: its provisioner deletes it (local_path for ours), as
            // upstream leaves external provisioners' volumes to them.
        }
        "Delete" => {
            let msg = format!(
                "error getting deleter volume plugin for volume \"{}\": no deletable volume plugin matched",
                pv.name_any()
            );
            ctx.events.warning(&pv, "VolumeFailedDelete", &msg).await;
            set_phase(ctx, &pv, "Failed", Some(msg)).await?;
        }
        "Recycle" => {
            let msg = "No recycler plugin found for the volume!".to_string();
            ctx.events.warning(&pv, "VolumeFailedRecycle", &msg).await;
            set_phase(ctx, &pv, "Failed", Some(msg)).await?;
        }
        _ => {}
    }
    Ok(Action::await_change())
}

/// Write the volume's phase (and message) if they differ; returns the current object.
async fn set_phase(
    ctx: &Ctx,
    pv: &PersistentVolume,
    phase: &str,
    message: Option<String>,
) -> Result<PersistentVolume, ControllerError> {
    let old = pv.status.clone().unwrap_or_default();
    if old.phase.as_deref() == Some(phase) && old.message == message {
        return Ok(pv.clone());
    }
    let mut fresh = pv.clone();
    let status = fresh.status.get_or_insert_with(Default::default);
    status.phase = Some(phase.into());
    status.message = message;
    status.reason = None;
    Api::<PersistentVolume>::all(ctx.caches.client.clone())
        .replace_status(&pv.name_any(), &PostParams::default(), &fresh)
        .await
        .map_err(ControllerError::api(format!(
            "setting volume {} {phase}",
            pv.name_any()
        )))
}
