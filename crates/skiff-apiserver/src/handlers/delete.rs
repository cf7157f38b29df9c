//! delete, deletecollection and pods/eviction, with preconditions, grace periods,
//! propagation policies and finalizers.

use super::read::{present, respond_one, select, Selectors};
use super::{hooks, store_error, Ctx};
use crate::http::{self, Body};
use ::http::Response;
use serde_json::{json, Value};
use skiff_api::{meta, ApiError, Cause};
use skiff_store::StoreError;

/// Parsed DeleteOptions (body and query).
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// gracePeriodSeconds.
    pub grace: Option<i64>,
    /// propagationPolicy (Orphan, Background, Foreground).
    pub propagation: Option<String>,
    /// preconditions.uid.
    pub uid: Option<String>,
    /// preconditions.resourceVersion.
    pub resource_version: Option<String>,
    /// dryRun=All.
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Read options from the query and an optional JSON/protobuf body.
    pub fn parse(ctx: &Ctx) -> Result<DeleteOptions, ApiError> {
        let mut o = DeleteOptions::default();
        if !ctx.body.is_empty() {
            let body = crate::objects::decode_body(ctx.header("content-type"), &ctx.body)?.value;
            Self::from_value(&mut o, &body)?;
        }
        if let Some(g) = ctx.query.get("gracePeriodSeconds") {
            o.grace =
                Some(g.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds {g}"))
                })?);
        }
        if let Some(p) = ctx.query.get("propagationPolicy") {
            o.propagation = Some(p.to_string());
        }
        if ctx.query.get("orphanDependents") == Some("true") {
            o.propagation = Some("Orphan".into());
        }
        if ctx.query.get("dryRun") == Some("All") {
            o.dry_run = true;
        }
        if let Some(p) = &o.propagation {
            if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::invalid(
                    "",
                    "DeleteOptions",
                    "",
                    vec![Cause {
                        reason: "FieldValueNotSupported".into(),
                        message: format!("Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
                        field: "propagationPolicy".into(),
                    }],
                ));
            }
        }
        Ok(o)
    }

    fn from_value(o: &mut DeleteOptions, body: &Value) -> Result<(), ApiError> {
        o.grace = body.get("gracePeriodSeconds").and_then(Value::as_i64);
        o.propagation = body
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            o.propagation = Some("Orphan".into());
        }
        o.uid = body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.resource_version = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.dry_run = body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x == "All"));
        Ok(())
    }
}

/// Outcome of deleting one object.
pub struct Deleted {
    /// The object (deleted, or marked for deletion).
    pub object: Value,
    /// True when removed from the store now; false when finalizers or a grace period keep it.
    pub gone: bool,
}

