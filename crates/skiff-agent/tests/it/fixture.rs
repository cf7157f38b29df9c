//! A `skiff server` child process, a kube client for it, and an agent task on a fake node.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use skiff_agent::recording::{RecordingImages, RecordingRuntime};
use skiff_agent::AgentConfig;
use skiff_clientcompat::SkiffServer;
use tokio::sync::watch;

/// Server + client; the server is killed on drop (the harness's Drop guard).
pub struct Cluster {
    _server: SkiffServer,
    pub client: Client,
}

impl Cluster {
    pub async fn start() -> Cluster {
        // Agent logs help when a test times out: RUST_LOG=skiff_agent=debug.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let server =
            SkiffServer::start().unwrap_or_else(|e| panic!("cannot start skiff server: {e}"));
        let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path())
            .unwrap_or_else(|e| panic!("kubeconfig: {e}"));
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("kubeconfig not usable: {e}"));
        let client = Client::try_from(config).unwrap_or_else(|e| panic!("client: {e}"));
        // The default namespace may appear a moment after the server listens.
        for _ in 0..100 {
            let api: Api<Pod> = Api::namespaced(client.clone(), "default");
            if api.list(&Default::default()).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Cluster {
            _server: server,
            client,
        }
    }
}

/// An agent task with recording services; stopped on drop.
pub struct Agent {
    pub images: Arc<RecordingImages>,
    pub runtime: Arc<RecordingRuntime>,
    data_dir: Option<tempfile::TempDir>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Agent {
    pub fn start(client: &Client, node: &str) -> Agent {
        let images = RecordingImages::new();
        let runtime = RecordingRuntime::new();
        Self::start_with(
            client,
            node,
            images,
            runtime,
            tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        )
    }

    pub fn start_with(
        client: &Client,
        node: &str,
        images: Arc<RecordingImages>,
        runtime: Arc<RecordingRuntime>,
        data_dir: tempfile::TempDir,
    ) -> Agent {
        let mut cfg = AgentConfig::new(node, data_dir.path());
        cfg.lease_interval = Duration::from_secs(1);
        cfg.runtime_version = "recording://1".into();
        let (stop, rx) = watch::channel(false);
        let (c, i, r) = (client.clone(), images.clone(), runtime.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = skiff_agent::run(c, cfg, i, r, rx).await {
                eprintln!("agent ended with error: {e}");
            }
        });
        Agent {
            images,
            runtime,
            data_dir: Some(data_dir),
            stop,
            task: Some(task),
        }
    }

    /// Stop the agent (containers stay, as on a real restart) and hand back its parts.
    pub async fn stop(
        mut self,
    ) -> (
        Arc<RecordingImages>,
        Arc<RecordingRuntime>,
        tempfile::TempDir,
    ) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        let dir = self
            .data_dir
            .take()
            .unwrap_or_else(|| panic!("agent data dir already taken"));
        (self.images.clone(), self.runtime.clone(), dir)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Poll `f` until it returns Some, or panic with `what` after `secs`.
pub async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Create a pod from JSON in `default`.
pub async fn create_pod(client: &Client, pod: serde_json::Value) -> Pod {
    let pod: Pod = serde_json::from_value(pod).unwrap_or_else(|e| panic!("pod json: {e}"));
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.create(&Default::default(), &pod)
        .await
        .unwrap_or_else(|e| panic!("create pod: {e}"))
}

/// Read a pod, None if absent.
pub async fn get_pod(client: &Client, name: &str) -> Option<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("get pod: {e}"))
}
