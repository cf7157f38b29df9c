//! ConfigMap and Secret validation, and the Secret base64 decode check.

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::json::{key, obj_at, str_or_empty};
use crate::meta::is_immutable;
use crate::names::validate_config_map_key;

/// Upstream `MaxSecretSize`: 1 MiB of data per ConfigMap or Secret.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;
const IMMUTABLE_DETAIL: &str = "field is immutable when `immutable` is set";

/// Decodes standard padded base64 like Go's `base64.StdEncoding` (CR/LF ignored),
/// returning the byte offset Go would report on failure.
pub fn decode_base64_go(s: &str) -> Result<Vec<u8>, usize> {
    fn val(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let src = s.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0usize;
    loop {
        let mut quantum = [0u8; 4];
        let mut j = 0usize;
        let mut dlen = 4usize;
        let mut done = false;
        while j < 4 {
            if si == src.len() {
                match j {
                    0 => return Ok(out),
                    _ => return Err(si - j),
                }
            }
            let c = src[si];
            si += 1;
            if let Some(v) = val(c) {
                quantum[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            // Padding: only valid after two or three symbols.
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                return Err(si);
            }
            dlen = j;
            done = true;
            break;
        }
        let v = (u32::from(quantum[0]) << 18)
            | (u32::from(quantum[1]) << 12)
            | (u32::from(quantum[2]) << 6)
            | u32::from(quantum[3]);
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if done {
            return Ok(out);
        }
    }
}

/// The 400 BadRequest message kube-apiserver gives when a Secret's `data` is not base64
/// (it fails while decoding, before validation). `None` when every value decodes.
pub fn check_secret_base64(obj: &Value) -> Option<String> {
    let data = obj_at(obj, "data")?;
    for v in data.values() {
        let err = match v {
            Value::String(s) => decode_base64_go(s)
                .err()
                .map(|at| format!("illegal base64 data at input byte {at}")),
            Value::Null => None,
            other => Some(format!(
                "json: cannot unmarshal {} into Go struct field Secret.data of type []uint8",
                go_json_kind(other)
            )),
        };
        if let Some(e) = err {
            return Some(format!(
                "Secret in version \"v1\" cannot be handled as a Secret: {e}"
            ));
        }
    }
    None
}

fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        _ => "string",
    }
}

/// Validates data/binaryData keys and total size of a ConfigMap.
pub fn validate_config_map(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    let binary = obj_at(obj, "binaryData");
    if let Some(data) = obj_at(obj, "data") {
        for (k, v) in data {
            for msg in validate_config_map_key(k) {
                errs.push(FieldError::invalid(key("data", k), k.as_str(), msg));
            }
            if binary.is_some_and(|b| b.contains_key(k)) {
                errs.push(FieldError::invalid(
                    key("data", k),
                    k.as_str(),
                    "duplicate of key present in binaryData",
                ));
            }
            total += v.as_str().map_or(0, str::len);
        }
    }
    if let Some(bin) = binary {
        for (k, v) in bin {
            for msg in validate_config_map_key(k) {
                errs.push(FieldError::invalid(key("binaryData", k), k.as_str(), msg));
            }
            total += v
                .as_str()
                .and_then(|s| decode_base64_go(s).ok())
                .map_or(0, |b| b.len());
        }
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("", MAX_SECRET_SIZE));
    }
    errs
}

fn decoded(data: Option<&Map<String, Value>>, k: &str) -> Option<Vec<u8>> {
    data.and_then(|d| d.get(k))
        .and_then(Value::as_str)
        .and_then(|s| decode_base64_go(s).ok())
}