/// Delete one object by key, honouring options and finalizers.
pub async fn delete_object(
    ctx: &Ctx,
    key: &str,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Deleted, ApiError> {
    let info = &ctx.info;
    for _ in 0..8 {
        let cur = ctx
            .state
            .store
            .get(key)
            .ok_or_else(|| ApiError::not_found(&info.group, &info.resource, name))?;
        let obj = cur.value();
        let uid = meta::str_field(&obj, "uid").unwrap_or("");
        if let Some(want) = &opts.uid {
            if want != uid {
                return Err(ApiError::conflict(
                    &info.group,
                    &info.resource,
                    name,
                    &format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
                ),
                ));
            }
        }
        if let Some(want) = &opts.resource_version {
            let have = cur.mod_rev.to_string();
            if *want != have {
                return Err(ApiError::conflict(&info.group, &info.resource, name, &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in meta: {have}"
                )));
            }
        }
        let mut marked = obj.clone();
        let needs_marking = hooks::before_delete(ctx, &mut marked, opts);
        let mut finalizers = meta::finalizers(&marked);
        let add = match opts.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(f) = add {
            if !finalizers.iter().any(|x| x == f) {
                finalizers.push(f.to_string());
            }
        }
        let already = obj.pointer("/metadata/deletionTimestamp").is_some();
        if needs_marking || !finalizers.is_empty() {
            if already && finalizers == meta::finalizers(&obj) && !needs_marking {
                return Ok(Deleted {
                    object: present(info, obj),
                    gone: false,
                });
            }
            {
                let m = meta::metadata_mut(&mut marked);
                if !already {
                    m.insert("deletionTimestamp".into(), json!(meta::now_rfc3339()));
                    m.entry("deletionGracePeriodSeconds").or_insert(json!(0));
                }
                if !finalizers.is_empty() {
                    m.insert("finalizers".into(), json!(finalizers));
                }
            }
            if opts.dry_run {
                return Ok(Deleted {
                    object: present(info, marked),
                    gone: false,
                });
            }
            match ctx
                .state
                .store
                .update(key.to_string(), Some(cur.mod_rev), marked)
                .await
            {
                Ok(stored) => {
                    let v = stored.value();
                    hooks::after_write(ctx, &v).await;
                    return Ok(Deleted {
                        object: present(info, v),
                        gone: false,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(info, name, e)),
            }
        }
        if opts.dry_run {
            return Ok(Deleted {
                object: present(info, obj),
                gone: true,
            });
        }
        match ctx
            .state
            .store
            .delete(key.to_string(), Some(cur.mod_rev))
            .await
        {
            Ok(stored) => {
                let v = stored.value();
                hooks::after_delete(ctx, &v).await;
                return Ok(Deleted {
                    object: present(info, v),
                    gone: true,
                });
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_error(info, name, e)),
        }
    }
    Err(ApiError::stale(&info.group, &info.resource, name))
}

/// DELETE one object.
pub async fn delete(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let opts = DeleteOptions::parse(ctx)?;
    let name = ctx.name()?.to_string();
    let d = delete_object(ctx, &ctx.key()?, &name, &opts).await?;
    // kube-apiserver answers 202 only for a pending deletion the client asked to cascade with
    // orphanDependents=false; everything else, pending or not, is 200.
    let accepted = !d.gone && ctx.query.get("orphanDependents") == Some("false");
    respond_one(ctx, d.object, if accepted { 202 } else { 200 })
}

/// DELETE a collection: every object matching the selectors.
pub async fn delete_collection(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let opts = DeleteOptions::parse(ctx)?;
    let sel = Selectors::from_ctx(ctx)?;
    let (items, rv) = select(ctx, &sel);
    let mut deleted = Vec::new();
    for o in items {
        let v = o.value();
        let name = meta::name(&v).unwrap_or("").to_string();
        match delete_object(ctx, &o.key, &name, &opts).await {
            Ok(d) => deleted.push(d.object),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(http::json(
        200,
        &json!({"kind": ctx.info.list_kind(), "apiVersion": ctx.info.api_version(), "metadata": {"resourceVersion": rv.to_string()}, "items": deleted}),
    ))
}

/// How often an eviction re-reads a budget that changed under it before giving up
/// (upstream's EvictionsRetry steps).
const EVICTION_RETRIES: usize = 20;

/// POST pods/NAME/eviction: delete the pod unless a PodDisruptionBudget forbids it.
pub async fn evict(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?.to_string();
    let ns = ctx.ns.clone().unwrap_or_default();
    let body = if ctx.body.is_empty() {
        json!({})
    } else {
        crate::objects::decode_body(ctx.header("content-type"), &ctx.body)?.value
    };
    let pod = ctx.current()?.value();
    let mut opts = DeleteOptions::default();
    if let Some(d) = body.get("deleteOptions") {
        DeleteOptions::from_value(&mut opts, d)?;
    }
    if ctx.query.get("dryRun") == Some("All") {
        opts.dry_run = true;
    }
    let registry = ctx.state.registry();
    if let (false, Some(pdb_info)) = (
        super::eviction::can_ignore_budgets(&pod),
        registry.get("policy", "v1", "poddisruptionbudgets"),
    ) {
        for attempt in 0.. {
            let (pdbs, _) = ctx.state.store.list(&pdb_info.namespace_prefix(Some(&ns)));
            let matching: Vec<_> = pdbs
                .into_iter()
                .filter(|p| super::eviction::selects(&p.value(), &pod))
                .collect();
            if matching.len() > 1 {
                return Err(ApiError::internal("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."));
            }
            let Some(pdb) = matching.first() else {
                break;
            };
            let Some(updated) = super::eviction::check_and_decrement(&pdb.value(), &pod, &name)?
            else {
                break;
            };
            if opts.dry_run {
                break;
            }
            match ctx
                .state
                .store
                .update(pdb.key.clone(), Some(pdb.mod_rev), updated)
                .await
            {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) if attempt + 1 < EVICTION_RETRIES => continue,
                Err(e) => return Err(store_error(&pdb_info, &name, e)),
            }
        }
    }
    // A resourceVersion precondition names the pod as the client saw it: leave it be.
    if !opts.dry_run && opts.resource_version.is_none() {
        mark_disruption_target(ctx).await;
    }
    delete_object(ctx, &ctx.key()?, &name, &opts).await?;
    Ok(http::json(201, &skiff_api::status::success(201)))
}

/// Record on the pod why it is going (the DisruptionTarget condition); best effort, as a
/// pod whose status moved meanwhile is deleted all the same.
async fn mark_disruption_target(ctx: &Ctx) {
    let (Ok(key), Ok(cur)) = (ctx.key(), ctx.current()) else {
        return;
    };
    let mut pod = cur.value();
    super::eviction::add_disruption_target(&mut pod, &meta::now_rfc3339());
    if let Err(e) = ctx.state.store.update(key, Some(cur.mod_rev), pod).await {
        tracing::debug!(error = %e, "adding the DisruptionTarget condition before eviction");
    }
}
