//! The disruption controller: keeps each PodDisruptionBudget's status (expectedPods,
//! currentHealthy, desiredHealthy, disruptionsAllowed, disruptedPods, observedGeneration
//! and the DisruptionAllowed condition) true to the pods it selects, which is what the API
//! server's eviction subresource reads before it lets a pod go.
//!
//! The arithmetic is in [`budget`]; the controllers' replicas come from [`scale`].

pub mod budget;
mod scale;
mod sync;

use crate::error::ControllerError;
use crate::events::Recorder;
use crate::informer::Informer;
use crate::work_queue::{self, ReconcileFuture};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// The component name on events (upstream's disruption controller reports as the
/// controller manager).
pub const COMPONENT: &str = "controllermanager";

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All pods.
    pub pods: Store<Pod>,
    /// All budgets.
    pub budgets: Store<PodDisruptionBudget>,
    /// All ReplicaSets (a pod's ReplicaSet leads to its Deployment).
    pub replica_sets: Store<ReplicaSet>,
    /// All Deployments.
    pub deployments: Store<Deployment>,
    /// All ReplicationControllers.
    pub rcs: Store<ReplicationController>,
    /// Event recorder.
    pub events: Recorder,
}

/// Whether the budget selects the pod: same namespace and matching labels. A budget
/// without a selector selects nothing; an empty selector selects every pod of its
/// namespace (policy/v1).
pub fn selects(pdb: &PodDisruptionBudget, pod: &Pod) -> bool {
    if pdb.namespace() != pod.namespace() {
        return false;
    }
    match pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) {
        None => false,
        Some(sel) => skiff_selectors::label_selector_matches(sel, pod.metadata.labels.as_ref()),
    }
}

/// Wire the controller to the shared caches; returns its loop, to be run after the caches
/// are spawned.
pub fn register(
    client: &Client,
    pods: &mut Informer<Pod>,
    budgets: &mut Informer<PodDisruptionBudget>,
    replica_sets: &Informer<ReplicaSet>,
    deployments: &Informer<Deployment>,
    rcs: &Informer<ReplicationController>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<PodDisruptionBudget>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        pods: pods.store(),
        budgets: budgets.store(),
        replica_sets: replica_sets.store(),
        deployments: deployments.store(),
        rcs: rcs.store(),
        events: Recorder::new(client.clone(), COMPONENT),
    });
    {
        let ctx = ctx.clone();
        let enqueue = enqueue.clone();
        pods.on_event(move |pod, _deleted| {
            for pdb in ctx.budgets.state() {
                if selects(&pdb, pod) {
                    enqueue.push(&pdb.namespace().unwrap_or_default(), &pdb.name_any());
                }
            }
        });
    }
    budgets.on_event(move |pdb, deleted| {
        if !deleted {
            enqueue.push(&pdb.namespace().unwrap_or_default(), &pdb.name_any());
        }
    });
    let store = budgets.store();
    async move {
        work_queue::drive(
            "disruption-controller",
            reconcile,
            work_queue::retry_after_error,
            ctx,
            store,
            dequeue,
            shutdown,
        )
        .await;
        Ok(())
    }
}

fn reconcile(obj: Arc<PodDisruptionBudget>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync::reconcile(obj, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn budgets_select_pods_of_their_namespace_by_label() {
        let pdb = |selector: serde_json::Value| -> PodDisruptionBudget {
            serde_json::from_value(json!({
                "metadata": {"name": "b", "namespace": "ns"},
                "spec": {"selector": selector}
            }))
            .expect("pdb")
        };
        let pod = |ns: &str, app: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": "p", "namespace": ns, "labels": {"app": app}}
            }))
            .expect("pod")
        };
        let web = pdb(json!({"matchLabels": {"app": "web"}}));
        assert!(selects(&web, &pod("ns", "web")));
        assert!(!selects(&web, &pod("ns", "db")));
        assert!(!selects(&web, &pod("other", "web")));
        // policy/v1: an empty selector selects every pod of the namespace, none selects none.
        assert!(selects(&pdb(json!({})), &pod("ns", "db")));
        assert!(!selects(&pdb(serde_json::Value::Null), &pod("ns", "db")));
    }
}
