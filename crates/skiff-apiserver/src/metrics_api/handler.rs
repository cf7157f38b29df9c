//! The metrics.k8s.io/v1beta1 endpoints: `nodes` (NodeMetrics) and `pods` (PodMetrics), get
//! and list with label and field selectors, JSON or a Table, as metrics-server serves them.
//! Objects are built on request from the scraped usage and the Node/Pod objects they
//! describe; a node or pod without two scrapes yet is absent.

use super::format::{cpu_quantity, go_duration, memory_quantity, timestamp};
use super::series::Usage;
use crate::handlers::Ctx;
use crate::http::{self, negotiate, Body, Wants};
use ::http::Response;
use serde_json::{json, Map, Value};
use skiff_api::{ApiError, ResourceInfo};
use skiff_selectors::{FieldSelector, LabelSelector};

/// The API group served here.
pub const GROUP: &str = "metrics.k8s.io";

const API_VERSION: &str = "metrics.k8s.io/v1beta1";

/// Whether `info` is one of the metrics.k8s.io resources.
pub fn is_metrics(info: &ResourceInfo) -> bool {
    info.group == GROUP
}

/// Which kind of object a request is about.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Node,
    Pod,
}

impl Kind {
    fn of(info: &ResourceInfo) -> Kind {
        if info.resource == "nodes" {
            Kind::Node
        } else {
            Kind::Pod
        }
    }

    /// The core resource the metrics describe.
    fn source(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Pod => "pods",
        }
    }

    /// The resource name in NotFound errors (metrics-server's storage names).
    fn storage(self) -> &'static str {
        match self {
            Kind::Node => "nodemetrics",
            Kind::Pod => "podmetrics",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Kind::Node => "NodeMetrics",
            Kind::Pod => "PodMetrics",
        }
    }
}

struct Selectors {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Selectors {
    /// Selectors apply to the described objects (Pods, Nodes), as in metrics-server.
    fn parse(ctx: &Ctx, source: &str) -> Result<Selectors, ApiError> {
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
                f.validate_for("", source)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(f)
            }
            None => None,
        };
        Ok(Selectors { labels, fields })
    }

    fn matches(&self, source: &str, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        self.labels.as_ref().is_none_or(|l| l.matches(labels))
            && self
                .fields
                .as_ref()
                .is_none_or(|f| f.matches("", source, obj))
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn usage_json(cpu_nanocores: u64, memory: u64) -> Value {
    json!({"cpu": cpu_quantity(cpu_nanocores), "memory": memory_quantity(memory)})
}

/// Object metadata as metrics-server fills it: name, namespace, the object's labels, and
/// the time of the request as creationTimestamp.
fn metadata(source: &Value, now: &str) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(meta_str(source, "name")));
    if let Some(ns) = source.pointer("/metadata/namespace") {
        m.insert("namespace".into(), ns.clone());
    }
    m.insert("creationTimestamp".into(), json!(now));
    if let Some(l) = source.pointer("/metadata/labels") {
        m.insert("labels".into(), l.clone());
    }
    Value::Object(m)
}

/// The metrics object for `source` (a Node or Pod), with its summed usage for tables.
fn metrics_of(ctx: &Ctx, kind: Kind, source: &Value, now: &str) -> Option<(Value, Usage)> {
    let store = &ctx.state.resource_metrics;
    match kind {
        Kind::Node => {
            let u = store.node(meta_str(source, "name"))?;
            let v = json!({
                "metadata": metadata(source, now),
                "timestamp": timestamp(u.timestamp_ms),
                "window": go_duration(u.window_ms),
                "usage": usage_json(u.cpu_nanocores, u.memory),
            });
            Some((v, u))
        }
        Kind::Pod => {
            let p = store.pod(meta_str(source, "namespace"), meta_str(source, "name"))?;
            let containers: Vec<Value> = p
                .containers
                .iter()
                .map(|(name, u)| json!({"name": name, "usage": usage_json(u.cpu_nanocores, u.memory)}))
                .collect();
            let total = Usage {
                cpu_nanocores: p.containers.iter().map(|(_, u)| u.cpu_nanocores).sum(),
                memory: p.containers.iter().map(|(_, u)| u.memory).sum(),
                timestamp_ms: p.timestamp_ms,
                window_ms: p.window_ms,
            };
            let v = json!({
                "metadata": metadata(source, now),
                "timestamp": timestamp(p.timestamp_ms),
                "window": go_duration(p.window_ms),
                "containers": containers,
            });
            Some((v, total))
        }
    }
}

