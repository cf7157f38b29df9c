//! One reconcile of a budget: count its pods, compute its numbers, write its status.

use super::budget::{self, BudgetError};
use super::{scale, selects, Ctx};
use crate::error::ControllerError;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// How soon a budget whose numbers could not be computed is looked at again.
const FAILED_RETRY: Duration = Duration::from_secs(10);

/// Bring `pdb`'s status in line with the pods it selects.
pub async fn reconcile(
    pdb: Arc<PodDisruptionBudget>,
    ctx: Arc<Ctx>,
) -> Result<Action, ControllerError> {
    let all = ctx.pods.state();
    let pods: Vec<&Pod> = all
        .iter()
        .map(Arc::as_ref)
        .filter(|p| selects(&pdb, p))
        .collect();
    if pods.is_empty() {
        ctx.events
            .normal(pdb.as_ref(), "NoPods", "No matching pods found")
            .await;
    }
    let now = Timestamp::now();
    let counted = match expected(&ctx, &pdb, &pods).await {
        Ok(c) => c,
        Err(e) => {
            ctx.events
                .warning(
                    pdb.as_ref(),
                    "CalculateExpectedPodCountFailed",
                    &format!("Failed to calculate the number of expected pods: {e}"),
                )
                .await;
            write(&ctx, &pdb, budget::failed(&pdb, &e, now)).await?;
            return Ok(Action::requeue(FAILED_RETRY));
        }
    };
    let (expected_pods, desired_healthy) = counted;
    let disrupted = budget::disrupted(&pdb, &pods, now);
    for name in &disrupted.expired {
        if let Some(pod) = pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
        {
            ctx.events
                .warning(
                    *pod,
                    "NotDeleted",
                    &format!(
                        "Pod was expected by PDB {}/{} to be deleted but it wasn't",
                        pdb.namespace().unwrap_or_default(),
                        pdb.name_any()
                    ),
                )
                .await;
        }
    }
    let current_healthy = budget::healthy(&pods, &disrupted.pending);
    let status = budget::status(
        &pdb,
        current_healthy,
        desired_healthy,
        expected_pods,
        disrupted.pending,
        now,
    );
    write(&ctx, &pdb, status).await?;
    Ok(match disrupted.recheck {
        Some(at) => {
            let wait = at.duration_since(now).unsigned_abs();
            Action::requeue(wait + Duration::from_millis(100))
        }
        None => Action::await_change(),
    })
}

/// `(expectedPods, desiredHealthy)`, reading the controllers' scale when the budget needs it.
async fn expected(
    ctx: &Ctx,
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
) -> Result<(i32, i32), BudgetError> {
    let count = i32::try_from(pods.len()).unwrap_or(i32::MAX);
    if !budget::needs_scale(pdb) {
        return budget::expected_and_desired(pdb, count, None);
    }
    let found = scale::expected_scale(ctx, pods).await?;
    if !found.unmanaged.is_empty() {
        let selector = pdb
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .map(selector_string)
            .unwrap_or_default();
        ctx.events
            .warning(
                pdb,
                "UnmanagedPods",
                &format!(
                    "Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value."
                ),
            )
            .await;
    }
    budget::expected_and_desired(pdb, count, Some(found.scale))
}

/// A selector as upstream prints it: requirements sorted by key ("app=web,tier in (a,b)").
fn selector_string(sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> String {
    let mut parts: Vec<(String, String)> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{k}={v}")))
        .collect();
    for r in sel.match_expressions.iter().flatten() {
        let values = r.values.clone().unwrap_or_default().join(",");
        let text = match r.operator.as_str() {
            "In" => format!("{} in ({values})", r.key),
            "NotIn" => format!("{} notin ({values})", r.key),
            "Exists" => r.key.clone(),
            "DoesNotExist" => format!("!{}", r.key),
            other => format!("{} {other} ({values})", r.key),
        };
        parts.push((r.key.clone(), text));
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

/// Replace the status when it changed; a compare-and-swap on the cached resourceVersion,
/// so an eviction recorded meanwhile is never overwritten (the retry recounts).
async fn write(
    ctx: &Ctx,
    pdb: &PodDisruptionBudget,
    status: PodDisruptionBudgetStatus,
) -> Result<(), ControllerError> {
    if pdb.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut next = pdb.clone();
    next.status = Some(status);
    let api: Api<PodDisruptionBudget> =
        Api::namespaced(ctx.client.clone(), &pdb.namespace().unwrap_or_default());
    match api
        .replace_status(&pdb.name_any(), &PostParams::default(), &next)
        .await
    {
        Ok(_) => Ok(()),
        // Deleted meanwhile: nothing to report on.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ControllerError::api(format!(
            "updating the status of PodDisruptionBudget {}",
            pdb.name_any()
        ))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_print_like_labels_selector_strings() {
        let sel = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .expect("selector");
        assert_eq!(selector_string(&sel), "app=web,!canary,tier in (a,b)");
    }
}
