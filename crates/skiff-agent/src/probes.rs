//! Liveness, readiness and startup probes: one check ([`run_probe`]) and the per-container
//! bookkeeping of thresholds and timing ([`ProbeState`]), with upstream's defaults.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{HTTPGetAction, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use skiff_cri::{ExecIo, RuntimeService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Where a probe (or an httpGet lifecycle hook) connects: the container for exec checks,
/// the pod's sandbox for network checks.
pub struct ProbeTarget<'a> {
    /// Container runtime.
    pub runtime: &'a Arc<dyn RuntimeService>,
    /// The container exec checks run in.
    pub container_id: &'a str,
    /// The pod's sandbox: checks without an explicit `host` dial `127.0.0.1` inside its
    /// network namespace (the pod may have no routable IP; with host networking it is the
    /// host's loopback).
    pub sandbox_id: &'a str,
    /// The address messages name for the pod ("" = 127.0.0.1).
    pub pod_ip: &'a str,
    /// Named container ports.
    pub ports: &'a [(String, i32)],
}

impl ProbeTarget<'_> {
    /// The host messages show when the probe names none.
    fn shown_host(&self) -> String {
        if self.pod_ip.is_empty() {
            "127.0.0.1".into()
        } else {
            self.pod_ip.to_string()
        }
    }

    /// One TCP connection to `port`: to `host` from the node when the probe names one,
    /// else into the pod's network namespace.
    pub(crate) async fn dial(&self, host: Option<&str>, port: u16) -> Result<TcpStream, String> {
        match host {
            Some(h) => TcpStream::connect((h, port))
                .await
                .map_err(|e| go_dial_error(&e.to_string())),
            None => self
                .runtime
                .port_forward(self.sandbox_id, port)
                .await
                .map_err(|e| go_dial_error(&e.to_string())),
        }
    }
}

/// The tail of Go's `dial tcp` errors for a Rust I/O error message.
fn go_dial_error(msg: &str) -> String {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("connection refused") {
        "connect: connection refused".into()
    } else if lower.contains("timed out") {
        "i/o timeout".into()
    } else if lower.contains("no route to host") {
        "connect: no route to host".into()
    } else {
        msg.to_string()
    }
}

/// Run one check of `probe`; `Err` carries the failure message (shown in the Unhealthy
/// event after "Liveness probe failed: ").
pub async fn run_probe(probe: &Probe, target: &ProbeTarget<'_>) -> Result<(), String> {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(e) = &probe.exec {
        let cmd = e.command.clone().unwrap_or_default();
        let io = ExecIo {
            stdin: None,
            stdout: None,
            stderr: None,
            resize: None,
            tty: false,
        };
        return match tokio::time::timeout(
            timeout,
            target.runtime.exec(target.container_id, cmd, io),
        )
        .await
        {
            Ok(Ok(0)) => Ok(()),
            Ok(Ok(code)) => Err(format!("command exited with status {code}")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("command timed out after {}s", timeout.as_secs())),
        };
    }
    if let Some(h) = &probe.http_get {
        return http_check(h, target, timeout).await;
    }
    if let Some(t) = &probe.tcp_socket {
        let port = resolve_port(&t.port, target.ports)?;
        let explicit = t.host.clone().filter(|h| !h.is_empty());
        let host = explicit.clone().unwrap_or_else(|| target.shown_host());
        return match tokio::time::timeout(timeout, target.dial(explicit.as_deref(), port)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("dial tcp {host}:{port}: {e}")),
            Err(_) => Err(format!("dial tcp {host}:{port}: i/o timeout")),
        };
    }
    if let Some(g) = &probe.grpc {
        let port = u16::try_from(g.port).map_err(|_| format!("invalid port {}", g.port))?;
        let addr = format!("{}:{port}", target.shown_host());
        let service = g.service.clone().unwrap_or_default();
        return crate::grpc_probe::check(&addr, &service, timeout, || target.dial(None, port))
            .await;
    }
    Err("probe has no handler".into())
}

