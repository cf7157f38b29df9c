//! Virtual review resources (authorization and authentication reviews) answered without
//! storage. Until RBAC lands, every authenticated user may do everything.

use super::Ctx;
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
        "SelfSubjectReview" => {
            json!({"userInfo": {"username": user.name, "uid": user.uid, "groups": user.groups}})
        }
        "TokenReview" => {
            let token = obj
                .pointer("/spec/token")
                .and_then(Value::as_str)
                .unwrap_or("");
            match ctx.state.tokens.read().lookup(token) {
                Some(u) => {
                    json!({"authenticated": true, "user": {"username": u.name, "uid": u.uid, "groups": u.groups}})
                }
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            }
        }
        _ => return Err(ApiError::path_not_found()),
    };
    obj["status"] = status;
    if obj.get("metadata").is_none() {
        obj["metadata"] = json!({});
    }
    Ok(http::json(201, &obj))
}

/// serviceaccounts/NAME/token needs the token signer of the node-agent issue.
pub async fn token_request(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let _ = ctx;
    Err(ApiError::new(
        503,
        "ServiceUnavailable",
        "service account token issuing is not available yet in skiff",
    ))
}
