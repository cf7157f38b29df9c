//! get and list, with selectors, pagination and Table / PartialObjectMetadata output.

use super::Ctx;
use crate::http::{self, negotiate, Body, Wants};
use ::http::Response;
use base64::Engine;
use serde_json::{json, Map, Value};
use skiff_api::{meta, ApiError, ResourceInfo};
use skiff_selectors::{FieldSelector, LabelSelector};
use skiff_store::StoredObject;
use std::sync::Arc;

/// The object as served at the requested version.
pub fn present(info: &ResourceInfo, mut obj: Value) -> Value {
    if let Some(av) = obj.get("apiVersion").and_then(Value::as_str) {
        if av != info.api_version() {
            obj = crate::convert::convert(info, obj);
        }
    }
    obj
}

/// Parsed `labelSelector` and `fieldSelector` of a request.
pub struct Selectors {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Selectors {
    /// Parse and check the selectors against the resource.
    pub fn from_ctx(ctx: &Ctx) -> Result<Selectors, ApiError> {
        let labels =
            match ctx.query.get("labelSelector").filter(|s| !s.is_empty()) {
                Some(s) => Some(LabelSelector::parse(s).map_err(|e| {
                    ApiError::bad_request(format!("unable to parse requirement: {e}"))
                })?),
                None => None,
            };
        let fields = match ctx.query.get("fieldSelector").filter(|s| !s.is_empty()) {
            Some(s) => {
                let f =
                    FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                f.validate_for(&ctx.info.group, &ctx.info.resource)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(f)
            }
            None => None,
        };
        Ok(Selectors { labels, fields })
    }

    /// Whether no selector is set.
    pub fn is_empty(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    /// The metadata.name a field selector pins, if any.
    pub fn exact_name(&self) -> Option<&str> {
        self.fields.as_ref().and_then(|f| f.exact_name())
    }

    /// Whether the object passes both selectors.
    pub fn matches(&self, info: &ResourceInfo, obj: &Value) -> bool {
        if let Some(l) = &self.labels {
            if !l.matches(meta::labels(obj)) {
                return false;
            }
        }
        if let Some(f) = &self.fields {
            if !f.matches(&info.group, &info.resource, obj) {
                return false;
            }
        }
        true
    }
}

/// GET of one object (or its status).
pub async fn get(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let value = present(&ctx.info, ctx.current()?.value());
    respond_one(ctx, value, 200)
}

/// Write one object in the representation the client asked for.
pub fn respond_one(ctx: &Ctx, value: Value, code: u16) -> Result<Response<Body>, ApiError> {
    match negotiate(ctx.header("accept")) {
        Wants::Table => {
            let rv = meta::str_field(&value, "resourceVersion")
                .unwrap_or("")
                .to_string();
            Ok(http::json(
                code,
                &table(&ctx.info, &ctx.query, vec![value], &rv, None),
            ))
        }
        Wants::PartialMetadata => Ok(http::json(code, &partial(&value))),
        Wants::Object => Ok(http::json(code, &value)),
    }
}

fn partial(v: &Value) -> Value {
    partial_from_metadata(v.get("metadata").cloned().unwrap_or_else(|| json!({})))
}

/// A meta.k8s.io/v1 Table of `objects`.
pub fn table(
    info: &ResourceInfo,
    query: &crate::http::Query,
    objects: Vec<Value>,
    rv: &str,
    cont: Option<&str>,
) -> Value {
    let now = chrono::Utc::now();
    let include = query.get("includeObject").unwrap_or("Metadata");
    let custom = info.crd_version.as_ref().map(|v| {
        skiff_printers::CustomColumns::from_printer_columns(
            v.get("additionalPrinterColumns").unwrap_or(&Value::Null),
        )
    });
    let columns: Vec<Value> = match &custom {
        Some(c) => c
            .columns()
            .iter()
            .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
            .collect(),
        None => skiff_printers::columns(&info.group, &info.resource)
            .iter()
            .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
            .collect(),
    };
    // Rows are built by moving values, never through json!{} (which deep-copies its
    // arguments): a 10,000-row table is mostly allocation otherwise.
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|mut o| {
            let cells = match &custom {
                Some(c) => c.cells(&o, now),
                None => skiff_printers::cells(&info.group, &info.resource, &o, now),
            };
            let mut row = Map::with_capacity(2);
            row.insert("cells".into(), Value::Array(cells));
            match include {
                "None" => {}
                "Object" => {
                    row.insert("object".into(), o);
                }
                _ => {
                    let md = o
                        .as_object_mut()
                        .and_then(|m| m.remove("metadata"))
                        .unwrap_or_else(|| json!({}));
                    row.insert("object".into(), partial_from_metadata(md));
                }
            }
            Value::Object(row)
        })
        .collect();
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), json!(rv));
    if let Some(c) = cont {
        metadata.insert("continue".into(), json!(c));
    }
    let mut t = Map::with_capacity(5);
    t.insert("kind".into(), json!("Table"));
    t.insert("apiVersion".into(), json!("meta.k8s.io/v1"));
    t.insert("metadata".into(), Value::Object(metadata));
    t.insert("columnDefinitions".into(), Value::Array(columns));
    t.insert("rows".into(), Value::Array(rows));
    Value::Object(t)
}

