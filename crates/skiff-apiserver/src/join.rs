//! Joining nodes: the server's join token and the two endpoints an agent uses with it.
//!
//! The token has k3s's shape, `K10<sha256 of the CA PEM, hex>::server:<secret>`. An agent
//! fetches the CA from `/cacerts` without trusting anything yet, checks it against the hash in
//! the token (so a man in the middle cannot substitute its own CA), then POSTs to
//! `/v1-skiff/join` with the secret as a bearer token over TLS verified by that CA. The answer
//! is the agent's own client certificate (`system:node:<name>` in `system:nodes`) and a serving
//! certificate for its HTTPS API, both signed by the cluster CA.

use crate::pki::Pki;
use serde_json::{json, Value};
use skiff_api::ApiError;
use std::path::Path;

/// The file under the data directory holding the join secret.
const TOKEN_FILE: &str = "token";

/// What the server needs to admit joining agents.
#[derive(Clone, Debug)]
pub struct JoinAuthority {
    /// The shared secret agents present.
    pub secret: String,
    /// The cluster PKI that signs agent certificates.
    pub pki: Pki,
}

/// Errors preparing the join secret.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The token file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A token that is not `K10<hash>::server:<secret>`.
    #[error("malformed join token: expected K10<ca-hash>::server:<secret> (as `skiff server` prints it)")]
    Malformed,
}

/// The join secret in `<data_dir>/token`, created (random, 0600) on first use.
pub fn ensure_secret(data_dir: &Path) -> Result<String, JoinError> {
    let path = data_dir.join(TOKEN_FILE);
    let io = |source| JoinError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut raw = [0u8; 24];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| io(std::io::Error::other("no system randomness")))?;
    let secret = hex(&raw);
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        f.write_all(secret.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    Ok(secret)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of `data` in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// The token agents are given: it pins the CA and carries the secret.
pub fn format_token(ca_pem: &str, secret: &str) -> String {
    format!("K10{}::server:{secret}", sha256_hex(ca_pem.as_bytes()))
}

/// Split a token into (CA hash, secret).
pub fn parse_token(token: &str) -> Result<(String, String), JoinError> {
    let rest = token
        .trim()
        .strip_prefix("K10")
        .ok_or(JoinError::Malformed)?;
    let (hash, secret) = rest.split_once("::").ok_or(JoinError::Malformed)?;
    let secret = secret.strip_prefix("server:").ok_or(JoinError::Malformed)?;
    let hex_ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex_ok || secret.is_empty() {
        return Err(JoinError::Malformed);
    }
    Ok((hash.to_ascii_lowercase(), secret.to_string()))
}

/// Compare secrets without leaking where they differ through timing.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// What an agent asks for.
struct JoinRequest {
    node_name: String,
    addresses: Vec<String>,
}

fn parse_request(body: &[u8]) -> Result<JoinRequest, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("join request: {e}")))?;
    let node_name = v
        .get("nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let problems = skiff_validation::validate_dns1123_subdomain(&node_name);
    if !problems.is_empty() {
        let cause = skiff_api::status::Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {node_name:?}: {}", problems.join(", ")),
            field: "metadata.name".into(),
        };
        return Err(ApiError::invalid("", "Node", &node_name, vec![cause]));
    }
    let addresses = v
        .get("addresses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(JoinRequest {
        node_name,
        addresses,
    })
}

/// Answer `POST /v1-skiff/join`: check the bearer secret, then issue the node's certificates.
pub fn join(
    authority: Option<&JoinAuthority>,
    bearer: Option<&str>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let authority = authority.ok_or_else(|| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            "this server does not admit joining nodes",
        )
    })?;
    if !bearer.is_some_and(|b| same_secret(b, &authority.secret)) {
        return Err(ApiError::unauthorized());
    }
    let req = parse_request(body)?;
    let mut sans = vec![
        req.node_name.clone(),
        "localhost".into(),
        "127.0.0.1".into(),
    ];
    sans.extend(req.addresses);
    let internal = |e: crate::pki::PkiError| ApiError::internal(e.to_string());
    let client = authority
        .pki
        .issue(
            &format!("system:node:{}", req.node_name),
            &["system:nodes".into()],
            &[],
            false,
        )
        .map_err(internal)?;
    let serving = authority
        .pki
        .issue(
            &format!("system:node:{}", req.node_name),
            &["system:nodes".into()],
            &sans,
            true,
        )
        .map_err(internal)?;
    let ca = std::fs::read_to_string(authority.pki.path("ca.crt"))
        .map_err(|e| ApiError::internal(format!("reading the CA: {e}")))?;
    Ok(json!({
        "ca": ca,
        "clientCert": client.cert_pem,
        "clientKey": client.key_pem,
        "servingCert": serving.cert_pem,
        "servingKey": serving.key_pem,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_rejects() {
        let t = format_token("PEM", "abc");
        let (hash, secret) = parse_token(&t).expect("parses");
        assert_eq!(hash, sha256_hex(b"PEM"));
        assert_eq!(secret, "abc");
        for bad in [
            "",
            "abc",
            "K10zz::server:abc",
            &format!("K10{}::node:abc", sha256_hex(b"x")),
            &format!("K10{}::server:", sha256_hex(b"x")),
        ] {
            assert!(parse_token(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn secret_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = ensure_secret(dir.path()).expect("created");
        let b = ensure_secret(dir.path()).expect("read back");
        assert_eq!(a, b);
        assert_eq!(a.len(), 48);
    }

    #[test]
    fn join_checks_secret_and_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::ensure(dir.path(), &[]).expect("pki");
        let auth = JoinAuthority {
            secret: "s3cret".into(),
            pki,
        };
        let body = br#"{"nodeName":"n1","addresses":["10.0.0.5","junk"]}"#;
        assert_eq!(
            join(Some(&auth), Some("wrong"), body)
                .expect_err("bad secret")
                .code,
            401
        );
        assert_eq!(join(Some(&auth), None, body).expect_err("none").code, 401);
        let e =
            join(Some(&auth), Some("s3cret"), br#"{"nodeName":"Bad_Name"}"#).expect_err("bad name");
        assert_eq!(e.code, 422);
        let ok = join(Some(&auth), Some("s3cret"), body).expect("joined");
        for k in ["ca", "clientCert", "clientKey", "servingCert", "servingKey"] {
            assert!(
                ok[k].as_str().is_some_and(|s| s.contains("-----BEGIN")),
                "{k}"
            );
        }
    }
}
