//! create, update (PUT), patch (JSON, merge, strategic, server-side apply) and pods/binding.

use super::read::{present, respond_one};
use super::{hooks, store_error, Ctx};
use crate::convert::to_storage;
use crate::http::{negotiate, Body, Wants};
use crate::objects::{self, WriteOptions};
use crate::schema_meta::SchemaMeta;
use ::http::{HeaderValue, Response};
use serde_json::{json, Value};
use skiff_api::{meta, ApiError, Cause};
use skiff_store::StoreError;

/// Kinds whose PUT creates a missing object, as upstream's AllowCreateOnUpdate.
const CREATE_ON_UPDATE: &[&str] = &["endpoints", "events", "leases"];
const MAX_ATTEMPTS: usize = 8;

fn add_warnings(mut r: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append("warning", v);
        }
    }
    r
}

fn options(ctx: &Ctx) -> Result<WriteOptions, ApiError> {
    WriteOptions::from_query(&ctx.query, ctx.header("user-agent"))
}

/// Decode and schema-check a full object body for this endpoint.
fn decode_object(ctx: &Ctx, opts: &WriteOptions) -> Result<(Value, Vec<String>), ApiError> {
    let decoded = objects::decode_body(ctx.header("content-type"), &ctx.body)?;
    let mut obj = decoded.value;
    objects::check_type(&ctx.info, &mut obj)?;
    let warnings =
        objects::check_schema(&ctx.info, &mut obj, &decoded.duplicates, opts.validation)?;
    check_decode(&ctx.info, &obj)?;
    Ok((obj, warnings))
}

/// Refuse what kube-apiserver cannot even decode (bad base64 in Secret data, bad quantities).
fn check_decode(info: &skiff_api::ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    if info.custom {
        return Ok(());
    }
    match skiff_validation::check_decode(&info.group, &info.version, &info.kind, obj) {
        Some(msg) => Err(ApiError::bad_request(msg)),
        None => Ok(()),
    }
}

/// Check the namespace exists and is not terminating.
fn check_namespace(ctx: &Ctx, ns: &str) -> Result<(), ApiError> {
    let reg = ctx.state.registry();
    let Some(nsinfo) = reg.get("", "v1", "namespaces") else {
        return Ok(());
    };
    match ctx.state.store.get(&nsinfo.key(None, ns)) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(o) => {
            let v = o.value();
            if v.pointer("/metadata/deletionTimestamp").is_some() {
                let mut e = ApiError::forbidden(format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    skiff_api::status::qualified(&ctx.info.group, &ctx.info.resource),
                    meta::name(&v).unwrap_or("")
                ));
                e.reason = "Forbidden";
                Err(e)
            } else {
                Ok(())
            }
        }
    }
}

/// Resolve name and namespace of a new object against the URL.
fn place(ctx: &Ctx, obj: &mut Value) -> Result<String, ApiError> {
    let body_ns = meta::namespace(obj).map(str::to_string);
    if ctx.info.namespaced {
        let ns = ctx.ns.clone().unwrap_or_default();
        if let Some(b) = body_ns.filter(|b| !b.is_empty()) {
            if b != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        meta::metadata_mut(obj).insert("namespace".into(), json!(ns));
    } else {
        meta::metadata_mut(obj).remove("namespace");
    }
    let mut name = meta::name(obj).unwrap_or("").to_string();
    if let Some(url_name) = &ctx.name {
        if !name.is_empty() && &name != url_name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({url_name})"
            )));
        }
        name = url_name.clone();
        meta::metadata_mut(obj).insert("name".into(), json!(name));
    }
    if name.is_empty() {
        let gen = meta::str_field(obj, "generateName")
            .unwrap_or("")
            .to_string();
        if gen.is_empty() {
            return Err(objects::invalid_causes(
                &ctx.info,
                "",
                &[(
                    "metadata.name",
                    "FieldValueRequired",
                    "Required value: name or generateName is required".into(),
                )],
            ));
        }
        name = format!("{gen}{}", objects::random_suffix());
        meta::metadata_mut(obj).insert("name".into(), json!(name));
    }
    Ok(name)
}

