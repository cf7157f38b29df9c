//! The workload controllers (ReplicaSet, ReplicationController, Deployment) and the pod
//! and ReplicaSet caches they share.

use crate::error::ControllerError;
use crate::informer::Informer;
use futures_util::future::FutureExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::Client;
use std::future::Future;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Run the workload controllers until `shutdown` resolves.
pub async fn run(
    client: Client,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) -> Result<(), ControllerError> {
    let mut pods = Informer::<Pod>::new();
    let mut replica_sets = Informer::<ReplicaSet>::new();
    let mut rcs = Informer::<ReplicationController>::new();
    let mut deployments = Informer::<Deployment>::new();
    // StatefulSets and DaemonSets keep their template history here.
    let revisions = Informer::<ControllerRevision>::new();
    let mut loops = JoinSet::new();
    loops.spawn(
        crate::replica_set::register(&client, &mut pods, &mut replica_sets, shutdown.clone())
            .map(|r| ("replicaset-controller", r))
            .instrument(tracing::info_span!("replicaset-controller")),
    );
    loops.spawn(
        crate::replica_set::register(&client, &mut pods, &mut rcs, shutdown.clone())
            .map(|r| ("replication-controller", r))
            .instrument(tracing::info_span!("replication-controller")),
    );
    loops.spawn(
        crate::deployment::register(
            &client,
            &mut pods,
            &mut replica_sets,
            &mut deployments,
            shutdown.clone(),
        )
        .map(|r| ("deployment-controller", r))
        .instrument(tracing::info_span!("deployment-controller")),
    );
    let mut caches = JoinSet::new();
    pods.spawn(&client, &mut caches);
    replica_sets.spawn(&client, &mut caches);
    rcs.spawn(&client, &mut caches);
    deployments.spawn(&client, &mut caches);
    revisions.spawn(&client, &mut caches);
    let mut result = Ok(());
    while let Some(done) = loops.join_next().await {
        if let Ok((name, Err(e))) = done {
            tracing::error!(controller = name, error = %e, "controller failed");
            result = Err(e);
        }
    }
    caches.abort_all();
    result
}