/// Validates a Secret: keys, size, and the per-type required keys.
pub fn validate_secret(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let data = obj_at(obj, "data");
    let mut total = 0usize;
    if let Some(d) = data {
        for (k, v) in d {
            for msg in validate_config_map_key(k) {
                errs.push(FieldError::invalid(key("data", k), k.as_str(), msg));
            }
            match v.as_str().map(decode_base64_go) {
                Some(Ok(bytes)) => total += bytes.len(),
                Some(Err(at)) => errs.push(FieldError::invalid(
                    key("data", k),
                    "<secret contents redacted>",
                    format!("illegal base64 data at input byte {at}"),
                )),
                None => {}
            }
        }
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("data", MAX_SECRET_SIZE));
    }
    let present = |k: &str| data.is_some_and(|d| d.contains_key(k));
    match str_or_empty(obj, "type") {
        "kubernetes.io/service-account-token" => {
            let ann = obj.get("metadata").and_then(|m| m.get("annotations"));
            let name = ann
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        t @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let k = if t == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            if !present(k) {
                errs.push(FieldError::required(key("data", k), ""));
            } else if let Some(bytes) = decoded(data, k) {
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(_)) => {}
                    Ok(_) => errs.push(FieldError::invalid(key("data", k), "<secret contents redacted>", "json: cannot unmarshal value into Go value of type map[string]interface {}")),
                    Err(e) => errs.push(FieldError::invalid(key("data", k), "<secret contents redacted>", e.to_string())),
                }
            }
        }
        "kubernetes.io/basic-auth" if !present("username") && !present("password") => {
            errs.push(FieldError::required("data[username]", ""));
            errs.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth"
            if decoded(data, "ssh-privatekey").is_none_or(|b| b.is_empty()) =>
        {
            errs.push(FieldError::required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !present(k) {
                    errs.push(FieldError::required(key("data", k), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

/// Immutable ConfigMaps/Secrets and the immutable Secret type.
pub fn validate_config_update(kind: &str, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if kind == "Secret" && new.get("type") != old.get("type") {
        errs.push(FieldError::immutable(
            "type",
            new.get("type").cloned().unwrap_or(Value::from("")),
        ));
    }
    if is_immutable(old) {
        if !is_immutable(new) {
            errs.push(FieldError::forbidden("immutable", IMMUTABLE_DETAIL));
        }
        let fields: &[&str] = if kind == "Secret" {
            &["data"]
        } else {
            &["data", "binaryData"]
        };
        for f in fields {
            let norm = |v: Option<&Value>| {
                v.filter(|x| !x.is_null() && x.as_object().is_none_or(|m| !m.is_empty()))
                    .cloned()
            };
            if norm(new.get(*f)) != norm(old.get(*f)) {
                errs.push(FieldError::forbidden(*f, IMMUTABLE_DETAIL));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_base64_offsets() {
        let cases: &[(&str, Result<&[u8], usize>)] = &[
            ("aGVsbG8=", Ok(b"hello")),
            ("aGVsbG8h", Ok(b"hello!")),
            ("aGk=", Ok(b"hi")),
            ("aA==", Ok(b"h")),
            ("", Ok(b"")),
            ("aGVs\nbG8=", Ok(b"hello")),
            ("<base64-encoded>", Err(0)),
            ("aGVsbG8", Err(4)),
            ("abc", Err(0)),
            ("aGk=x", Err(4)),
            ("a===", Err(1)),
            ("aA=", Err(3)),
            ("aGVs*G8=", Err(4)),
        ];
        for (input, want) in cases {
            let got = decode_base64_go(input);
            assert_eq!(got.as_deref().map_err(|e| *e), want.map(|b| b), "{input}");
        }
    }

    #[test]
    fn secret_base64_check() {
        let bad = json!({"kind": "Secret", "data": {"postgres-password": "<base64-encoded>"}});
        assert_eq!(check_secret_base64(&bad).as_deref(), Some("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 0"));
        let good = json!({"data": {"a": "aGVsbG8="}});
        assert_eq!(check_secret_base64(&good), None);
        let num = json!({"data": {"a": 5}});
        assert!(check_secret_base64(&num).is_some_and(|m| m.contains("cannot unmarshal number")));
    }

    #[test]
    fn config_map_table() {
        let cases = [
            (json!({"data": {"good.key": "v"}}), vec![]),
            (json!({"data": {"bad/key": "v"}}), vec!["data[bad/key]"]),
            (
                json!({"data": {"k": "v"}, "binaryData": {"k": "dg=="}}),
                vec!["data[k]"],
            ),
            (
                json!({"data": {"k": "x".repeat(MAX_SECRET_SIZE + 1)}}),
                vec![""],
            ),
        ];
        for (obj, want) in cases {
            let got: Vec<String> = validate_config_map(&obj)
                .into_iter()
                .map(|e| e.field)
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn secret_types_table() {
        let cases = [
            (json!({"type": "Opaque", "data": {"a": "YQ=="}}), vec![]),
            (
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="}}),
                vec!["data[tls.key]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/basic-auth", "data": {}}),
                vec![
                    "data[username]: Required value",
                    "data[password]: Required value",
                ],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson", "data": {}}),
                vec!["data[.dockerconfigjson]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "e30="}}),
                vec![],
            ),
            (
                json!({"type": "kubernetes.io/ssh-auth", "data": {}}),
                vec!["data[ssh-privatekey]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/service-account-token"}),
                vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
            ),
        ];
        for (obj, want) in cases {
            let got: Vec<String> = validate_secret(&obj)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want, "{obj}");
        }
    }

    #[test]
    fn immutable_updates() {
        let old = json!({"immutable": true, "data": {"a": "1"}});
        assert!(validate_config_update("ConfigMap", &old, &old).is_empty());
        let changed = json!({"immutable": true, "data": {"a": "2"}});
        let got: Vec<String> = validate_config_update("ConfigMap", &changed, &old)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        let unset = json!({"data": {"a": "1"}});
        assert_eq!(
            validate_config_update("ConfigMap", &unset, &old)[0].field,
            "immutable"
        );
        let s_old = json!({"type": "Opaque"});
        let s_new = json!({"type": "kubernetes.io/tls"});
        assert_eq!(
            validate_config_update("Secret", &s_new, &s_old)[0].to_string(),
            "type: Invalid value: \"kubernetes.io/tls\": field is immutable"
        );
    }
}
