//! Dropping the tracking finalizer from pods whose Job is gone (upstream's orphan pod
//! queue): once the Job was deleted nothing will count them, and the finalizer would keep
//! them forever.

use super::rules::TRACKING_FINALIZER;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use std::future::Future;
use tokio::sync::mpsc;

/// Receives candidate pods and removes their finalizer when their Job really is gone.
pub struct Cleaner {
    client: Client,
    tx: mpsc::UnboundedSender<(String, String)>,
    rx: mpsc::UnboundedReceiver<(String, String)>,
}

/// The sending side, for event handlers.
#[derive(Clone)]
pub struct Handle(mpsc::UnboundedSender<(String, String)>);

impl Handle {
    /// Look at `pod` soon.
    pub fn push(&self, pod: &Pod) {
        // A closed channel means shutdown.
        let _ = self
            .0
            .send((pod.namespace().unwrap_or_default(), pod.name_any()));
    }
}

impl Cleaner {
    /// A cleaner using `client`.
    pub fn new(client: Client) -> Cleaner {
        let (tx, rx) = mpsc::unbounded_channel();
        Cleaner { client, tx, rx }
    }

    /// A handle for event handlers.
    pub fn handle(&self) -> Handle {
        Handle(self.tx.clone())
    }

    /// Process candidates until `shutdown`.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (ns, name) = tokio::select! {
                next = self.rx.recv() => match next {
                    Some(item) => item,
                    None => return,
                },
                _ = &mut shutdown => return,
            };
            if let Err(e) = self.clean(&ns, &name).await {
                tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "removing the job-tracking finalizer of an orphan pod");
            }
        }
    }

    async fn clean(&self, ns: &str, name: &str) -> Result<(), kube::Error> {
        // Re-read both objects from the API: the caches may be behind (at start-up the
        // Job cache may not hold the Job yet).
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let Some(pod) = pods.get_opt(name).await? else {
            return Ok(());
        };
        if !super::rules::has_tracking_finalizer(&pod) {
            return Ok(());
        }
        if let Some(r) = crate::owner_refs::controller_of(&pod).filter(|r| r.kind == "Job") {
            let jobs: Api<Job> = Api::namespaced(self.client.clone(), ns);
            if let Some(job) = jobs.get_opt(&r.name).await? {
                if job.metadata.uid.as_deref() == Some(r.uid.as_str()) {
                    return Ok(());
                }
            }
        }
        remove_tracking_finalizer(&pods, &pod).await
    }
}

/// Remove the tracking finalizer from `pod`; a pod already gone counts as done. A JSON
/// patch with a `test` op, so concurrent status updates of the pod cannot conflict.
pub async fn remove_tracking_finalizer(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let Some(i) = pod
        .metadata
        .finalizers
        .iter()
        .flatten()
        .position(|f| f == TRACKING_FINALIZER)
    else {
        return Ok(());
    };
    let all = pod.metadata.finalizers.as_deref().unwrap_or_default();
    // The last finalizer takes the field with it, as Go's omitempty would.
    let ops = if all.len() == 1 {
        serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": [TRACKING_FINALIZER]},
            {"op": "remove", "path": "/metadata/finalizers"}
        ])
    } else {
        serde_json::json!([
            {"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": TRACKING_FINALIZER},
            {"op": "remove", "path": format!("/metadata/finalizers/{i}")}
        ])
    };
    // The variant's payload type comes from kube's json-patch dependency; serde builds it.
    let ops = serde_json::from_value(ops).map_err(kube::Error::SerdeError)?;
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(ops),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
