//! Registry authentication: `WWW-Authenticate` challenges and the bearer-token flow of the
//! distribution spec (token server at `realm`, with `service` and `scope`).

use std::collections::BTreeMap;

use base64::Engine as _;

/// A parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm=...,service=...,scope=...`.
    Bearer {
        /// Token server URL.
        realm: String,
        /// `service` parameter, if given.
        service: Option<String>,
        /// `scope` parameter, if given.
        scope: Option<String>,
    },
    /// `Basic realm=...`.
    Basic,
}

/// Parses a `WWW-Authenticate` header value; None for schemes we do not speak.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        "basic" => Some(Challenge::Basic),
        _ => None,
    }
}

/// `key="value", key=value` pairs; commas inside quotes belong to the value (scopes
/// may list several actions: `repository:a:pull,push`).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    out
}

/// The `Authorization` value for basic credentials.
pub fn basic(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The token URL for a bearer challenge; `scope` defaults to pulling `repository`.
pub fn token_url(
    realm: &str,
    service: Option<&str>,
    scope: Option<&str>,
    repository: &str,
) -> String {
    let pull_scope = format!("repository:{repository}:pull");
    let mut url = realm.to_string();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    if let Some(s) = service {
        url.push(sep);
        url.push_str("service=");
        url.push_str(&encode(s));
        sep = '&';
    }
    url.push(sep);
    url.push_str("scope=");
    url.push_str(&encode(scope.unwrap_or(&pull_scope)));
    url
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The token in a token server's JSON answer (`token` or `access_token`).
pub fn token_from_json(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("token")
        .or_else(|| v.get("access_token"))
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn builds_token_url() {
        assert_eq!(
            token_url("https://a/token", Some("reg svc"), None, "library/x"),
            "https://a/token?service=reg%20svc&scope=repository:library/x:pull"
        );
        assert_eq!(
            token_from_json(br#"{"access_token":"t"}"#).as_deref(),
            Some("t")
        );
        assert_eq!(basic("u", "p"), "Basic dTpw");
    }
}