/// Group and version of an object in storage form.
fn group_version(obj: &Value) -> (String, String) {
    let (g, v) =
        meta::split_api_version(obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""));
    (g.to_string(), v.to_string())
}

/// Default a new object (built-in defaulting or CRD schema defaults).
fn default_new(ctx: &Ctx, obj: &mut Value) -> Result<(), ApiError> {
    if ctx.info.custom {
        // Schema defaults are applied by the structural validation below.
        return Ok(());
    }
    let (g, v) = group_version(obj);
    skiff_validation::apply_defaults(&g, &v, &ctx.info.kind, obj);
    Ok(())
}

/// Validate a new object (built-in rules or CRD schema).
fn validate_new(ctx: &Ctx, obj: &mut Value, name: &str) -> Result<(), ApiError> {
    let info = &ctx.info;
    if info.custom {
        let errs = skiff_validation::validate_create("", "", info.namespaced, obj)
            .into_iter()
            .filter(|e| e.field.starts_with("metadata"))
            .collect();
        objects::invalid(info, name, errs)?;
        objects::validate_custom(info, obj)
    } else {
        let (g, _) = group_version(obj);
        objects::invalid(
            info,
            name,
            skiff_validation::validate_create(&g, &info.kind, info.namespaced, obj),
        )
    }
}

/// Store a new object through the whole create pipeline; returns the stored object.
async fn create_object(
    ctx: &Ctx,
    mut obj: Value,
    opts: &WriteOptions,
    managed: bool,
) -> Result<Written, ApiError> {
    let name = place(ctx, &mut obj)?;
    if let Some(ns) = ctx.ns.as_deref().filter(|_| ctx.info.namespaced) {
        check_namespace(ctx, ns)?;
    }
    let mut obj = to_storage(&ctx.info, obj);
    default_new(ctx, &mut obj)?;
    objects::stamp_create(&ctx.info, &mut obj);
    if !ctx.info.custom {
        let (g, _) = group_version(&obj);
        skiff_validation::prepare_for_create(&g, &ctx.info.kind, &mut obj);
    }
    validate_new(ctx, &mut obj, &name)?;
    hooks::before_create(ctx, &mut obj).await?;
    if managed {
        objects::track_managed_fields(&ctx.info, None, &mut obj, &opts.field_manager, None);
    }
    if opts.dry_run {
        return Ok(Written::DryRun(obj));
    }
    let key = ctx.info.key(ctx.ns.as_deref(), &name);
    let stored = ctx
        .state
        .store
        .create(key, obj)
        .await
        .map_err(|e| store_error(&ctx.info, &name, e))?;
    if hooks::needs_after_create(&ctx.info) {
        hooks::after_write(ctx, &stored.value()).await;
    }
    Ok(Written::Stored(stored))
}

/// A created object: stored (its bytes are the response as-is) or computed by a dry run.
pub enum Written {
    /// Written to the store.
    Stored(std::sync::Arc<skiff_store::StoredObject>),
    /// Not written (dryRun=All).
    DryRun(Value),
}

impl Written {
    /// The object as served at the request's version.
    fn into_value(self, info: &skiff_api::ResourceInfo) -> Value {
        match self {
            Written::Stored(s) => present(info, s.value()),
            Written::DryRun(v) => present(info, v),
        }
    }
}

/// POST a new object.
pub async fn create(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let opts = options(ctx)?;
    let (obj, warnings) = decode_object(ctx, &opts)?;
    let created = create_object(ctx, obj, &opts, true).await?;
    let plain = negotiate(ctx.header("accept")) == Wants::Object
        && ctx.info.storage_version == ctx.info.version;
    let resp = match created {
        // The stored bytes are exactly the response body: no re-parse, no re-serialisation.
        Written::Stored(s) if plain => crate::http::json_bytes(201, s.data.to_vec()),
        other => respond_one(ctx, other.into_value(&ctx.info), 201)?,
    };
    Ok(add_warnings(resp, &warnings))
}

/// What a mutation produces from the current object.
type Mutate<'a> = dyn Fn(Option<&Value>) -> Result<Value, ApiError> + Send + Sync + 'a;

