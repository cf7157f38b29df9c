//! One keep-alive HTTP/1.1 connection (TLS or plain TCP) and the endpoint it dials.

use crate::error::BenchError;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Where to connect, and how.
#[derive(Clone)]
pub struct Endpoint {
    /// The loopback address of the server.
    pub addr: SocketAddr,
    /// TLS settings; `None` for plain HTTP (the etcd JSON gateway).
    pub tls: Option<Arc<ClientConfig>>,
}

/// Any byte stream hyper can drive; boxed so TLS and plain TCP share one connection type.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// One HTTP/1.1 connection; requests on it are sequential (keep-alive, no pipelining).
pub struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    host: String,
}

/// A complete response: status and full body.
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
}

impl Endpoint {
    /// Open a new connection (TCP connect, TLS handshake, HTTP/1.1 handshake).
    pub async fn connect(&self) -> Result<Conn, BenchError> {
        let addr = self.addr;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| BenchError::Connect { addr, source })?;
        // Small request/response exchanges: Nagle would add delayed-ACK stalls to every call.
        tcp.set_nodelay(true)
            .map_err(|source| BenchError::Connect { addr, source })?;
        let io: Box<dyn Io> = match &self.tls {
            Some(config) => {
                let name = ServerName::IpAddress(addr.ip().into());
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|source| BenchError::Handshake { addr, source })?;
                Box::new(tls)
            }
            None => Box::new(tcp),
        };
        let (sender, conn) =
            http1::handshake(TokioIo::new(io))
                .await
                .map_err(|source| BenchError::Http {
                    context: "handshake",
                    source,
                })?;
        // The connection task ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    /// Connect `n` connections, one after the other (handshakes are not part of any measurement).
    pub async fn connect_many(&self, n: usize) -> Result<Vec<Conn>, BenchError> {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            conns.push(self.connect().await?);
        }
        Ok(conns)
    }
}

impl Conn {
    /// Build a request for this connection (adds Host, Content-Type for bodies).
    pub fn request(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, BenchError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        if let Some(accept) = accept {
            builder = builder.header(header::ACCEPT, accept);
        }
        let body = match body {
            Some(b) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                b
            }
            None => Bytes::new(),
        };
        builder.body(Full::new(body)).map_err(BenchError::Request)
    }

    /// Send a request and return the response head with its body still streaming.
    pub async fn send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, BenchError> {
        self.sender
            .ready()
            .await
            .map_err(|source| BenchError::Http {
                context: "waiting for the connection",
                source,
            })?;
        self.sender
            .send_request(req)
            .await
            .map_err(|source| BenchError::Http {
                context: "sending a request",
                source,
            })
    }

    /// Send a request and read the whole response body.
    pub async fn call(&mut self, req: Request<Full<Bytes>>) -> Result<Reply, BenchError> {
        let resp = self.send(req).await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|source| BenchError::Http {
                context: "reading a response body",
                source,
            })?
            .to_bytes();
        Ok(Reply { status, body })
    }

    /// Send a request built from the arguments and require `expected` back.
    pub async fn expect(
        &mut self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        body: Option<Bytes>,
        expected: u16,
    ) -> Result<Bytes, BenchError> {
        let req = self.request(method.clone(), path, accept, body)?;
        let reply = self.call(req).await?;
        reply.check(method.as_str(), path, expected)?;
        Ok(reply.body)
    }
}

impl Reply {
    /// Turn an unexpected status into an error that shows the start of the body.
    pub fn check(&self, method: &str, path: &str, expected: u16) -> Result<(), BenchError> {
        if self.status.as_u16() == expected {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        Err(BenchError::Status {
            method: method.to_string(),
            path: path.to_string(),
            expected,
            status: self.status.as_u16(),
            body: text,
        })
    }
}
