//! The workload controllers (ReplicaSet, ReplicationController, Deployment) and the pod
//! and ReplicaSet caches they share.

use crate::error::ControllerError;
use crate::informer::Informer;
use futures_util::future::FutureExt;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    Endpoints, Node, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Client;
use std::future::Future;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Run the workload controllers until `shutdown` resolves.
pub async fn run(
    client: Client,
    node_lifecycle: crate::node_lifecycle::Config,
    node_ipam: crate::node_ipam::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) -> Result<(), ControllerError> {
    let mut pods = Informer::<Pod>::new();
    let mut replica_sets = Informer::<ReplicaSet>::new();
    let mut rcs = Informer::<ReplicationController>::new();
    let mut deployments = Informer::<Deployment>::new();
    let mut jobs = Informer::<Job>::new();
    let mut cron_jobs = Informer::<CronJob>::new();
    // StatefulSets and DaemonSets keep their template history here.
    let mut revisions = Informer::<ControllerRevision>::new();
    let mut nodes = Informer::<Node>::new();
    let mut daemon_sets = Informer::<DaemonSet>::new();
    let mut budgets = Informer::<PodDisruptionBudget>::new();
    let mut stateful_sets = Informer::<StatefulSet>::new();
    // StatefulSets create their pods' claims once and keep them.
    let mut claims = Informer::<PersistentVolumeClaim>::new();
    // Services and their endpoints (Endpoints, EndpointSlices, mirroring, LB status).
    let mut services = Informer::<Service>::new();
    let mut endpoints = Informer::<Endpoints>::new();
    let mut endpoint_slices = Informer::<EndpointSlice>::new();
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
    loops.spawn(
        crate::job::register(&client, &mut pods, &mut jobs, shutdown.clone())
            .map(|r| ("job-controller", r))
            .instrument(tracing::info_span!("job-controller")),
    );
    loops.spawn(
        crate::job::ttl::register(&client, &mut jobs, shutdown.clone())
            .map(|r| ("ttl-after-finished-controller", r))
            .instrument(tracing::info_span!("ttl-after-finished-controller")),
    );
    loops.spawn(
        crate::cron_job::register(&client, &mut jobs, &mut cron_jobs, shutdown.clone())
            .map(|r| ("cronjob-controller", r))
            .instrument(tracing::info_span!("cronjob-controller")),
    );
    loops.spawn(
        crate::disruption::register(
            &client,
            &mut pods,
            &mut budgets,
            &replica_sets,
            &deployments,
            &rcs,
            shutdown.clone(),
        )
        .map(|r| ("disruption-controller", r))
        .instrument(tracing::info_span!("disruption-controller")),
    );
    loops.spawn(
        crate::node_lifecycle::register(&client, &pods, node_lifecycle, shutdown.clone())
            .map(|r| ("node-lifecycle-controller", r))
            .instrument(tracing::info_span!("node-lifecycle-controller")),
    );
    loops.spawn(
        crate::daemon_set::register(
            &client,
            &mut pods,
            &mut nodes,
            &mut revisions,
            &mut daemon_sets,
            shutdown.clone(),
        )
        .map(|r| ("daemonset-controller", r))
        .instrument(tracing::info_span!("daemonset-controller")),
    );
    loops.spawn(
        crate::stateful_set::register(
            &client,
            &mut pods,
            &mut stateful_sets,
            &mut revisions,
            &mut claims,
            shutdown.clone(),
        )
        .map(|r| ("statefulset-controller", r))
        .instrument(tracing::info_span!("statefulset-controller")),
    );
    loops.spawn(
        crate::endpoints::register(
            &client,
            &mut pods,
            &mut services,
            &mut endpoints,
            shutdown.clone(),
        )
        .map(|r| ("endpoint-controller", r))
        .instrument(tracing::info_span!("endpoint-controller")),
    );
    loops.spawn(
        crate::endpoint_slice::register(
            &client,
            &mut pods,
            &mut nodes,
            &mut services,
            &mut endpoint_slices,
            shutdown.clone(),
        )
        .map(|r| ("endpointslice-controller", r))
        .instrument(tracing::info_span!("endpointslice-controller")),
    );
    loops.spawn(
        crate::endpoint_slice_mirroring::register(
            &client,
            &mut services,
            &mut endpoints,
            &mut endpoint_slices,
            shutdown.clone(),
        )
        .map(|r| ("endpointslice-mirroring-controller", r))
        .instrument(tracing::info_span!("endpointslice-mirroring-controller")),
    );
    loops.spawn(
        crate::node_ipam::register(&client, &mut nodes, node_ipam, shutdown.clone())
            .map(|r| ("node-ipam-controller", r))
            .instrument(tracing::info_span!("node-ipam-controller")),
    );
    loops.spawn(
        crate::service_lb::register(&client, &mut nodes, &mut services, shutdown.clone())
            .map(|r| ("service-lb-controller", r))
            .instrument(tracing::info_span!("service-lb-controller")),
    );
    let mut caches = JoinSet::new();
    pods.spawn(&client, &mut caches);
    budgets.spawn(&client, &mut caches);
    replica_sets.spawn(&client, &mut caches);
    rcs.spawn(&client, &mut caches);
    deployments.spawn(&client, &mut caches);
    jobs.spawn(&client, &mut caches);
    cron_jobs.spawn(&client, &mut caches);
    revisions.spawn(&client, &mut caches);
    nodes.spawn(&client, &mut caches);
    daemon_sets.spawn(&client, &mut caches);
    stateful_sets.spawn(&client, &mut caches);
    claims.spawn(&client, &mut caches);
    services.spawn(&client, &mut caches);
    endpoints.spawn(&client, &mut caches);
    endpoint_slices.spawn(&client, &mut caches);
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
