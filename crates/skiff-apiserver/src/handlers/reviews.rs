//! Virtual review resources (authorization and authentication reviews) answered without
//! storage. Until RBAC lands, every authenticated user may do everything.

use super::Ctx;
use crate::auth::User;
use crate::http::{self, Body};
use ::http::Response;
use serde_json::{json, Value};
use skiff_api::{ApiError, ResourceInfo};

/// Whether the resource is a review that is computed, not stored.
pub fn is_review(info: &ResourceInfo) -> bool {
    info.group == "authorization.k8s.io" || info.group == "authentication.k8s.io"
}

const ALLOW_REASON: &str =
    "skiff: every authenticated user is an administrator until RBAC is enabled";

/// POST a review; anything else is not allowed.
pub async fn serve(ctx: &Ctx, verb: &str) -> Result<Response<Body>, ApiError> {
    if verb != "POST" {
        return Err(ApiError::method_not_allowed(
            &verb.to_lowercase(),
            &ctx.info.group,
            &ctx.info.resource,
        ));
    }
    let mut obj = crate::objects::decode_body(ctx.header("content-type"), &ctx.body)?.value;
    crate::objects::check_type(&ctx.info, &mut obj)?;
    let user = &ctx.user;
    let status = match ctx.info.kind.as_str() {
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            json!({"allowed": true, "reason": ALLOW_REASON})
        }
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        "SelfSubjectReview" => json!({"userInfo": user_info(user)}),
        "TokenReview" => token_review(ctx, &obj),
        _ => return Err(ApiError::path_not_found()),
    };
    obj["status"] = status;
    if obj.get("metadata").is_none() {
        obj["metadata"] = json!({});
    }
    Ok(http::json(201, &obj))
}

/// A user as `UserInfo` (omitting empty uid and extra, as upstream's omitempty).
fn user_info(u: &User) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if !u.uid.is_empty() {
        v["uid"] = json!(u.uid);
    }
    if !u.extra.is_empty() {
        v["extra"] = json!(u.extra);
    }
    v
}

/// TokenReview status: static tokens, then service account tokens for the requested
/// audiences (the API server's own when none are named).
fn token_review(ctx: &Ctx, obj: &Value) -> Value {
    let token = obj
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(u) = ctx.state.tokens.read().lookup(token) {
        return json!({"authenticated": true, "user": user_info(u)});
    }
    let requested: Vec<String> = obj
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let audiences = if requested.is_empty() {
        vec![crate::sa_token::ISSUER.to_string()]
    } else {
        requested.clone()
    };
    match crate::sa_auth::authenticate(&ctx.state, token, &audiences) {
        Ok(u) => {
            // Upstream answers with the audiences that matched: the requested ones, or the
            // API server's own when none were requested.
            json!({"authenticated": true, "user": user_info(&u), "audiences": audiences})
        }
        Err(e) => json!({"authenticated": false, "error": e.to_string()}),
    }
}
