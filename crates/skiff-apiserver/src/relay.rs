//! Relays pod streaming subresources to the node agent that runs the pod, over HTTPS with
//! the API server's client certificate, as kube-apiserver does to the kubelet: `pods/log` as
//! a streamed body, exec/attach/portforward as a protocol switch spliced byte for byte.

use crate::http::Body;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use skiff_api::ApiError;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

/// Where a node's agent listens: its InternalIP (else first address) and kubelet port.
pub fn agent_address(node: &Value) -> Option<(String, u16)> {
    let addrs = node.pointer("/status/addresses")?.as_array()?;
    let pick = |t: &str| {
        addrs
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(t))
            .and_then(|a| a.get("address").and_then(Value::as_str))
    };
    let ip = pick("InternalIP")
        .or_else(|| pick("ExternalIP"))
        .or_else(|| pick("Hostname"))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")?
        .as_u64()?;
    Some((ip.to_string(), u16::try_from(port).ok()?))
}

type AgentSender = hyper::client::conn::http1::SendRequest<http_body_util::Empty<Bytes>>;

/// An HTTP/1.1 connection to the agent at `addr` (TLS with the API server's client
/// certificate), able to switch protocols.
async fn connect(
    tls: Arc<rustls::ClientConfig>,
    addr: &(String, u16),
) -> Result<AgentSender, ApiError> {
    let unavailable = |what: String| ApiError::new(503, "ServiceUnavailable", what);
    let tcp = tokio::time::timeout(
        Duration::from_secs(5),
        TcpStream::connect((addr.0.as_str(), addr.1)),
    )
    .await
    .map_err(|_| {
        unavailable(format!(
            "timed out dialing the node agent at {}:{}",
            addr.0, addr.1
        ))
    })?
    .map_err(|e| {
        unavailable(format!(
            "dialing the node agent at {}:{}: {e}",
            addr.0, addr.1
        ))
    })?;
    let _ = tcp.set_nodelay(true);
    let server_name = rustls::pki_types::ServerName::try_from(addr.0.clone())
        .map_err(|e| ApiError::internal(format!("node address {}: {e}", addr.0)))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(server_name, tcp)
        .await
        .map_err(|e| {
            unavailable(format!(
                "TLS to the node agent at {}:{}: {e}",
                addr.0, addr.1
            ))
        })?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unavailable(format!("HTTP to the node agent: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

/// The agent's error answer as a Status carrying its message.
async fn agent_error(status: hyper::StatusCode, body: hyper::body::Incoming) -> ApiError {
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    if status.as_u16() == 404 {
        ApiError::new(404, "NotFound", text)
    } else {
        ApiError::new(400, "BadRequest", text)
    }
}

/// GET `path_and_query` on the agent at `addr` and stream its body back unchanged (text).
/// Non-2xx answers become a Status error carrying the agent's message.
pub async fn get(
    tls: Arc<rustls::ClientConfig>,
    addr: (String, u16),
    path_and_query: &str,
) -> Result<hyper::Response<Body>, ApiError> {
    let mut sender = connect(tls, &addr).await?;
    let req = hyper::Request::get(path_and_query)
        .header(hyper::header::HOST, format!("{}:{}", addr.0, addr.1))
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| ApiError::internal(format!("building the agent request: {e}")))?;
    let resp = sender.send_request(req).await.map_err(|e| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("node agent request: {e}"),
        )
    })?;
    let status = resp.status();
    let content_type = resp.headers().get(hyper::header::CONTENT_TYPE).cloned();
    let mut incoming = resp.into_body();
    if !status.is_success() {
        return Err(agent_error(status, incoming).await);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        while let Some(frame) = incoming.frame().await {
            match frame {
                Ok(f) => {
                    if let Ok(data) = f.into_data() {
                        if tx.send(data).await.is_err() {
                            break;
                        }
                    }
                }
                Err(_) => break,
            }
        }
    });
    let stream = ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut out = hyper::Response::new(StreamBody::new(stream).boxed());
    out.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        content_type.unwrap_or(hyper::header::HeaderValue::from_static("text/plain")),
    );
    Ok(out)
}

/// Headers of a protocol switch that must reach the other end unchanged.
const UPGRADE_HEADERS: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-accept",
    "x-stream-protocol-version",
];

/// Relay a protocol switch (exec, attach, port-forward over websockets or SPDY) to the agent:
/// send the client's upgrade request on `path_and_query`; when the agent switches protocols,
/// answer 101 with its headers and splice the two upgraded connections byte for byte.
pub async fn upgrade(
    tls: Arc<rustls::ClientConfig>,
    addr: (String, u16),
    method: hyper::Method,
    path_and_query: &str,
    client_headers: &hyper::HeaderMap,
    client: hyper::upgrade::OnUpgrade,
) -> Result<hyper::Response<Body>, ApiError> {
    let mut sender = connect(tls, &addr).await?;
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(hyper::header::HOST, format!("{}:{}", addr.0, addr.1));
    for name in UPGRADE_HEADERS {
        for v in client_headers.get_all(*name) {
            req = req.header(*name, v);
        }
    }
    let req = req
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| ApiError::internal(format!("building the agent request: {e}")))?;
    let mut resp = sender.send_request(req).await.map_err(|e| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("node agent request: {e}"),
        )
    })?;
    let status = resp.status();
    if status != hyper::StatusCode::SWITCHING_PROTOCOLS {
        return Err(agent_error(status, resp.into_body()).await);
    }
    let mut out = hyper::Response::new(crate::http::full(Bytes::new()));
    *out.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
    for name in UPGRADE_HEADERS {
        for v in resp.headers().get_all(*name) {
            out.headers_mut().append(*name, v.clone());
        }
    }
    let agent = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        let (agent, client) = match tokio::try_join!(agent, client) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!(error = %e, "stream upgrade failed");
                return;
            }
        };
        let mut agent = TokioIo::new(agent);
        let mut client = TokioIo::new(client);
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut agent).await {
            tracing::debug!(error = %e, "stream relay ended");
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agent_address_prefers_internal_ip() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}});
        assert_eq!(agent_address(&node), Some(("10.0.0.5".to_string(), 10250)));
        let no_port =
            json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}});
        assert_eq!(agent_address(&no_port), None);
    }
}
