//! Watch streams: chunked JSON events, selectors, bookmarks, timeouts and 410 Gone.

use super::read::{present, select, table, Selectors};
use super::Ctx;
use crate::http::{negotiate, Body, Wants};
use ::http::{header, HeaderValue, Response};
use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{json, Value};
use skiff_api::{meta, ApiError};
use skiff_store::{EventType, StoreError};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

const BOOKMARK_EVERY: Duration = Duration::from_secs(10);

/// The state of one watch stream.
enum State {
    /// Sending the synthetic ADDED events for a watch from "now" (resourceVersion "" or "0").
    Initial,
    /// Streaming store events.
    Live,
    /// The stream is over (timeout, client gone, shutdown, or 410 sent).
    Done,
}

/// Serve a watch request.
pub async fn serve(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let sel = Selectors::from_ctx(ctx)?;
    let info = ctx.info.clone();
    let store = ctx.state.store.clone();
    let wants = negotiate(ctx.header("accept"));
    let rv_param = ctx.query.get("resourceVersion").unwrap_or("").to_string();
    let bookmarks = ctx.query.flag("allowWatchBookmarks");
    let timeout = ctx
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(
            1800 + (uuid::Uuid::new_v4().as_bytes()[0] as u64 * 7),
        ));
    // A watch on one named object (legacy /watch/.../name or fieldSelector) is filtered by name.
    let name_filter = ctx.name.clone();
    let prefix = info.namespace_prefix(ctx.ns.as_deref());

    let (initial, start_rev) = match rv_param.as_str() {
        "" | "0" => {
            let (items, rv) = select(ctx, &sel);
            (
                items
                    .into_iter()
                    .filter(|o| {
                        name_filter
                            .as_deref()
                            .is_none_or(|n| meta::name(&o.value()) == Some(n))
                    })
                    .map(|o| o.value())
                    .collect(),
                rv,
            )
        }
        s => {
            let rv: i64 = s
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s}")))?;
            (Vec::new(), rv)
        }
    };
    let watch = store.watch(&prefix, start_rev);
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let table_ctx_columns = wants == Wants::Table;
    // Events a watcher takes whole, as stored: framed around the stored bytes without parsing
    // or re-serialising (every watcher of a busy collection pays for each event otherwise).
    let passes_raw = !table_ctx_columns
        && info.storage_version == info.version
        && name_filter.is_none()
        && sel.is_empty();
    let mut shutdown = ctx.state.shutdown.clone();
    let metrics_state = ctx.state.clone();
    // Rows for Table watches need the request context's printers; build a minimal ctx view.
    let render_ctx = TableRenderer {
        ctx_info: info.clone(),
        query: ctx.query.clone(),
    };
    tokio::spawn(async move {
        metrics_state
            .metrics
            .watches
            .fetch_add(1, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut first = true;
        let encode = |kind: &str, obj: Value, first: &mut bool| -> Bytes {
            let object = if table_ctx_columns {
                let t = render_ctx.table(vec![obj], *first);
                *first = false;
                t
            } else {
                obj
            };
            let mut line =
                serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        };
        let mut state = State::Initial;
        let mut watch = match watch {
            Ok(w) => Some(w),
            Err(StoreError::Gone {
                requested,
                compacted,
            }) => {
                let status = ApiError::gone(format!(
                    "too old resource version: {requested} ({compacted})"
                ))
                .to_status();
                let _ = tx.send(encode_raw("ERROR", status)).await;
                None
            }
            Err(_) => None,
        };
        if watch.is_none() {
            state = State::Done;
        }
        let mut last_rev = start_rev;
        let mut initial = initial.into_iter();
        loop {
            state = match state {
                State::Done => break,
                State::Initial => match initial.next() {
                    Some(obj) => {
                        if tx
                            .send(encode("ADDED", present(&info, obj), &mut first))
                            .await
                            .is_err()
                        {
                            State::Done
                        } else {
                            State::Initial
                        }
                    }
                    None => State::Live,
                },
                State::Live => {
                    let Some(w) = watch.as_mut() else { break };
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => State::Done,
                        _ = shutdown.changed() => State::Done,
                        _ = tokio::time::sleep(BOOKMARK_EVERY), if bookmarks => {
                            let rv = w.progress().max(last_rev);
                            let obj = json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": {"resourceVersion": rv.to_string()}});
                            if tx.send(encode_raw("BOOKMARK", obj)).await.is_err() { State::Done } else { State::Live }
                        }
                        ev = w.next() => match ev {
                            None => State::Done,
                            Some(Err(StoreError::Gone { requested, compacted })) => {
                                let status = ApiError::gone(format!("too old resource version: {requested} ({compacted})")).to_status();
                                let _ = tx.send(encode_raw("ERROR", status)).await;
                                State::Done
                            }
                            Some(Err(_)) => State::Done,
                            Some(Ok(ev)) if passes_raw => {
                                last_rev = ev.rev;
                                let kind = match ev.kind {
                                    EventType::Added => "ADDED",
                                    EventType::Modified => "MODIFIED",
                                    EventType::Deleted => "DELETED",
                                };
                                if tx.send(raw_event(kind, &ev.object.data)).await.is_err() { State::Done } else { State::Live }
                            }
                            Some(Ok(ev)) => {
                                last_rev = ev.rev;
                                let new = ev.object.value();
                                if name_filter.as_deref().is_some_and(|n| meta::name(&new) != Some(n)) {
                                    State::Live
                                } else {
                                    let now_match = sel.matches(&info, &new);
                                    let was_match = ev.prev.as_ref().is_some_and(|p| sel.matches(&info, &p.value()));
                                    let kind = match ev.kind {
                                        EventType::Added if now_match => Some("ADDED"),
                                        EventType::Deleted if now_match || was_match => Some("DELETED"),
                                        EventType::Modified if now_match && was_match => Some("MODIFIED"),
                                        EventType::Modified if now_match => Some("ADDED"),
                                        EventType::Modified if was_match => Some("DELETED"),
                                        _ => None,
                                    };
                                    match kind {
                                        Some(k) => {
                                            if tx.send(encode(k, present(&info, new), &mut first)).await.is_err() { State::Done } else { State::Live }
                                        }
                                        None => State::Live,
                                    }
                                }
                            }
                        }
                    }
                }
            };
        }
        metrics_state
            .metrics
            .watches
            .fetch_sub(1, Ordering::Relaxed);
    });
    let stream = ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let body: Body = StreamBody::new(stream).boxed();
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

/// `{"type":KIND,"object":<stored JSON>}` and a newline.
fn raw_event(kind: &str, object: &[u8]) -> Bytes {
    let mut line = Vec::with_capacity(object.len() + 32);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

fn encode_raw(kind: &str, object: Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// Renders Table rows for watch events outside the request's lifetime.
struct TableRenderer {
    ctx_info: std::sync::Arc<skiff_api::ResourceInfo>,
    query: crate::http::Query,
}

impl TableRenderer {
    fn table(&self, objs: Vec<Value>, with_columns: bool) -> Value {
        let rv = objs
            .first()
            .and_then(|o| meta::str_field(o, "resourceVersion"))
            .unwrap_or("")
            .to_string();
        let mut t = table(&self.ctx_info, &self.query, objs, &rv, None);
        if !with_columns {
            t["columnDefinitions"] = Value::Null;
        }
        t
    }
}
