//! HTTP plumbing: body type, query parsing, content negotiation and response builders.

use ::http::{header, HeaderValue, Response, StatusCode};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use serde_json::Value;
use skiff_api::ApiError;
use std::convert::Infallible;

/// Response body: a full buffer or a stream (watch, logs).
pub type Body = BoxBody<Bytes, Infallible>;

/// A whole-buffer body.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// A response with a JSON body.
pub fn json_bytes(code: u16, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A response with a JSON value.
pub fn json(code: u16, v: &Value) -> Response<Body> {
    json_bytes(code, serde_json::to_vec(v).unwrap_or_default())
}

/// A Status error response.
pub fn error(e: &ApiError) -> Response<Body> {
    let mut r = json(e.code, &e.to_status());
    if let Some(s) = e.retry_after {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

/// A plain-text response.
pub fn text(code: u16, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Parsed query string; repeated keys keep every value.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse `a=b&c=d` with percent-decoding and `+` as space.
    pub fn parse(q: Option<&str>) -> Query {
        let mut pairs = Vec::new();
        for part in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((percent_decode(k), percent_decode(v)));
        }
        Query { pairs }
    }

    /// First value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Boolean flag (`true`, `1`, or present without value).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "True" | ""))
    }
}

/// Decode `%XX` escapes and `+`.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What representation the client asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Wants {
    /// The plain object or list.
    Object,
    /// meta.k8s.io/v1 Table.
    Table,
    /// meta.k8s.io/v1 PartialObjectMetadata(List).
    PartialMetadata,
}

/// Pick the first representation in `Accept` that we serve.
pub fn negotiate(accept: Option<&str>) -> Wants {
    let Some(accept) = accept else {
        return Wants::Object;
    };
    for part in accept.split(',') {
        let p = part.trim();
        let params: Vec<&str> = p.split(';').map(str::trim).collect();
        let media = params.first().copied().unwrap_or("");
        let has = |x: &str| params.iter().any(|q| q.eq_ignore_ascii_case(x));
        if media == "application/json" || media == "*/*" || media == "application/*" {
            if has("as=Table") && has("g=meta.k8s.io") && (has("v=v1") || has("v=v1beta1")) {
                return Wants::Table;
            }
            if (has("as=PartialObjectMetadata") || has("as=PartialObjectMetadataList"))
                && has("g=meta.k8s.io")
            {
                return Wants::PartialMetadata;
            }
            if params.iter().any(|q| q.starts_with("as=")) {
                continue;
            }
            return Wants::Object;
        }
    }
    Wants::Object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_selectors() {
        let q = Query::parse(Some("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1&x"));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(q.flag("watch"));
        assert!(q.flag("x"));
        assert!(!q.flag("y"));
    }

    #[test]
    fn accept_table_first() {
        assert_eq!(negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")), Wants::Table);
        assert_eq!(
            negotiate(Some(
                "application/vnd.kubernetes.protobuf, application/json"
            )),
            Wants::Object
        );
        assert_eq!(negotiate(Some("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io,application/json")), Wants::Object);
    }
}
