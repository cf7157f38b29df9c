//! `POST .../serviceaccounts/NAME/token`: TokenRequest, issuing a signed token for the
//! service account, optionally bound to a Pod, Secret or Node (upstream's TokenREST).

use super::Ctx;
use crate::http::{self, Body};
use crate::sa_token::{BoundRef, TokenClaims, ISSUER};
use ::http::Response;
use serde_json::{json, Value};
use skiff_api::{ApiError, Cause};

/// Lifetime when the request names none (upstream defaulting).
const DEFAULT_EXPIRATION: i64 = 3600;
/// Shortest lifetime a client may ask for.
const MIN_EXPIRATION: i64 = 600;
/// Longest lifetime a client may ask for (2^32 seconds).
const MAX_EXPIRATION: i64 = 1 << 32;
/// The lifetime the kubelet asks for in projected volumes; such pod-bound tokens for the
/// API server get a year instead, with `warnafter` at the requested time (upstream's
/// `--service-account-extend-token-expiration`, on by default).
const KUBELET_EXPIRATION: i64 = 3607;
/// The extended lifetime.
const EXTENDED_EXPIRATION: i64 = 365 * 24 * 3600;

const GROUP: &str = "authentication.k8s.io";

/// Issue a token for the service account named in the URL.
pub async fn serve(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    if !ctx.info.group.is_empty() || ctx.info.resource != "serviceaccounts" {
        return Err(ApiError::path_not_found());
    }
    let ns = ctx.ns.clone().unwrap_or_default();
    let sa_name = ctx.name()?.to_string();
    let mut req = crate::objects::decode_body(ctx.header("content-type"), &ctx.body)?.value;
    if !req.is_object() {
        return Err(ApiError::bad_request(
            "the body must be a TokenRequest object",
        ));
    }
    let kind = req.get("kind").and_then(Value::as_str).unwrap_or("");
    if !kind.is_empty() && kind != "TokenRequest" {
        return Err(ApiError::bad_request(format!(
            "expected a TokenRequest, got {kind}"
        )));
    }
    let sa = ctx
        .state
        .store
        .get(&ctx.key()?)
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", &sa_name))?
        .value();
    let spec = req.get("spec").cloned().unwrap_or_else(|| json!({}));
    let expiration = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_EXPIRATION);
    let invalid = |message: &str| {
        ApiError::invalid(
            GROUP,
            "TokenRequest",
            &sa_name,
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {expiration}: {message}"),
                field: "spec.expirationSeconds".into(),
            }],
        )
    };
    if expiration < MIN_EXPIRATION {
        return Err(invalid("may not specify a duration less than 10 minutes"));
    }
    if expiration > MAX_EXPIRATION {
        return Err(invalid(
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let mut audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences = vec![ISSUER.to_string()];
    }
    let now = chrono::Utc::now();
    let mut claims = TokenClaims {
        namespace: ns.clone(),
        name: sa_name.clone(),
        uid: str_at(&sa, "/metadata/uid"),
        audiences: audiences.clone(),
        issued_at: now.timestamp(),
        expiration_seconds: expiration,
        warn_after: None,
        pod: None,
        secret: None,
        node: None,
    };
    if let Some(r) = spec.get("boundObjectRef").filter(|r| !r.is_null()) {
        bind(ctx, &ns, &sa_name, r, &mut claims)?;
    }
    if claims.pod.is_some() && expiration == KUBELET_EXPIRATION && audiences == [ISSUER] {
        claims.warn_after = Some(expiration);
        claims.expiration_seconds = EXTENDED_EXPIRATION;
    }
    let signer = ctx.state.config.token_signer.as_ref().ok_or_else(|| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            "service account token signing is not configured",
        )
    })?;
    let token = signer
        .sign(&claims.to_json())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let expires = now + chrono::Duration::seconds(expiration);
    req["apiVersion"] = json!("authentication.k8s.io/v1");
    req["kind"] = json!("TokenRequest");
    req["metadata"] = json!({"name": sa_name, "namespace": ns, "creationTimestamp": null});
    req["spec"] = json!({
        "audiences": audiences,
        "expirationSeconds": expiration,
        "boundObjectRef": spec.get("boundObjectRef").cloned().unwrap_or(Value::Null),
    });
    if req["spec"]["boundObjectRef"].is_null() {
        req["spec"]
            .as_object_mut()
            .map(|m| m.remove("boundObjectRef"));
    }
    req["status"] = json!({
        "token": token,
        "expirationTimestamp": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    Ok(http::json(201, &req))
}

fn str_at(v: &Value, path: &str) -> String {
    v.pointer(path)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Resolve `boundObjectRef` into claims; the object must exist with the given UID.
fn bind(
    ctx: &Ctx,
    ns: &str,
    sa_name: &str,
    r: &Value,
    claims: &mut TokenClaims,
) -> Result<(), ApiError> {
    let kind = str_at(r, "/kind");
    let api_version = str_at(r, "/apiVersion");
    let name = str_at(r, "/name");
    let want_uid = str_at(r, "/uid");
    let (resource, namespaced) = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Pod") => ("pods", true),
        ("v1", "Secret") => ("secrets", true),
        ("v1", "Node") => ("nodes", false),
        _ => {
            let gvk = match api_version.split_once('/') {
                Some((g, v)) => format!("{g}/{v}, Kind={kind}"),
                None => format!("/{api_version}, Kind={kind}"),
            };
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount {sa_name:?} to object of kind {gvk:?}"
            )));
        }
    };
    let obj = lookup(ctx, resource, namespaced.then_some(ns), &name)?;
    let uid = str_at(&obj, "/metadata/uid");
    if !want_uid.is_empty() && want_uid != uid {
        return Err(ApiError::conflict(
            "",
            &kind,
            &name,
            &format!("the UID in the bound object reference ({want_uid}) does not match the UID in record. The object might have been deleted and then recreated"),
        ));
    }
    let bound = BoundRef {
        name: name.clone(),
        uid,
    };
    match resource {
        "pods" => {
            // As upstream (ServiceAccountTokenPodNodeInfo): the pod's node goes in the claims.
            let node = str_at(&obj, "/spec/nodeName");
            if !node.is_empty() {
                let n = lookup(ctx, "nodes", None, &node)?;
                claims.node = Some(BoundRef {
                    name: node,
                    uid: str_at(&n, "/metadata/uid"),
                });
            }
            claims.pod = Some(bound);
        }
        "secrets" => claims.secret = Some(bound),
        _ => claims.node = Some(bound),
    }
    Ok(())
}

fn lookup(ctx: &Ctx, resource: &str, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
    let info = ctx
        .state
        .registry()
        .get("", "v1", resource)
        .ok_or_else(ApiError::path_not_found)?;
    ctx.state
        .store
        .get(&info.key(ns, name))
        .map(|o| o.value())
        .ok_or_else(|| ApiError::not_found("", resource, name))
}