/// One httpGet check (probes and lifecycle hooks): 200–399 is success.
pub(crate) async fn http_check(
    h: &HTTPGetAction,
    target: &ProbeTarget<'_>,
    timeout: Duration,
) -> Result<(), String> {
    let port = resolve_port(&h.port, target.ports)?;
    let explicit = h.host.clone().filter(|h| !h.is_empty());
    let host = explicit.clone().unwrap_or_else(|| target.shown_host());
    let path = h
        .path
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    let scheme = h.scheme.as_deref().unwrap_or("HTTP");
    if scheme != "HTTP" {
        return Err(format!("httpGet scheme {scheme} is not supported yet"));
    }
    let headers: Vec<(String, String)> = h
        .http_headers
        .iter()
        .flatten()
        .map(|hh| (hh.name.clone(), hh.value.clone()))
        .collect();
    let url = format!("http://{host}:{port}{path}");
    let get = async {
        let stream = target
            .dial(explicit.as_deref(), port)
            .await
            .map_err(|e| format!("Get \"{url}\": dial tcp {host}:{port}: {e}"))?;
        http_get(stream, &host, port, &path, &headers)
            .await
            .map_err(|e| format!("Get \"{url}\": {e}"))
    };
    match tokio::time::timeout(timeout, get).await {
        Ok(Ok(code)) if (200..400).contains(&code) => Ok(()),
        Ok(Ok(code)) => Err(format!("HTTP probe failed with statuscode: {code}")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

fn resolve_port(port: &IntOrString, ports: &[(String, i32)]) -> Result<u16, String> {
    let p = match port {
        IntOrString::Int(p) => *p,
        IntOrString::String(name) => match name.parse::<i32>() {
            Ok(p) => p,
            Err(_) => ports
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| *p)
                .ok_or_else(|| format!("unknown port name {name:?}"))?,
        },
    };
    u16::try_from(p).map_err(|_| format!("invalid port {p}"))
}

async fn http_get(
    mut s: TcpStream,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> std::io::Result<u16> {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    // Only the status line matters.
    while n < buf.len() {
        let r = s.read(&mut buf[n..]).await?;
        if r == 0 {
            break;
        }
        n += r;
        if buf[..n].contains(&b'\n') {
            break;
        }
    }
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed HTTP response")
        })
}

/// Threshold bookkeeping of one probe of one container instance.
#[derive(Clone, Debug)]
pub struct ProbeState {
    started: Instant,
    next: Instant,
    successes: i32,
    failures: i32,
    /// The probe's current verdict (after thresholds).
    pub passing: bool,
}

/// What a probe tick concluded.
#[derive(Clone, Debug, PartialEq)]
pub enum ProbeVerdict {
    /// Not due yet, or nothing changed.
    Unchanged,
    /// The probe crossed successThreshold.
    Passed,
    /// The probe crossed failureThreshold; carries the last message.
    Failed(String),
}

impl ProbeState {
    /// State for a container instance that started at `started`; `initially` is the verdict
    /// before the first check (readiness starts false, liveness true).
    pub fn new(probe: &Probe, started: Instant, initially: bool) -> Self {
        let delay = Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
        ProbeState {
            started,
            next: started + delay,
            successes: 0,
            failures: 0,
            passing: initially,
        }
    }

    /// Whether a check is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// When the next check is due.
    pub fn next_due(&self) -> Instant {
        self.next
    }

    /// When this instance started being probed.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Record a check's result at `now`.
    pub fn record(
        &mut self,
        probe: &Probe,
        now: Instant,
        result: Result<(), String>,
    ) -> ProbeVerdict {
        let period = Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
        self.next = now + period;
        match result {
            Ok(()) => {
                self.failures = 0;
                self.successes += 1;
                if !self.passing && self.successes >= probe.success_threshold.unwrap_or(1).max(1) {
                    self.passing = true;
                    return ProbeVerdict::Passed;
                }
                ProbeVerdict::Unchanged
            }
            Err(msg) => {
                self.successes = 0;
                self.failures += 1;
                if self.failures >= probe.failure_threshold.unwrap_or(3).max(1) {
                    // Upstream reports every time failureThreshold is reached, not only on
                    // transitions, so a restart-worthy liveness failure is never swallowed.
                    self.passing = false;
                    self.failures = 0;
                    return ProbeVerdict::Failed(msg);
                }
                ProbeVerdict::Unchanged
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thresholds() {
        let p: Probe = serde_json::from_value(json!({"periodSeconds": 1, "failureThreshold": 2, "successThreshold": 2, "exec": {"command": ["x"]}}))
            .expect("probe");
        let t = Instant::now();
        let mut s = ProbeState::new(&p, t, false);
        assert!(s.due(t));
        assert_eq!(s.record(&p, t, Ok(())), ProbeVerdict::Unchanged);
        assert!(!s.due(t));
        assert_eq!(s.record(&p, t, Ok(())), ProbeVerdict::Passed);
        assert!(s.passing);
        assert_eq!(s.record(&p, t, Err("x".into())), ProbeVerdict::Unchanged);
        assert_eq!(
            s.record(&p, t, Err("boom".into())),
            ProbeVerdict::Failed("boom".into())
        );
        assert!(!s.passing);
    }

    #[tokio::test]
    async fn network_checks_dial_into_the_sandbox() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let port = addr.port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let ok = String::from_utf8_lossy(&buf[..n]).starts_with("GET /ok ");
                let resp = if ok {
                    "HTTP/1.1 200 OK\r\n\r\n"
                } else {
                    "HTTP/1.1 500 Oops\r\n\r\n"
                };
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        let recording = crate::recording::RecordingRuntime::new();
        let rt: Arc<dyn RuntimeService> = recording.clone();
        let sandbox = rt
            .run_sandbox(skiff_cri::SandboxConfig::default())
            .await
            .expect("sandbox");
        let probe = |v: serde_json::Value| -> Probe { serde_json::from_value(v).expect("probe") };
        let ports = vec![("web".to_string(), port as i32)];
        let target = ProbeTarget {
            runtime: &rt,
            container_id: "c",
            sandbox_id: &sandbox.id,
            pod_ip: "",
            ports: &ports,
        };
        // Nothing reachable in the sandbox yet: the probe must not fall back to the host.
        assert_eq!(
            run_probe(&probe(json!({"tcpSocket": {"port": port}})), &target).await,
            Err(format!(
                "dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
        assert_eq!(
            run_probe(&probe(json!({"httpGet": {"path": "/ok", "port": port}})), &target).await,
            Err(format!("Get \"http://127.0.0.1:{port}/ok\": dial tcp 127.0.0.1:{port}: connect: connection refused"))
        );
        assert_eq!(
            run_probe(&probe(json!({"grpc": {"port": port}})), &target).await,
            Err(format!("timeout: failed to connect service \"127.0.0.1:{port}\" within 1s: context deadline exceeded"))
        );
        recording.set_port_forward_target(addr);
        assert_eq!(
            run_probe(
                &probe(json!({"httpGet": {"path": "/ok", "port": "web"}})),
                &target
            )
            .await,
            Ok(())
        );
        assert_eq!(
            run_probe(
                &probe(json!({"httpGet": {"path": "/bad", "port": port}})),
                &target
            )
            .await,
            Err("HTTP probe failed with statuscode: 500".into())
        );
        assert_eq!(
            run_probe(&probe(json!({"tcpSocket": {"port": port}})), &target).await,
            Ok(())
        );
        // An explicit host is dialled from the node.
        assert_eq!(
            run_probe(
                &probe(json!({"tcpSocket": {"port": port, "host": "127.0.0.1"}})),
                &target
            )
            .await,
            Ok(())
        );
    }
}
