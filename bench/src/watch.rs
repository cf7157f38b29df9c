//! Watch streams: open `?watch=true`, record when each object's ADDED event arrives.

use crate::conn::Endpoint;
use crate::error::BenchError;
use crate::workload::Workload;
use http::Method;
use http_body_util::BodyExt;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What one watch stream received.
#[derive(Debug, Default)]
pub struct WatchLog {
    /// `(object index, arrival time)` of each ADDED event for the workload's objects.
    pub seen: Vec<(usize, Instant)>,
    /// Why the stream ended early, if it did (ERROR event, closed stream, deadline).
    pub error: Option<String>,
}

/// The parts of a watch event we look at.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: EventObject,
}

#[derive(Deserialize, Default)]
struct EventObject {
    #[serde(default)]
    metadata: EventMeta,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize, Default)]
struct EventMeta {
    #[serde(default)]
    name: Option<String>,
}

/// Splits a chunked byte stream into newline-terminated lines (events may span frames).
#[derive(Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    /// Append `data` and call `each` for every complete, non-empty line.
    pub fn push(&mut self, data: &[u8], mut each: impl FnMut(&[u8])) {
        self.buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let line = &self.buf[start..start + pos];
            if !line.iter().all(u8::is_ascii_whitespace) {
                each(line);
            }
            start += pos + 1;
        }
        self.buf.drain(..start);
    }
}

/// What a line of the stream means for the benchmark.
#[derive(Debug, PartialEq)]
pub enum Seen {
    /// An ADDED event for object `index`.
    Added(usize),
    /// An ERROR event (e.g. 410 Gone), with its message.
    Error(String),
    /// Anything else (other objects, bookmarks, modifications).
    Other,
}

/// Classify one event line.
pub fn classify(line: &[u8], workload: &Workload) -> Result<Seen, BenchError> {
    let ev: Event = serde_json::from_slice(line).map_err(|source| BenchError::Body {
        context: "watch event",
        source,
    })?;
    Ok(match ev.kind.as_str() {
        "ADDED" => ev
            .object
            .metadata
            .name
            .as_deref()
            .and_then(|n| workload.index_of(n))
            .map_or(Seen::Other, Seen::Added),
        "ERROR" => Seen::Error(ev.object.message.unwrap_or_default()),
        _ => Seen::Other,
    })
}

/// Open a watch of `workload`'s collection from `resource_version`; the returned task collects
/// events until `want` objects were seen or `stop` turns true.
pub async fn open(
    endpoint: &Endpoint,
    workload: Arc<Workload>,
    resource_version: &str,
    want: usize,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<WatchLog>, BenchError> {
    let mut conn = endpoint.connect().await?;
    let path = format!(
        "{}?watch=true&resourceVersion={resource_version}",
        workload.path()
    );
    let req = conn.request(Method::GET, &path, Some("application/json"), None)?;
    let resp = conn.send(req).await?;
    if resp.status().as_u16() != 200 {
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(BenchError::Status {
            method: "GET".into(),
            path,
            expected: 200,
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    let mut body = resp.into_body();
    Ok(tokio::spawn(async move {
        // Keep the connection alive for as long as the stream is read.
        let _conn = conn;
        let mut log = WatchLog {
            seen: Vec::with_capacity(want),
            error: None,
        };
        let mut lines = LineSplitter::default();
        while log.seen.len() < want {
            let next = tokio::select! {
                f = body.frame() => f,
                // A dropped sender means the same as a stop request.
                _ = stop.wait_for(|s| *s) => {
                    log.error = Some(format!("stopped after {} of {want} events", log.seen.len()));
                    break;
                }
            };
            let frame = match next {
                None => {
                    log.error = Some(format!(
                        "stream closed after {} of {want} events",
                        log.seen.len()
                    ));
                    break;
                }
                Some(Err(e)) => {
                    log.error = Some(format!("stream failed: {e}"));
                    break;
                }
                Some(Ok(frame)) => frame,
            };
            let now = Instant::now();
            let Ok(data) = frame.into_data() else {
                continue;
            };
            lines.push(&data, |line| match classify(line, &workload) {
                Ok(Seen::Added(i)) => log.seen.push((i, now)),
                Ok(Seen::Other) => {}
                Ok(Seen::Error(m)) => log.error = Some(format!("ERROR event: {m}")),
                Err(e) => log.error = Some(e.to_string()),
            });
            if log.error.is_some() {
                break;
            }
        }
        log
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitter_handles_events_across_frames() {
        let cases: [(&[&str], &[&str]); 4] = [
            (&["a\nb\n"], &["a", "b"]),
            (
                &["{\"x\":", "1}\n{\"y\"", ":2}\n"],
                &["{\"x\":1}", "{\"y\":2}"],
            ),
            (&["a", "", "\n\n", "b"], &["a"]),
            (&["\n \nc\n"], &["c"]),
        ];
        for (frames, want) in cases {
            let mut s = LineSplitter::default();
            let mut got = Vec::new();
            for f in frames {
                s.push(f.as_bytes(), |l| {
                    got.push(String::from_utf8_lossy(l).into_owned())
                });
            }
            assert_eq!(
                got,
                want.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                "{frames:?}"
            );
        }
    }

    #[test]
    fn classify_events() {
        let w = Workload::ConfigMaps {
            namespace: "watch".into(),
            prefix: "w-".into(),
        };
        let cases = [
            (
                r#"{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"w-42","resourceVersion":"9"}}}"#,
                Seen::Added(42),
            ),
            (
                r#"{"type":"ADDED","object":{"metadata":{"name":"other-1"}}}"#,
                Seen::Other,
            ),
            (
                r#"{"type":"MODIFIED","object":{"metadata":{"name":"w-1"}}}"#,
                Seen::Other,
            ),
            (
                r#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}}"#,
                Seen::Other,
            ),
            (
                r#"{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old resource version"}}"#,
                Seen::Error("too old resource version".into()),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(classify(line.as_bytes(), &w).expect(line), want, "{line}");
        }
        assert!(classify(b"not json", &w).is_err());
    }
}