/// Outcome of `commit`.
pub struct Committed {
    /// The object after the write, at the served version.
    pub object: Value,
    /// Whether the object was created.
    pub created: bool,
}

/// Read-modify-write with optimistic concurrency: retries on races unless the caller pinned a
/// resourceVersion. `managed` = record managedFields for an Update operation.
pub async fn commit(
    ctx: &Ctx,
    opts: &WriteOptions,
    status_write: bool,
    create_missing: bool,
    managed: bool,
    mutate: &Mutate<'_>,
) -> Result<Committed, ApiError> {
    let info = &ctx.info;
    let name = ctx.name()?.to_string();
    let key = ctx.key()?;
    for _ in 0..MAX_ATTEMPTS {
        let Some(cur) = ctx.state.store.get(&key) else {
            if create_missing {
                let obj = mutate(None)?;
                let object = create_object(ctx, obj, opts, managed)
                    .await?
                    .into_value(&ctx.info);
                return Ok(Committed {
                    object,
                    created: true,
                });
            }
            return Err(ApiError::not_found(&info.group, &info.resource, &name));
        };
        let old_stored = cur.value();
        let old = present(info, old_stored.clone());
        let new = mutate(Some(&old))?;
        if let Some(rv) = meta::str_field(&new, "resourceVersion").filter(|s| !s.is_empty()) {
            if rv != cur.mod_rev.to_string() {
                return Err(ApiError::stale(&info.group, &info.resource, &name));
            }
        }
        if let Some(n) = meta::name(&new) {
            if n != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
        }
        let mut new = to_storage(info, new);
        {
            let m = meta::metadata_mut(&mut new);
            m.insert("name".into(), json!(name));
            match ctx.ns.as_deref().filter(|_| info.namespaced) {
                Some(ns) => m.insert("namespace".into(), json!(ns)),
                None => m.remove("namespace"),
            };
        }
        objects::split_status(info, &old_stored, &mut new, status_write);
        objects::carry_over_update(info, &old_stored, &mut new);
        if info.custom {
            objects::validate_custom(info, &mut new)?;
        } else {
            let (g, v) = group_version(&new);
            skiff_validation::apply_defaults(&g, &v, &info.kind, &mut new);
            skiff_validation::prepare_for_update(&g, &info.kind, &mut new, &old_stored);
            // pods/binding is the one write allowed to set spec.nodeName (checked in bind()).
            if ctx.sub.as_deref() != Some("binding") {
                objects::invalid(
                    info,
                    &name,
                    skiff_validation::validate_update(
                        &g,
                        &info.kind,
                        info.namespaced,
                        &new,
                        &old_stored,
                    ),
                )?;
            }
        }
        hooks::before_update(ctx, &old_stored, &mut new)?;
        if managed {
            objects::track_managed_fields(
                info,
                Some(&old_stored),
                &mut new,
                &opts.field_manager,
                ctx.sub.as_deref(),
            );
        }
        let finalizing = new.pointer("/metadata/deletionTimestamp").is_some()
            && meta::finalizers(&new).is_empty();
        if objects::same_object(&old_stored, &new) && !finalizing {
            return Ok(Committed {
                object: old,
                created: false,
            });
        }
        if opts.dry_run {
            return Ok(Committed {
                object: present(info, new),
                created: false,
            });
        }
        let result = if finalizing {
            ctx.state.store.delete(key.clone(), Some(cur.mod_rev)).await
        } else {
            ctx.state
                .store
                .update(key.clone(), Some(cur.mod_rev), new)
                .await
        };
        match result {
            Ok(stored) => {
                let v = stored.value();
                if finalizing {
                    hooks::after_delete(ctx, &v).await;
                } else {
                    hooks::after_write(ctx, &v).await;
                }
                return Ok(Committed {
                    object: present(info, v),
                    created: false,
                });
            }
            Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound) => continue,
            Err(e) => return Err(store_error(info, &name, e)),
        }
    }
    Err(ApiError::stale(&info.group, &info.resource, &name))
}

