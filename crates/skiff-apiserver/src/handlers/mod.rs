//! Resource endpoints: one module per verb family, dispatched from here.

mod default_tolerations;
mod delete;
mod eviction;
mod hooks;
mod priority_admission;
mod read;
mod reviews;
mod sa_admission;
mod scale;
mod token_request;
mod watch;
mod write;

pub use hooks::{bootstrap, namespace_cleanup_loop, register_crds};

use crate::auth::User;
use crate::http::{self, Body, Query};
use crate::route::ResourcePath;
use crate::state::ApiServer;
use ::http::{HeaderMap, Method, Response};
use bytes::Bytes;
use skiff_api::{ApiError, ResourceInfo};
use std::sync::Arc;

/// One resource request, resolved against the registry.
pub struct Ctx {
    /// Server state.
    pub state: Arc<ApiServer>,
    /// Authenticated caller.
    pub user: User,
    /// HTTP method.
    pub method: Method,
    /// Request headers.
    pub headers: HeaderMap,
    /// Query parameters.
    pub query: Query,
    /// Request body.
    pub body: Bytes,
    /// The resource addressed.
    pub info: Arc<ResourceInfo>,
    /// Namespace from the URL.
    pub ns: Option<String>,
    /// Object name from the URL.
    pub name: Option<String>,
    /// Subresource from the URL.
    pub sub: Option<String>,
    /// The connection's upgrade, for exec/attach/portforward (HTTP/1.1 upgrade requests).
    pub upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl Ctx {
    /// A request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The object name, or a 405/404 when the URL has none.
    pub fn name(&self) -> Result<&str, ApiError> {
        self.name.as_deref().ok_or_else(ApiError::path_not_found)
    }

    /// Storage key of the named object.
    pub fn key(&self) -> Result<String, ApiError> {
        Ok(self.info.key(self.ns.as_deref(), self.name()?))
    }

    /// The named object as stored, or 404.
    pub fn current(&self) -> Result<std::sync::Arc<skiff_store::StoredObject>, ApiError> {
        let name = self.name()?;
        self.state
            .store
            .get(&self.key()?)
            .ok_or_else(|| ApiError::not_found(&self.info.group, &self.info.resource, name))
    }
}

/// The verb a request performs, for metrics and dispatch.
pub fn verb_of(method: &Method, p: &ResourcePath, q: &Query) -> &'static str {
    let watching = p.legacy_watch || q.flag("watch");
    match (method.as_str(), p.name.is_some()) {
        ("GET", _) if watching => "WATCH",
        ("GET", false) => "LIST",
        ("GET", true) => "GET",
        ("POST", _) => "POST",
        ("PUT", _) => "PUT",
        ("PATCH", _) => "PATCH",
        ("DELETE", false) => "DELETECOLLECTION",
        ("DELETE", true) => "DELETE",
        _ => "OTHER",
    }
}

/// Serve a resource request.
pub async fn serve(ctx: Ctx, verb: &str) -> Response<Body> {
    match dispatch(&ctx, verb).await {
        Ok(r) => r,
        Err(e) => http::error(&e),
    }
}

async fn dispatch(ctx: &Ctx, verb: &str) -> Result<Response<Body>, ApiError> {
    let info = &ctx.info;
    if info.namespaced
        && ctx.ns.is_none()
        && (ctx.name.is_some() || verb == "POST")
        && !reviews::is_review(info)
    {
        return Err(ApiError::path_not_found());
    }
    if !info.namespaced && ctx.ns.is_some() {
        return Err(ApiError::path_not_found());
    }
    if reviews::is_review(info) {
        return reviews::serve(ctx, verb).await;
    }
    if crate::metrics_api::is_metrics(info) {
        return crate::metrics_api::serve(ctx, verb).await;
    }
    let sub = ctx.sub.as_deref();
    if let Some(s) = sub {
        if info.subresource(s).is_none() {
            return Err(ApiError::path_not_found());
        }
    }
    let need = |v: &str| {
        if info.supports(v) {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed(v, &info.group, &info.resource))
        }
    };
    match (verb, sub) {
        ("WATCH", _) => {
            need("watch")?;
            watch::serve(ctx).await
        }
        ("LIST", None) => {
            need("list")?;
            read::list(ctx).await
        }
        ("GET", None | Some("status")) => read::get(ctx).await,
        ("GET", Some("scale")) => scale::get(ctx).await,
        ("GET" | "POST", Some("log" | "exec" | "attach" | "portforward" | "proxy")) => {
            read::pod_stream(ctx).await
        }
        ("POST", None) => {
            need("create")?;
            write::create(ctx).await
        }
        ("POST", Some("binding")) => write::bind(ctx).await,
        ("POST", Some("eviction")) => delete::evict(ctx).await,
        ("POST", Some("token")) => token_request::serve(ctx).await,
        ("PUT", None | Some("status") | Some("finalize")) => {
            need("update")?;
            write::update(ctx).await
        }
        ("PUT" | "PATCH", Some("scale")) => scale::write(ctx).await,
        ("PATCH", None | Some("status")) => {
            need("patch")?;
            write::patch(ctx).await
        }
        ("DELETE", None) => {
            need("delete")?;
            delete::delete(ctx).await
        }
        ("DELETECOLLECTION", None) => {
            need("deletecollection")?;
            delete::delete_collection(ctx).await
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// Map a store error for an object to its Status.
pub fn store_error(info: &ResourceInfo, name: &str, e: skiff_store::StoreError) -> ApiError {
    use skiff_store::StoreError as E;
    match e {
        E::NotFound => ApiError::not_found(&info.group, &info.resource, name),
        E::AlreadyExists => ApiError::already_exists(&info.group, &info.resource, name),
        E::Conflict { .. } => ApiError::stale(&info.group, &info.resource, name),
        E::Gone {
            requested,
            compacted,
        } => ApiError::gone(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        E::Invalid(m) => ApiError::bad_request(m),
        E::Backend(err) => ApiError::internal(format!("storage error: {err}")),
        E::Closed => ApiError::new(503, "ServiceUnavailable", "the server is shutting down"),
    }
}
