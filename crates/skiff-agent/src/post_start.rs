//! lifecycle.postStart: the hook runs right after the container starts and before it counts
//! as running; a failure kills the instance (FailedPostStartHook) and restartPolicy applies,
//! as the kubelet's `startContainer` does.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler};
use skiff_cri::ExecIo;

use crate::events::EventType;
use crate::probes::ProbeTarget;
use crate::worker::PodWorker;

/// Upper bound on a hook: the worker cannot react to its pod (deletion included) while a
/// hook runs, and upstream has no limit at all, so this only guards against a hung hook.
const HOOK_LIMIT: Duration = Duration::from_secs(300);
/// Timeout of an httpGet hook's request (upstream's lifecycle HTTP client default).
const HTTP_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Collects an exec hook's output for the failure message.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Ok(mut v) = self.0.lock() {
            // Only the beginning matters in a message.
            if v.len() < 4096 {
                v.extend_from_slice(buf);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Go's `%v` of a string slice: `[sh -c exit 1]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Run one lifecycle handler; `Err` is upstream's message (for the container's status, never
/// for events: it may contain secrets).
pub(crate) async fn run_handler(
    h: &LifecycleHandler,
    target: &ProbeTarget<'_>,
    container: &str,
    pod: &str,
) -> Result<(), String> {
    if let Some(e) = &h.exec {
        let cmd = e.command.clone().unwrap_or_default();
        let out = Captured::default();
        let io = ExecIo {
            stdin: None,
            stdout: Some(Box::new(out.clone())),
            stderr: Some(Box::new(out.clone())),
            resize: None,
            tty: false,
        };
        let err = match target
            .runtime
            .exec(target.container_id, cmd.clone(), io)
            .await
        {
            Ok(0) => return Ok(()),
            Ok(code) => {
                let output = out
                    .0
                    .lock()
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                    .unwrap_or_default();
                format!(
                    "command '{}' exited with {code}: {output}, message: {output:?}",
                    cmd.join(" ")
                )
            }
            Err(e) => format!("{e}, message: \"\""),
        };
        return Err(format!(
            "Exec lifecycle hook ({}) for Container {container:?} in Pod {pod:?} failed - error: {err}",
            go_list(&cmd)
        ));
    }
    if let Some(g) = &h.http_get {
        return crate::probes::http_check(g, target, HTTP_HOOK_TIMEOUT)
            .await
            .map_err(|e| {
                format!(
                    "HTTP lifecycle hook ({}) for Container {container:?} in Pod {pod:?} failed - error: {e}",
                    g.path.as_deref().unwrap_or_default()
                )
            });
    }
    if let Some(s) = &h.sleep {
        tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64)).await;
        return Ok(());
    }
    Err(format!(
        "Lifecycle hook for Container {container:?} in Pod {pod:?} has no handler"
    ))
}

impl PodWorker {
    /// Run the container's postStart hook against the instance `id` that has just started.
    /// On failure the instance is killed with upstream's events and its message returned.
    pub(crate) async fn post_start(&mut self, id: &str, c: &Container) -> Result<(), String> {
        let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else {
            return Ok(());
        };
        let sandbox_id = self
            .sandbox
            .as_ref()
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let pod_ip = if self.host_network() {
            "127.0.0.1".to_string()
        } else {
            self.pod_ip.clone()
        };
        let ports: Vec<(String, i32)> = c
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone().map(|n| (n, p.container_port)))
            .collect();
        let pod = format!(
            "{}_{}({})",
            self.pod.metadata.name.as_deref().unwrap_or_default(),
            self.pod.metadata.namespace.as_deref().unwrap_or_default(),
            self.uid
        );
        let target = ProbeTarget {
            runtime: &self.ctx.runtime,
            container_id: id,
            sandbox_id: &sandbox_id,
            pod_ip: &pod_ip,
            ports: &ports,
        };
        let result =
            match tokio::time::timeout(HOOK_LIMIT, run_handler(h, &target, &c.name, &pod)).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "PostStartHook for Container {:?} in Pod {pod:?} did not finish within {}",
                    c.name,
                    crate::worker::fmt_secs(HOOK_LIMIT)
                )),
            };
        let Err(msg) = result else {
            return Ok(());
        };
        tracing::info!(pod = %self.key(), container = %c.name, error = %msg, "postStart hook failed");
        // As upstream: the event never carries the handler's message (it may hold secrets).
        self.event(
            Some(&c.name),
            EventType::Warning,
            "FailedPostStartHook",
            "PostStartHook failed",
        )
        .await;
        self.event(
            Some(&c.name),
            EventType::Normal,
            "Killing",
            "FailedPostStartHook",
        )
        .await;
        let grace = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64;
        if let Err(e) = self
            .ctx
            .runtime
            .stop_container(id, Duration::from_secs(grace))
            .await
        {
            tracing::warn!(pod = %self.key(), error = %e, "stop after postStart failure");
        }
        Err(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_list_format() {
        assert_eq!(
            go_list(&["sh".into(), "-c".into(), "exit 1".into()]),
            "[sh -c exit 1]"
        );
    }
}