/// PUT a whole object (main resource, status or namespace finalize).
pub async fn update(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let opts = options(ctx)?;
    let (body, warnings) = decode_object(ctx, &opts)?;
    let status_write = ctx.sub.as_deref() == Some("status");
    let finalize = ctx.sub.as_deref() == Some("finalize");
    let create_missing =
        CREATE_ON_UPDATE.contains(&ctx.info.resource.as_str()) && ctx.sub.is_none();
    let mutate = move |old: Option<&Value>| -> Result<Value, ApiError> {
        let mut new = body.clone();
        if finalize {
            // Only spec.finalizers changes through namespaces/finalize.
            let mut merged = old.cloned().unwrap_or_default();
            merged["spec"]["finalizers"] = new
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            if let Some(rv) = meta::str_field(&new, "resourceVersion") {
                merged["metadata"]["resourceVersion"] = json!(rv);
            }
            new = merged;
        }
        Ok(new)
    };
    let c = commit(ctx, &opts, status_write, create_missing, true, &mutate).await?;
    Ok(add_warnings(
        respond_one(ctx, c.object, if c.created { 201 } else { 200 })?,
        &warnings,
    ))
}

/// PATCH with any of the four patch types.
pub async fn patch(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let opts = options(ctx)?;
    let ct = ctx
        .header("content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let status_write = ctx.sub.as_deref() == Some("status");
    let info = ctx.info.clone();
    let parse = || -> Result<skiff_api::decode::Decoded, ApiError> {
        skiff_api::decode::json(&ctx.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
    };
    match ct.as_str() {
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => return apply(ctx, &opts, status_write).await,
        "application/strategic-merge-patch+json" if info.custom => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ))
        }
        "application/json-patch+json" | "application/merge-patch+json" | "application/strategic-merge-patch+json" => {}
        other => return Err(ApiError::unsupported_media_type(other)),
    }
    let patch_doc = parse()?;
    let duplicates = patch_doc.duplicates.clone();
    let patch_value = patch_doc.value;
    let warnings = std::sync::Mutex::new(Vec::new());
    let mutate = |old: Option<&Value>| -> Result<Value, ApiError> {
        let old = old.cloned().unwrap_or_default();
        let mut new = match ct.as_str() {
            "application/json-patch+json" => skiff_patch::json_patch::apply(&old, &patch_value)
                .map_err(|e| {
                    ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                    )
                })?,
            "application/merge-patch+json" => {
                if !patch_value.is_object() {
                    return Err(ApiError::bad_request(
                        "error decoding patch: a merge patch must be a JSON object",
                    ));
                }
                skiff_patch::merge_patch::apply(&old, &patch_value)
            }
            _ => {
                let meta_provider = SchemaMeta::for_resource(&info);
                skiff_patch::strategic::apply(&old, &patch_value, &meta_provider).map_err(|e| {
                    ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                    )
                })?
            }
        };
        objects::check_type(&info, &mut new)?;
        let w = objects::check_schema(&info, &mut new, &duplicates, opts.validation)?;
        if let Ok(mut g) = warnings.lock() {
            *g = w;
        }
        check_decode(&info, &new)?;
        Ok(new)
    };
    let c = commit(ctx, &opts, status_write, false, true, &mutate).await?;
    let w = warnings.lock().map(|g| g.clone()).unwrap_or_default();
    Ok(add_warnings(respond_one(ctx, c.object, 200)?, &w))
}