fn partial_from_metadata(md: Value) -> Value {
    let mut m = Map::with_capacity(3);
    m.insert("kind".into(), json!("PartialObjectMetadata"));
    m.insert("apiVersion".into(), json!("meta.k8s.io/v1"));
    m.insert("metadata".into(), md);
    Value::Object(m)
}

fn decode_continue(token: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_i64).ok_or_else(bad)?;
    let start = v
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .to_string();
    Ok((rv, start))
}

fn encode_continue(rv: i64, last_key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": last_key}).to_string())
}

/// Objects of a list request after selectors, in key order, plus the revision.
pub fn select(ctx: &Ctx, sel: &Selectors) -> (Vec<Arc<StoredObject>>, i64) {
    let prefix = ctx.info.namespace_prefix(ctx.ns.as_deref());
    if let (Some(name), Some(ns)) = (
        sel.exact_name(),
        ctx.ns
            .as_deref()
            .or(if ctx.info.namespaced { None } else { Some("") }),
    ) {
        let key = if ctx.info.namespaced {
            ctx.info.key(Some(ns), name)
        } else {
            ctx.info.key(None, name)
        };
        let rv = ctx.state.store.current_revision();
        let found: Vec<_> = ctx
            .state
            .store
            .get(&key)
            .into_iter()
            .filter(|o| sel.matches(&ctx.info, &o.value()))
            .collect();
        return (found, rv);
    }
    let (all, rv) = ctx.state.store.list(&prefix);
    if sel.is_empty() {
        return (all, rv);
    }
    let kept = all
        .into_iter()
        .filter(|o| sel.matches(&ctx.info, &o.value()))
        .collect();
    (kept, rv)
}

/// LIST with selectors, limit/continue; JSON lists are spliced from stored bytes.
pub async fn list(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let sel = Selectors::from_ctx(ctx)?;
    let (mut items, mut rv) = select(ctx, &sel);
    if let Some(token) = ctx.query.get("continue").filter(|s| !s.is_empty()) {
        let (crv, start) = decode_continue(token)?;
        rv = crv;
        let pos = items.partition_point(|o| o.key.as_str() <= start.as_str());
        items.drain(..pos);
    }
    let limit: usize = ctx
        .query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut cont = None;
    let mut remaining = None;
    if limit > 0 && items.len() > limit {
        remaining = Some(items.len() - limit);
        items.truncate(limit);
        cont = items.last().map(|o| encode_continue(rv, &o.key));
    }
    let rv_s = rv.to_string();
    let wants = negotiate(ctx.header("accept"));
    let needs_conversion = ctx.info.storage_version != ctx.info.version;
    match wants {
        Wants::Table => {
            // Printing parses every object: keep it off the async workers so one big table
            // does not stall other requests.
            let info = ctx.info.clone();
            let query = ctx.query.clone();
            let body = tokio::task::spawn_blocking(move || {
                let values: Vec<Value> = items.iter().map(|o| present(&info, o.value())).collect();
                serde_json::to_vec(&table(&info, &query, values, &rv_s, cont.as_deref()))
                    .unwrap_or_default()
            })
            .await
            .map_err(|e| ApiError::internal(format!("rendering the table: {e}")))?;
            Ok(http::json_bytes(200, body))
        }
        Wants::PartialMetadata => {
            let values: Vec<Value> = items.iter().map(|o| partial(&o.value())).collect();
            let mut md = json!({"resourceVersion": rv_s});
            if let Some(c) = &cont {
                md["continue"] = json!(c);
            }
            Ok(http::json(
                200,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": md, "items": values}),
            ))
        }
        Wants::Object => {
            let mut out =
                Vec::with_capacity(items.iter().map(|o| o.data.len() + 1).sum::<usize>() + 256);
            out.extend_from_slice(b"{\"kind\":");
            out.extend_from_slice(
                serde_json::to_string(&ctx.info.list_kind())
                    .unwrap_or_default()
                    .as_bytes(),
            );
            out.extend_from_slice(b",\"apiVersion\":");
            out.extend_from_slice(
                serde_json::to_string(&ctx.info.api_version())
                    .unwrap_or_default()
                    .as_bytes(),
            );
            let mut md = json!({"resourceVersion": rv_s});
            if let Some(c) = &cont {
                md["continue"] = json!(c);
            }
            if let Some(r) = remaining {
                md["remainingItemCount"] = json!(r);
            }
            out.extend_from_slice(b",\"metadata\":");
            out.extend_from_slice(md.to_string().as_bytes());
            out.extend_from_slice(b",\"items\":[");
            for (i, o) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if needs_conversion {
                    out.extend_from_slice(present(&ctx.info, o.value()).to_string().as_bytes());
                } else {
                    out.extend_from_slice(&o.data);
                }
            }
            out.extend_from_slice(b"]}");
            Ok(http::json_bytes(200, out))
        }
    }
}

