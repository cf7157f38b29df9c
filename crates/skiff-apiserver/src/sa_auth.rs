//! Authenticating service account tokens: signature, issuer, time window and audience, then
//! the objects the token names must still exist with the same UIDs (upstream's bound-token
//! validator).

use crate::auth::User;
use crate::sa_token::ISSUER;
use crate::state::ApiServer;
use serde_json::Value;
use std::collections::BTreeMap;

/// Clock skew tolerated on `exp`/`nbf`, as go-jose's default leeway.
const LEEWAY_SECONDS: i64 = 60;

/// Tokens bound to an object deleted longer ago than this are refused (upstream's grace for
/// pods that are still shutting down).
const DELETED_GRACE_SECONDS: i64 = 60;

/// Why a token was refused (the text TokenReview reports).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenInvalid {
    /// Not a token this server signed.
    #[error("invalid bearer token")]
    NotOurs,
    /// Outside its validity window.
    #[error("service account token has expired")]
    Expired,
    /// Meant for someone else.
    #[error("token audiences {token:?} is invalid for the target audiences {target:?}")]
    Audience {
        /// The token's audiences.
        token: Vec<String>,
        /// The audiences accepted here.
        target: Vec<String>,
    },
    /// The service account or a bound object is gone or was recreated.
    #[error("service account token has been invalidated")]
    Invalidated,
    /// Claims missing or malformed.
    #[error("service account token claims are malformed")]
    Malformed,
}

/// The user a service account token authenticates, checked against `audiences` (the API
/// server's own when authenticating requests).
pub fn authenticate(
    state: &ApiServer,
    token: &str,
    audiences: &[String],
) -> Result<User, TokenInvalid> {
    let claims = state
        .config
        .token_signer
        .as_ref()
        .and_then(|s| s.verify(token))
        .ok_or(TokenInvalid::NotOurs)?;
    if claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
        return Err(TokenInvalid::NotOurs);
    }
    let now = chrono::Utc::now().timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64);
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    match exp {
        Some(exp) if now <= exp + LEEWAY_SECONDS && now + LEEWAY_SECONDS >= nbf => {}
        Some(_) => return Err(TokenInvalid::Expired),
        None => return Err(TokenInvalid::Malformed),
    }
    let token_aud: Vec<String> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if !token_aud.iter().any(|a| audiences.contains(a)) {
        return Err(TokenInvalid::Audience {
            token: token_aud,
            target: audiences.to_vec(),
        });
    }
    let k8s = claims.get("kubernetes.io").ok_or(TokenInvalid::Malformed)?;
    let field = |path: &str| k8s.pointer(path).and_then(Value::as_str).unwrap_or("");
    let ns = field("/namespace");
    let (sa_name, sa_uid) = (field("/serviceaccount/name"), field("/serviceaccount/uid"));
    if ns.is_empty() || sa_name.is_empty() {
        return Err(TokenInvalid::Malformed);
    }
    let mut extra = BTreeMap::new();
    let sa = live_object(state, "serviceaccounts", Some(ns), sa_name, sa_uid, now)?;
    let user_uid = sa
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    for (kind, resource, namespaced) in [
        ("pod", "pods", true),
        ("secret", "secrets", true),
        ("node", "nodes", false),
    ] {
        let name = field(&format!("/{kind}/name"));
        if name.is_empty() {
            continue;
        }
        let uid = field(&format!("/{kind}/uid"));
        // A token bound to a pod on a node only needs the pod alive; the node ref is info.
        let bound_directly = kind != "node" || field("/pod/name").is_empty();
        if bound_directly {
            live_object(state, resource, namespaced.then_some(ns), name, uid, now)?;
        }
        if kind != "secret" {
            extra.insert(
                format!("authentication.kubernetes.io/{kind}-name"),
                vec![name.to_string()],
            );
            extra.insert(
                format!("authentication.kubernetes.io/{kind}-uid"),
                vec![uid.to_string()],
            );
        }
    }
    if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
        extra.insert(
            "authentication.kubernetes.io/credential-id".into(),
            vec![format!("JTI={jti}")],
        );
    }
    let mut user = User::service_account(ns, sa_name, user_uid);
    user.extra = extra;
    Ok(user)
}

/// The stored object, provided it has the UID the token names and was not deleted (beyond
/// the grace period).
fn live_object(
    state: &ApiServer,
    resource: &str,
    ns: Option<&str>,
    name: &str,
    uid: &str,
    now: i64,
) -> Result<Value, TokenInvalid> {
    let info = state
        .registry()
        .get("", "v1", resource)
        .ok_or(TokenInvalid::Invalidated)?;
    let obj = state
        .store
        .get(&info.key(ns, name))
        .ok_or(TokenInvalid::Invalidated)?
        .value();
    if obj.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid) {
        return Err(TokenInvalid::Invalidated);
    }
    let deleted_at = obj
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp());
    if deleted_at.is_some_and(|t| t + DELETED_GRACE_SECONDS < now) {
        return Err(TokenInvalid::Invalidated);
    }
    Ok(obj)
}

/// Whether a bearer token looks like a JWT (three dot-separated parts), so static tokens are
/// not sent through signature checks needlessly.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}
