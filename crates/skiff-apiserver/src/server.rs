//! The HTTPS listener and the top-level request handler: authentication, non-resource
//! endpoints (version, health, metrics, discovery, OpenAPI) and dispatch to resources.

use crate::auth::{self, User};
use crate::handlers::{self, Ctx};
use crate::http::{self, Body, Query};
use crate::route::{route, Route};
use crate::state::ApiServer;
use ::http::{header, HeaderValue, Request, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use skiff_api::{discovery, openapi, ApiError};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A certificate or key file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file holds no private key.
    #[error("no private key in {0}")]
    NoKey(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// Binding the listener failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The Kubernetes version this server implements.
pub const KUBE_VERSION: &str = "v1.33.0";

fn read_file(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// rustls configuration: serving certificate, client certificates from our CA optional (so
/// bearer tokens work), ALPN h2 and http/1.1.
pub fn tls_config(ca: &Path, cert: &Path, key: &Path) -> Result<rustls::ServerConfig, ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut read_file(cert)?.as_slice())
            .filter_map(Result::ok)
            .collect();
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut read_file(key)?.as_slice())
        .ok()
        .flatten()
        .ok_or_else(|| ServeError::NoKey(key.display().to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut read_file(ca)?.as_slice()).filter_map(Result::ok) {
        roots.add(c)?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

fn load_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ServeError> {
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut read_file(cert)?.as_slice())
            .filter_map(Result::ok)
            .collect();
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut read_file(key)?.as_slice())
        .ok()
        .flatten()
        .ok_or_else(|| ServeError::NoKey(key.display().to_string()))?;
    Ok((certs, key))
}

fn ca_roots(ca: &Path) -> Result<rustls::RootCertStore, ServeError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut read_file(ca)?.as_slice()).filter_map(Result::ok) {
        roots.add(c)?;
    }
    Ok(roots)
}

/// TLS client settings for talking to node agents: trust the cluster CA, present `cert`.
pub fn agent_client_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<rustls::ClientConfig, ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (certs, key) = load_identity(cert, key)?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(ca_roots(ca)?)
        .with_client_auth_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// TLS server settings for a node agent's API: its serving certificate, and client
/// certificates from the cluster CA required.
pub fn agent_server_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<rustls::ServerConfig, ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (certs, key) = load_identity(cert, key)?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(ca_roots(ca)?),
        provider.clone(),
    )
    .build()?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Serve HTTPS on `addr` until `shutdown` flips; then stop accepting, let in-flight requests
/// finish (up to `grace`), and return.
pub async fn serve(
    state: Arc<ApiServer>,
    addr: SocketAddr,
    tls: rustls::ServerConfig,
    grace: Duration,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = state.shutdown.clone();
    tracing::info!(%addr, "API server listening");
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(t)) => t,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| auth::user_from_certificate(c.as_ref()));
            let svc = service_fn(move |req| {
                let state = state.clone();
                let user = user.clone();
                async move { Ok::<_, Infallible>(handle(state, user, req).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections drained"),
        _ = tokio::time::sleep(grace) => tracing::warn!("drain timed out; closing remaining connections"),
    }
    Ok(())
}

fn authenticate(
    state: &ApiServer,
    cert_user: Option<User>,
    req: &Request<Incoming>,
) -> Option<User> {
    if let Some(u) = cert_user {
        return Some(u);
    }
    let h = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = auth::bearer_token(h)?;
    if let Some(u) = state.tokens.read().lookup(token).cloned() {
        return Some(u);
    }
    if !crate::sa_auth::looks_like_jwt(token) {
        return None;
    }
    match crate::sa_auth::authenticate(state, token, &[crate::sa_token::ISSUER.to_string()]) {
        Ok(u) => Some(u),
        Err(e) => {
            tracing::debug!(error = %e, "service account token refused");
            None
        }
    }
}

/// Handle one request.
pub async fn handle(
    state: Arc<ApiServer>,
    cert_user: Option<User>,
    req: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let r = route(&path);
    match r {
        Route::Health => return health(&path),
        Route::CaCerts => return http::text(200, state.config.ca_pem.clone()),
        Route::Join => return join(&state, req).await,
        _ => {}
    }
    let Some(user) = authenticate(&state, cert_user, &req) else {
        return http::error(&ApiError::unauthorized());
    };
    let (resource_label, verb) = match &r {
        Route::Resource(p) => (
            p.resource.clone(),
            handlers::verb_of(req.method(), p, &query),
        ),
        _ => (String::new(), "GET"),
    };
    let resp = match r {
        Route::Resource(p) => {
            let info = state.registry().get(&p.group, &p.version, &p.resource);
            match info {
                None => http::error(&ApiError::path_not_found()),
                Some(info) => {
                    let (mut parts, body) = req.into_parts();
                    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
                    let body = match read_body(body).await {
                        Ok(b) => b,
                        Err(e) => return http::error(&e),
                    };
                    let ctx = Ctx {
                        state: state.clone(),
                        user,
                        method: parts.method,
                        headers: parts.headers,
                        query,
                        body,
                        info,
                        ns: p.namespace,
                        name: p.name,
                        sub: p.subresource,
                        upgrade,
                    };
                    handlers::serve(ctx, verb).await
                }
            }
        }
        other => non_resource(&state, other, &req),
    };
    state.metrics.request(
        verb,
        &resource_label,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// `POST /v1-skiff/join`, authenticated by the join secret rather than a user credential.
async fn join(state: &ApiServer, req: Request<Incoming>) -> Response<Body> {
    if req.method() != hyper::Method::POST {
        return http::error(&ApiError::new(
            405,
            "MethodNotAllowed",
            "the join endpoint only accepts POST",
        ));
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(auth::bearer_token)
        .map(str::to_string);
    let body = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(e) => return http::error(&e),
    };
    match crate::join::join(state.config.join.as_ref(), bearer.as_deref(), &body) {
        Ok(v) => http::json(200, &v),
        Err(e) => http::error(&e),
    }
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, crate::objects::MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::too_large())
        }
        Err(e) => Err(ApiError::bad_request(format!("reading request body: {e}"))),
    }
}

fn health(path: &str) -> Response<Body> {
    if path.contains("verbose") || path.ends_with("?verbose") {
        http::text(200, "[+]ping ok\n[+]etcd ok\nhealthz check passed\n")
    } else {
        http::text(200, "ok")
    }
}

fn aggregated_version(accept: Option<&str>) -> Option<&'static str> {
    let accept = accept?;
    for part in accept.split(',') {
        let p: Vec<&str> = part.split(';').map(str::trim).collect();
        if p.contains(&"as=APIGroupDiscoveryList") && p.contains(&"g=apidiscovery.k8s.io") {
            if p.contains(&"v=v2") {
                return Some("v2");
            }
            if p.contains(&"v=v2beta1") {
                return Some("v2beta1");
            }
        }
    }
    None
}

