//! The scale subresource: an autoscaling/v1 Scale view of a workload's replicas.

use super::read::respond_one;
use super::write::commit;
use super::Ctx;
use crate::http::Body;
use crate::objects::WriteOptions;
use ::http::Response;
use serde_json::{json, Value};
use skiff_api::{meta, ApiError};

/// JSON pointers of spec replicas, status replicas and the selector for this resource.
fn paths(ctx: &Ctx) -> (String, String, Option<String>) {
    if let Some(scale) = ctx
        .info
        .crd_version
        .as_ref()
        .and_then(|v| v.pointer("/subresources/scale"))
    {
        let p = |k: &str| {
            scale
                .get(k)
                .and_then(Value::as_str)
                .map(|s| s.trim_start_matches('.').replace('.', "/"))
        };
        return (
            format!(
                "/{}",
                p("specReplicasPath").unwrap_or_else(|| "spec/replicas".into())
            ),
            format!(
                "/{}",
                p("statusReplicasPath").unwrap_or_else(|| "status/replicas".into())
            ),
            p("labelSelectorPath").map(|s| format!("/{s}")),
        );
    }
    (
        "/spec/replicas".into(),
        "/status/replicas".into(),
        Some("/spec/selector".into()),
    )
}

fn to_scale(ctx: &Ctx, obj: &Value) -> Value {
    let (spec, status, selector) = paths(ctx);
    let selector = selector
        .and_then(|p| obj.pointer(&p).cloned())
        .map(|s| match s {
            Value::String(s) => s,
            other => skiff_selectors::LabelSelector::from_json(&other)
                .map(|l| l.to_string())
                .unwrap_or_default(),
        });
    let md = obj.get("metadata").cloned().unwrap_or_default();
    let mut scale = json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": md.get("name"), "namespace": md.get("namespace"), "uid": md.get("uid"),
            "resourceVersion": md.get("resourceVersion"), "creationTimestamp": md.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer(&spec).and_then(Value::as_i64).unwrap_or(0)},
        "status": {"replicas": obj.pointer(&status).and_then(Value::as_i64).unwrap_or(0)},
    });
    if let Some(s) = selector.filter(|s| !s.is_empty()) {
        scale["status"]["selector"] = json!(s);
    }
    if ctx.info.namespaced {
        scale
    } else {
        scale["metadata"]
            .as_object_mut()
            .map(|m| m.remove("namespace"));
        scale
    }
}

/// GET .../scale.
pub async fn get(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    Ok(crate::http::json(
        200,
        &to_scale(ctx, &ctx.current()?.value()),
    ))
}

/// PUT or PATCH .../scale: compute the new Scale, then write spec.replicas on the parent.
pub async fn write(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let opts = WriteOptions::from_query(&ctx.query, ctx.header("user-agent"))?;
    let ct = ctx
        .header("content-type")
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let is_put = ctx.method == ::http::Method::PUT;
    let body = skiff_api::decode::json(&ctx.body)
        .or_else(|_| skiff_api::decode::yaml(&ctx.body))
        .map_err(|e| ApiError::bad_request(format!("error decoding body: {e}")))?
        .value;
    let (spec_path, _, _) = paths(ctx);
    let scale_meta = crate::schema_meta::SchemaMeta::for_kind("autoscaling", "v1", "Scale");
    let mutate = |old: Option<&Value>| -> Result<Value, ApiError> {
        let parent = old.cloned().unwrap_or_default();
        let current = to_scale(ctx, &parent);
        let new_scale = if is_put {
            body.clone()
        } else {
            match ct.as_str() {
                "application/json-patch+json" => skiff_patch::json_patch::apply(&current, &body)
                    .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?,
                "application/strategic-merge-patch+json" => {
                    skiff_patch::strategic::apply(&current, &body, &scale_meta)
                        .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?
                }
                _ => skiff_patch::merge_patch::apply(&current, &body),
            }
        };
        let replicas = new_scale
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                meta::name(&parent).unwrap_or(""),
                vec![skiff_api::Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!(
                        "Invalid value: {replicas}: must be greater than or equal to 0"
                    ),
                    field: "spec.replicas".into(),
                }],
            ));
        }
        let mut next = parent.clone();
        set_pointer(&mut next, &spec_path, json!(replicas));
        match meta::str_field(&new_scale, "resourceVersion").filter(|s| !s.is_empty()) {
            Some(rv) => {
                meta::metadata_mut(&mut next).insert("resourceVersion".into(), json!(rv));
            }
            None => {
                meta::metadata_mut(&mut next).remove("resourceVersion");
            }
        }
        Ok(next)
    };
    let c = commit(ctx, &opts, false, false, true, &mutate).await?;
    let _ = respond_one;
    Ok(crate::http::json(200, &to_scale(ctx, &c.object)))
}

fn set_pointer(v: &mut Value, pointer: &str, x: Value) {
    let mut cur = v;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(m) = cur.as_object_mut() else { return };
        if i == parts.len() - 1 {
            m.insert(p.to_string(), x);
            return;
        }
        cur = m.entry(p.to_string()).or_insert_with(|| json!({}));
    }
}