/// metrics-server's Table: Name, then each usage resource, then Window.
fn table(items: Vec<(Value, Usage)>) -> Value {
    let columns = json!([
        {"name": "Name", "type": "string", "format": "name", "description": "Name of the resource", "priority": 0},
        {"name": "cpu", "type": "string", "format": "quantity", "description": "", "priority": 0},
        {"name": "memory", "type": "string", "format": "quantity", "description": "", "priority": 0},
        {"name": "Window", "type": "string", "format": "duration", "description": "", "priority": 0},
    ]);
    let rows: Vec<Value> = items
        .into_iter()
        .map(|(obj, u)| {
            json!({
                "cells": [
                    meta_str(&obj, "name"),
                    cpu_quantity(u.cpu_nanocores),
                    memory_quantity(u.memory),
                    go_duration(u.window_ms),
                ],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

fn with_type(mut v: Value, kind: &str) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("kind".into(), json!(kind));
        m.insert("apiVersion".into(), json!(API_VERSION));
    }
    v
}

/// Serve a metrics.k8s.io request (`verb` as [`crate::handlers::verb_of`] names it).
pub async fn serve(ctx: &Ctx, verb: &str) -> Result<Response<Body>, ApiError> {
    let info = &ctx.info;
    if ctx.sub.is_some() {
        return Err(ApiError::path_not_found());
    }
    if verb != "GET" && verb != "LIST" {
        return Err(ApiError::method_not_allowed(
            &verb.to_lowercase(),
            &info.group,
            &info.resource,
        ));
    }
    let kind = Kind::of(info);
    let Some(source_info) = ctx.state.registry().get("", "v1", kind.source()) else {
        return Err(ApiError::path_not_found());
    };
    let now = timestamp(chrono::Utc::now().timestamp_millis());
    let wants = negotiate(ctx.header("accept"));
    if let Some(name) = ctx.name.as_deref() {
        let not_found = || ApiError::not_found(GROUP, kind.storage(), name);
        let source = ctx
            .state
            .store
            .get(&source_info.key(ctx.ns.as_deref(), name))
            .ok_or_else(not_found)?
            .value();
        let item = metrics_of(ctx, kind, &source, &now).ok_or_else(not_found)?;
        return Ok(match wants {
            Wants::Table => http::json(200, &table(vec![item])),
            _ => http::json(200, &with_type(item.0, kind.kind())),
        });
    }
    let selectors = Selectors::parse(ctx, kind.source())?;
    let (objects, _) = ctx
        .state
        .store
        .list(&source_info.namespace_prefix(ctx.ns.as_deref()));
    let items: Vec<(Value, Usage)> = objects
        .iter()
        .map(|o| o.value())
        .filter(|v| selectors.matches(kind.source(), v))
        .filter_map(|v| metrics_of(ctx, kind, &v, &now))
        .collect();
    Ok(match wants {
        Wants::Table => http::json(200, &table(items)),
        _ => {
            let items: Vec<Value> = items.into_iter().map(|(v, _)| v).collect();
            http::json(
                200,
                &json!({
                    "kind": format!("{}List", kind.kind()),
                    "apiVersion": API_VERSION,
                    "metadata": {},
                    "items": items,
                }),
            )
        }
    })
}