fn non_resource(state: &ApiServer, r: Route, req: &Request<Incoming>) -> Response<Body> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let reg = state.registry();
    let aggregated = |legacy: bool| -> Option<Response<Body>> {
        let v = aggregated_version(accept)?;
        let mut resp = http::json(200, &discovery::aggregated(&reg, legacy, v));
        let ct = format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList");
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("application/json")),
        );
        resp.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        Some(resp)
    };
    match r {
        Route::Version => http::json(
            200,
            &json!({
                "major": "1", "minor": "33", "gitVersion": format!("{KUBE_VERSION}+skiff.{}", env!("CARGO_PKG_VERSION")),
                "gitCommit": "skiff", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.24.0", "compiler": "gc", "platform": format!("linux/{}", std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64")),
            }),
        ),
        Route::Metrics => {
            let mut r = http::text(200, state.metrics.render());
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        Route::CoreVersions => aggregated(true).unwrap_or_else(|| {
            http::json(
                200,
                &discovery::api_versions(&state.config.advertise_address),
            )
        }),
        Route::Groups => {
            aggregated(false).unwrap_or_else(|| http::json(200, &discovery::api_group_list(&reg)))
        }
        Route::Group(g) => match discovery::api_group(&reg, &g) {
            Some(v) => http::json(200, &v),
            None => http::error(&ApiError::path_not_found()),
        },
        Route::ResourceList(g, v) => match discovery::api_resource_list(&reg, &g, &v) {
            Some(doc) => http::json(200, &doc),
            None => http::error(&ApiError::path_not_found()),
        },
        // An empty OpenAPI v2 document (a zero-length protobuf message). Skiff publishes its
        // schemas through /openapi/v3, which kubectl uses for every known kind; for a kind the
        // server does not serve, kubectl falls back to v2 client-side validation, finds no
        // schema and proceeds to the "no matches for kind" error, exactly as upstream. A 404
        // here would instead abort with "the server could not find the requested resource".
        Route::OpenApiV2 => {
            let mut r = Response::new(http::full(Bytes::new()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                ),
            );
            r
        }
        Route::OpenApiIndex => {
            let mut entries = Vec::new();
            for (g, vs) in reg.group_versions() {
                for v in vs {
                    if let Some((hash, _)) = openapi_doc(state, &reg, &g, &v) {
                        entries.push((openapi::gv_path(&g, &v), hash));
                    }
                }
            }
            http::json(200, &openapi::index(&entries))
        }
        Route::OpenApiDoc(g, v) => match openapi_doc(state, &reg, &g, &v) {
            Some((hash, bytes)) => {
                let mut r = http::json_bytes(200, bytes.to_vec());
                if let Ok(h) = HeaderValue::from_str(&format!("\"{hash}\"")) {
                    r.headers_mut().insert(header::ETAG, h);
                }
                r
            }
            None => http::error(&ApiError::path_not_found()),
        },
        _ => http::error(&ApiError::path_not_found()),
    }
}

fn openapi_doc(
    state: &ApiServer,
    reg: &skiff_api::Registry,
    g: &str,
    v: &str,
) -> Option<(String, Bytes)> {
    let key = openapi::gv_path(g, v);
    if let Some(hit) = state.openapi_cache.lock().get(&key) {
        return Some(hit.clone());
    }
    let doc = openapi::document(reg, g, v)?;
    let bytes = Bytes::from(serde_json::to_vec(&doc).ok()?);
    let hash = openapi::hash(&bytes);
    state
        .openapi_cache
        .lock()
        .insert(key, (hash.clone(), bytes.clone()));
    Some((hash, bytes))
}
