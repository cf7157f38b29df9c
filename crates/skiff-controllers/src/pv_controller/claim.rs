//! syncClaim: bind an unbound claim to a matching (or pre-bound) volume, wait for a
//! consumer or a provisioner, and keep a bound claim's phase true to its volume.

use super::{annotation, Ctx, RESYNC};
use crate::error::ControllerError;
use crate::volume_match::{
    claim_class, find_matching_volume, is_bound_to_claim, is_delay_binding, NodeRef,
    ANN_BETA_STORAGE_PROVISIONER, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER, NO_PROVISIONER,
};
use k8s_openapi::api::core::v1::{
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus,
};
use kube::api::{ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::sync::Arc;

/// Upstream's event for a WaitForFirstConsumer claim without a chosen node.
pub const WAIT_FOR_FIRST_CONSUMER: &str = "waiting for first consumer to be created before binding";

/// Reconcile one claim.
pub async fn sync(
    pvc: Arc<PersistentVolumeClaim>,
    ctx: Arc<Ctx>,
) -> Result<Action, ControllerError> {
    if pvc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if annotation(pvc.as_ref(), ANN_BIND_COMPLETED).is_none() {
        sync_unbound(&pvc, &ctx).await
    } else {
        sync_bound(&pvc, &ctx).await
    }
}

fn volume_name(pvc: &PersistentVolumeClaim) -> Option<&str> {
    pvc.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn claim_key(pvc: &PersistentVolumeClaim) -> String {
    format!("{}/{}", pvc.namespace().unwrap_or_default(), pvc.name_any())
}

async fn get_volume(ctx: &Ctx, name: &str) -> Result<Option<PersistentVolume>, ControllerError> {
    Api::<PersistentVolume>::all(ctx.caches.client.clone())
        .get_opt(name)
        .await
        .map_err(ControllerError::api(format!(
            "reading PersistentVolume {name}"
        )))
}

async fn sync_unbound(pvc: &PersistentVolumeClaim, ctx: &Ctx) -> Result<Action, ControllerError> {
    if let Some(name) = volume_name(pvc) {
        // Pre-bound by the user to a named volume.
        let Some(pv) = get_volume(ctx, name).await? else {
            set_claim_phase(ctx, pvc, "Pending", None).await?;
            return Ok(Action::requeue(RESYNC));
        };
        let claimed_by_other = pv
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_some()
            && !is_bound_to_claim(&pv, pvc);
        if claimed_by_other {
            set_claim_phase(ctx, pvc, "Pending", None).await?;
            ctx.events
                .warning(
                    pvc,
                    "FailedBinding",
                    &format!("volume \"{name}\" already bound to a different claim."),
                )
                .await;
            return Ok(Action::requeue(RESYNC));
        }
        bind(ctx, &pv, pvc).await?;
        return Ok(Action::await_change());
    }
    let class_name = claim_class(pvc).to_string();
    let class = ctx.caches.class(&class_name);
    let delay = is_delay_binding(class.as_deref());
    let selected = annotation(pvc, ANN_SELECTED_NODE).map(str::to_string);
    let node = selected.as_deref().and_then(|n| ctx.caches.node(n));
    let node_labels = node
        .as_ref()
        .and_then(|n| n.metadata.labels.clone())
        .unwrap_or_default();
    let node_ref = selected.as_deref().map(|name| NodeRef {
        name,
        labels: &node_labels,
    });
    let volumes = Api::<PersistentVolume>::all(ctx.caches.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(ControllerError::api("listing PersistentVolumes"))?;
    if let Some(pv) = find_matching_volume(pvc, &volumes.items, delay, node_ref) {
        bind(ctx, pv, pvc).await?;
        return Ok(Action::await_change());
    }
    let pvc = &set_claim_phase(ctx, pvc, "Pending", None).await?;
    if delay && selected.is_none() {
        ctx.events
            .normal(pvc, "WaitForFirstConsumer", WAIT_FOR_FIRST_CONSUMER)
            .await;
        return Ok(Action::requeue(RESYNC));
    }
    match (class_name.as_str(), class) {
        ("", _) => {
            ctx.events
                .normal(
                    pvc,
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set",
                )
                .await
        }
        (_, None) => {
            ctx.events
                .warning(
                    pvc,
                    "ProvisioningFailed",
                    &format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
                )
                .await
        }
        (_, Some(c)) if c.provisioner == NO_PROVISIONER => {}
        (_, Some(c)) => {
            set_provisioner(ctx, pvc, &c.provisioner).await?;
            ctx.events
                .normal(
                    pvc,
                    "ExternalProvisioning",
                    &format!(
                        "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                        c.provisioner
                    ),
                )
                .await
        }
    }
    Ok(Action::requeue(RESYNC))
}

async fn sync_bound(pvc: &PersistentVolumeClaim, ctx: &Ctx) -> Result<Action, ControllerError> {
    let Some(name) = volume_name(pvc) else {
        set_claim_phase(ctx, pvc, "Lost", None).await?;
        ctx.events
            .warning(
                pvc,
                "ClaimLost",
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
            )
            .await;
        return Ok(Action::await_change());
    };
    let Some(pv) = get_volume(ctx, name).await? else {
        set_claim_phase(ctx, pvc, "Lost", None).await?;
        ctx.events
            .warning(
                pvc,
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
            )
            .await;
        return Ok(Action::await_change());
    };
    let claim_ref = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    if claim_ref.is_none() || is_bound_to_claim(&pv, pvc) {
        // Finish (or repair) the volume's side; idempotent when all is in place.
        bind(ctx, &pv, pvc).await?;
        return Ok(Action::await_change());
    }
    set_claim_phase(ctx, pvc, "Lost", None).await?;
    ctx.events
        .warning(
            pvc,
            "ClaimMisbound",
            "Two claims are bound to the same volume, this one is bound incorrectly",
        )
        .await;
    Ok(Action::await_change())
}

/// Bind `pv` and `pvc` to each other; every step is skipped when already done.
async fn bind(
    ctx: &Ctx,
    pv: &PersistentVolume,
    pvc: &PersistentVolumeClaim,
) -> Result<(), ControllerError> {
    let client = &ctx.caches.client;
    let pv_api: Api<PersistentVolume> = Api::all(client.clone());
    let pp = PostParams::default();
    let pv_name = pv.name_any();
    let mut pv = pv.clone();
    let uid_matches = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .and_then(|r| r.uid.as_deref())
        == pvc.metadata.uid.as_deref();
    if !uid_matches {
        let by_controller = !is_bound_to_claim(&pv, pvc);
        let spec = pv.spec.get_or_insert_with(Default::default);
        spec.claim_ref = Some(ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("PersistentVolumeClaim".into()),
            namespace: pvc.namespace(),
            name: Some(pvc.name_any()),
            uid: pvc.metadata.uid.clone(),
            resource_version: pvc.resource_version(),
            ..Default::default()
        });
        if by_controller {
            pv.annotations_mut()
                .insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
        }
        pv = pv_api
            .replace(&pv_name, &pp, &pv)
            .await
            .map_err(ControllerError::api(format!(
                "binding volume {pv_name} to claim {}",
                claim_key(pvc)
            )))?;
    }
    if super::volume_phase(&pv) != "Bound" {
        let status = pv.status.get_or_insert_with(Default::default);
        status.phase = Some("Bound".into());
        status.message = None;
        status.reason = None;
        pv_api
            .replace_status(&pv_name, &pp, &pv)
            .await
            .map_err(ControllerError::api(format!(
                "marking volume {pv_name} Bound"
            )))?;
    }
    let pvc_api: Api<PersistentVolumeClaim> =
        Api::namespaced(client.clone(), &pvc.namespace().unwrap_or_default());
    let mut claim = pvc.clone();
    let needs_name = volume_name(&claim) != Some(pv_name.as_str());
    if needs_name || annotation(&claim, ANN_BIND_COMPLETED).is_none() {
        if needs_name {
            claim.spec.get_or_insert_with(Default::default).volume_name = Some(pv_name.clone());
            claim
                .annotations_mut()
                .insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
        }
        claim
            .annotations_mut()
            .insert(ANN_BIND_COMPLETED.into(), "yes".into());
        claim = pvc_api
            .replace(&claim.name_any(), &pp, &claim)
            .await
            .map_err(ControllerError::api(format!(
                "binding claim {} to volume {pv_name}",
                claim_key(pvc)
            )))?;
    }
    set_claim_phase(ctx, &claim, "Bound", Some(&pv)).await?;
    Ok(())
}

/// Write the claim's phase (and, when bound, capacity and access modes) if they differ.
async fn set_claim_phase(
    ctx: &Ctx,
    pvc: &PersistentVolumeClaim,
    phase: &str,
    pv: Option<&PersistentVolume>,
) -> Result<PersistentVolumeClaim, ControllerError> {
    let old = pvc.status.clone().unwrap_or_default();
    let mut status = PersistentVolumeClaimStatus {
        phase: Some(phase.into()),
        ..old.clone()
    };
    match pv.and_then(|p| p.spec.as_ref()) {
        Some(spec) => {
            status.capacity = spec.capacity.clone();
            status.access_modes = spec.access_modes.clone();
        }
        None if phase == "Pending" => {
            status.capacity = None;
            status.access_modes = None;
        }
        None => {}
    }
    if status == old {
        return Ok(pvc.clone());
    }
    let mut claim = pvc.clone();
    claim.status = Some(status);
    let api: Api<PersistentVolumeClaim> = Api::namespaced(
        ctx.caches.client.clone(),
        &pvc.namespace().unwrap_or_default(),
    );
    api.replace_status(&pvc.name_any(), &PostParams::default(), &claim)
        .await
        .map_err(ControllerError::api(format!(
            "setting claim {} {phase}",
            claim_key(pvc)
        )))
}

/// Record which provisioner is expected to create the claim's volume.
async fn set_provisioner(
    ctx: &Ctx,
    pvc: &PersistentVolumeClaim,
    provisioner: &str,
) -> Result<(), ControllerError> {
    if annotation(pvc, ANN_STORAGE_PROVISIONER) == Some(provisioner)
        && annotation(pvc, ANN_BETA_STORAGE_PROVISIONER) == Some(provisioner)
    {
        return Ok(());
    }
    let api: Api<PersistentVolumeClaim> = Api::namespaced(
        ctx.caches.client.clone(),
        &pvc.namespace().unwrap_or_default(),
    );
    let patch = serde_json::json!({"metadata": {
        "resourceVersion": pvc.resource_version(),
        "annotations": {
            ANN_STORAGE_PROVISIONER: provisioner,
            ANN_BETA_STORAGE_PROVISIONER: provisioner,
        }
    }});
    api.patch(
        &pvc.name_any(),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .map_err(ControllerError::api(format!(
        "annotating claim {} with its provisioner",
        claim_key(pvc)
    )))?;
    Ok(())
}