/// pods/log, exec, attach and portforward are relayed to the node agent running the pod;
/// proxy is not relayed yet.
pub async fn pod_stream(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?;
    let v = ctx.current()?.value();
    let node = v
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if ctx.info.resource == "pods" && node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    match (ctx.info.resource.as_str(), ctx.sub.as_deref()) {
        ("pods", Some("log")) => pod_log(ctx, &v, node).await,
        ("pods", Some(sub @ ("exec" | "attach" | "portforward"))) => {
            pod_upgrade(ctx, &v, node, sub).await
        }
        _ => Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!(
                "{} is not available yet in skiff",
                ctx.sub.as_deref().unwrap_or("")
            ),
        )),
    }
}

/// The container a pod subresource addresses: `?container=`, else the only one.
fn pod_container(ctx: &Ctx, pod: &Value) -> Result<String, ApiError> {
    let name = ctx.name()?;
    let names = |path: &str| -> Vec<&str> {
        pod.pointer(path)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("/spec/containers");
    let container = match ctx.query.get("container").filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if containers.len() == 1 => containers[0].to_string(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )))
        }
    };
    let init = names("/spec/initContainers");
    if !containers.contains(&container.as_str()) && !init.contains(&container.as_str()) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    Ok(container)
}

/// Address and client credentials of the agent on `node_name`.
fn agent_of(
    ctx: &Ctx,
    node_name: &str,
) -> Result<((String, u16), std::sync::Arc<rustls::ClientConfig>), ApiError> {
    let reg = ctx.state.registry();
    let node = reg
        .get("", "v1", "nodes")
        .and_then(|n| ctx.state.store.get(&n.key(None, node_name)))
        .ok_or_else(|| ApiError::not_found("", "nodes", node_name))?
        .value();
    let addr = crate::relay::agent_address(&node).ok_or_else(|| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("node {node_name} does not report an agent address"),
        )
    })?;
    let tls = ctx.state.agent_tls.read().clone().ok_or_else(|| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            "this server has no credentials for node agents",
        )
    })?;
    Ok((addr, tls))
}

async fn pod_log(ctx: &Ctx, pod: &Value, node_name: &str) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?;
    let ns = ctx.ns.as_deref().unwrap_or("default");
    let container = pod_container(ctx, pod)?;
    let (addr, tls) = agent_of(ctx, node_name)?;
    let mut query = Vec::new();
    for key in [
        "follow",
        "previous",
        "timestamps",
        "tailLines",
        "sinceSeconds",
        "sinceTime",
        "limitBytes",
    ] {
        if let Some(v) = ctx.query.get(key) {
            query.push(format!("{key}={}", url_escape(v)));
        }
    }
    let path = format!(
        "/containerLogs/{ns}/{name}/{container}{}{}",
        if query.is_empty() { "" } else { "?" },
        query.join("&")
    );
    crate::relay::get(tls, addr, &path).await
}

/// exec, attach and portforward: a protocol switch relayed to the agent's
/// `/exec|/attach/{ns}/{pod}/{container}` or `/portForward/{ns}/{pod}`.
async fn pod_upgrade(
    ctx: &Ctx,
    pod: &Value,
    node_name: &str,
    sub: &str,
) -> Result<Response<Body>, ApiError> {
    let name = ctx.name()?;
    let ns = ctx.ns.as_deref().unwrap_or("default");
    let upgrade = ctx
        .upgrade
        .clone()
        .filter(|_| ctx.header("upgrade").is_some())
        .ok_or_else(|| ApiError::bad_request("Upgrade request required"))?;
    let path = if sub == "portforward" {
        let mut query = Vec::new();
        for key in ["port", "ports"] {
            for v in ctx.query.all(key) {
                query.push(format!("{key}={}", url_escape(v)));
            }
        }
        format!(
            "/portForward/{ns}/{name}{}{}",
            if query.is_empty() { "" } else { "?" },
            query.join("&")
        )
    } else {
        let container = pod_container(ctx, pod)?;
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        if phase == "Succeeded" || phase == "Failed" {
            return Err(ApiError::bad_request(format!(
                "cannot {sub} into a container in a completed pod; current phase is {phase}"
            )));
        }
        let mut query = Vec::new();
        let keys: &[&str] = if sub == "exec" {
            &["command", "stdin", "stdout", "stderr", "tty"]
        } else {
            &["stdin", "stdout", "stderr", "tty"]
        };
        for key in keys {
            for v in ctx.query.all(key) {
                query.push(format!("{key}={}", url_escape(v)));
            }
        }
        format!("/{sub}/{ns}/{name}/{container}?{}", query.join("&"))
    };
    let (addr, tls) = agent_of(ctx, node_name)?;
    crate::relay::upgrade(tls, addr, ctx.method.clone(), &path, &ctx.headers, upgrade).await
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