/// Server-side apply: merge the applied configuration, tracking ownership per manager.
async fn apply(
    ctx: &Ctx,
    opts: &WriteOptions,
    status_write: bool,
) -> Result<Response<Body>, ApiError> {
    let info = ctx.info.clone();
    let decoded = skiff_api::decode::yaml(&ctx.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let mut applied = decoded.value;
    for field in ["apiVersion", "kind"] {
        if applied
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            let name = if field == "kind" { "Kind" } else { field };
            return Err(ApiError::bad_request(format!(
                "error decoding YAML: Object '{name}' is missing in '{}'",
                String::from_utf8_lossy(&ctx.body[..ctx.body.len().min(200)])
            )));
        }
    }
    objects::check_type(&info, &mut applied)?;
    let warnings =
        objects::check_schema(&info, &mut applied, &decoded.duplicates, opts.validation)?;
    if ctx.query.get("fieldManager").is_none_or(|m| m.is_empty()) {
        let mut e = ApiError::invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            vec![Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value: is required for apply patch".into(),
                field: "fieldManager".into(),
            }],
        );
        e.name = None;
        return Err(e);
    }
    let force = ctx.query.flag("force");
    let manager = opts.field_manager.clone();
    let api_version = info.api_version();
    let mutate = |old: Option<&Value>| -> Result<Value, ApiError> {
        let meta_provider = SchemaMeta::for_resource(&info);
        let mut live = old.cloned();
        if let Some(l) = live.as_mut() {
            // Apply never moves resourceVersion backwards: drop it so commit doesn't see a precondition.
            if let Some(m) = l.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
        }
        let mut cfg = applied.clone();
        let pinned = meta::str_field(&cfg, "resourceVersion").map(str::to_string);
        if let Some(m) = cfg.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        let mut out = skiff_patch::apply::server_side_apply(
            live.as_ref(),
            &cfg,
            &manager,
            force,
            &api_version,
            &meta::now_rfc3339(),
            &meta_provider,
        )
        .map_err(|e| match e {
            skiff_patch::ApplyError::Conflicts(cs) => {
                let mut err = ApiError::new(409, "Conflict", skiff_patch::conflict_message(&cs));
                err.causes = cs
                    .iter()
                    .map(|c| Cause {
                        reason: "FieldManagerConflict".into(),
                        message: format!("conflict with \"{}\"", c.manager),
                        field: c.field.clone(),
                    })
                    .collect();
                err
            }
            other => ApiError::new(422, "Invalid", other.to_string()),
        })?;
        if let Some(rv) = pinned {
            meta::metadata_mut(&mut out).insert("resourceVersion".into(), json!(rv));
        }
        Ok(out)
    };
    let c = commit(ctx, opts, status_write, true, false, &mutate).await?;
    Ok(add_warnings(
        respond_one(ctx, c.object, if c.created { 201 } else { 200 })?,
        &warnings,
    ))
}

/// POST pods/NAME/binding: assign the pod to a node.
pub async fn bind(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let decoded = objects::decode_body(ctx.header("content-type"), &ctx.body)?;
    let binding = decoded.value;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        return Err(objects::invalid_causes(
            &ctx.info,
            ctx.name()?,
            &[("target.name", "FieldValueRequired", "Required value".into())],
        ));
    }
    let opts = WriteOptions::from_query(&ctx.query, ctx.header("user-agent"))?;
    let name = ctx.name()?.to_string();
    let mutate = |old: Option<&Value>| -> Result<Value, ApiError> {
        let mut pod = old.cloned().unwrap_or_default();
        let current = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !current.is_empty() {
            return Err(ApiError::conflict(
                "",
                "pods",
                &name,
                &format!("pod {name} is already assigned to node \"{current}\""),
            ));
        }
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::conflict(
                "",
                "pods",
                &name,
                &format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        pod["spec"]["nodeName"] = json!(node);
        let cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now_rfc3339()});
        let conds = pod["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conds: Vec<Value> = conds
            .into_iter()
            .filter(|c| c["type"] != "PodScheduled")
            .collect();
        conds.push(cond);
        pod["status"]["conditions"] = Value::Array(conds);
        Ok(pod)
    };
    // Binding changes spec and status together, so it bypasses the spec/status split.
    let mut bind_ctx_info = (*ctx.info).clone();
    bind_ctx_info.subresources.retain(|s| s.name != "status");
    let bind_ctx = Ctx {
        state: ctx.state.clone(),
        user: ctx.user.clone(),
        method: ctx.method.clone(),
        headers: ctx.headers.clone(),
        query: ctx.query.clone(),
        body: ctx.body.clone(),
        info: std::sync::Arc::new(bind_ctx_info),
        ns: ctx.ns.clone(),
        name: ctx.name.clone(),
        sub: Some("binding".into()),
        upgrade: None,
    };
    commit(&bind_ctx, &opts, false, false, true, &mutate).await?;
    Ok(crate::http::json(201, &skiff_api::status::success(201)))
}
