//! Simulated nodes: registration and instant pod lifecycle.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams};
use kube::Api;
use serde_json::json;
use tokio::sync::watch;

use crate::fixture::{create_pod, get_pod, wait_for, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_nodes_run_pods_instantly() {
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    let (stop, rx) = watch::channel(false);
    let c = client.clone();
    let task = tokio::spawn(async move { skiff_agent::run_simulated(c, 50, "sim", rx).await });

    let nodes: Api<Node> = Api::all(client.clone());
    wait_for(60, "50 simulated nodes", || {
        let nodes = nodes.clone();
        async move {
            let list = nodes
                .list(&ListParams::default().labels("skiff.dev/simulated=true"))
                .await
                .ok()?;
            (list.items.len() == 50).then_some(())
        }
    })
    .await;
    let node = nodes.get("sim-7").await.expect("sim-7");
    assert_eq!(
        node.status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("cpu"))
            .map(|q| q.0.as_str()),
        Some("32")
    );

    create_pod(&client, json!({"metadata": {"name": "fake"}, "spec": {"nodeName": "sim-7", "containers": [{"name": "c", "image": "nginx"}]}})).await;
    let pod = wait_for(20, "simulated pod Running", || {
        let client = client.clone();
        async move {
            let p = get_pod(&client, "fake").await?;
            (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(p)
        }
    })
    .await;
    let status = pod.status.clone().unwrap_or_default();
    assert!(
        status
            .pod_ip
            .as_deref()
            .is_some_and(|ip| ip.starts_with("10.128.7.")),
        "{:?}",
        status.pod_ip
    );
    assert!(status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True"));

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.delete("fake", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for(20, "simulated pod gone", || {
        let client = client.clone();
        async move { get_pod(&client, "fake").await.is_none().then_some(()) }
    })
    .await;
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

/// Scale check (slow, run on demand): 1,000 simulated nodes register and serve a pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale check; run with --ignored"]
async fn thousand_simulated_nodes() {
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    let (stop, rx) = watch::channel(false);
    let c = client.clone();
    let began = std::time::Instant::now();
    let task = tokio::spawn(async move { skiff_agent::run_simulated(c, 1000, "big", rx).await });
    let nodes: Api<Node> = Api::all(client.clone());
    wait_for(300, "1000 simulated nodes", || {
        let nodes = nodes.clone();
        async move {
            let list = nodes
                .list(&ListParams::default().labels("skiff.dev/simulated=true"))
                .await
                .ok()?;
            (list.items.len() == 1000).then_some(())
        }
    })
    .await;
    eprintln!("1000 nodes registered in {:?}", began.elapsed());
    create_pod(&client, json!({"metadata": {"name": "big"}, "spec": {"nodeName": "big-999", "containers": [{"name": "c", "image": "nginx"}]}})).await;
    wait_for(60, "pod on big-999 Running", || {
        let client = client.clone();
        async move {
            (get_pod(&client, "big").await?.status?.phase.as_deref() == Some("Running"))
                .then_some(())
        }
    })
    .await;
    eprintln!("pod Running after {:?}", began.elapsed());
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}
