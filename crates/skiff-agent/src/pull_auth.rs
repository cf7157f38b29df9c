//! Registry credentials for an image from the pod's imagePullSecrets (docker config JSON).

use base64::Engine;
use skiff_cri::PullAuth;

use crate::env::RefData;

/// The registry host of an image reference (`docker.io` when none is named).
pub fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// Credentials for `image` from the named secrets (`.dockerconfigjson` or `.dockercfg`).
pub fn pull_auth(image: &str, secret_names: &[String], refs: &RefData) -> Option<PullAuth> {
    let host = registry_host(image);
    for name in secret_names {
        let Some(data) = refs.secrets.get(name) else {
            continue;
        };
        let (json, nested) = match (data.get(".dockerconfigjson"), data.get(".dockercfg")) {
            (Some(j), _) => (j, true),
            (None, Some(j)) => (j, false),
            _ => continue,
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
            continue;
        };
        let auths = if nested {
            v.get("auths").cloned().unwrap_or_default()
        } else {
            v
        };
        let Some(map) = auths.as_object() else {
            continue;
        };
        for (key, entry) in map {
            let key_host = key
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or("");
            let matches = key_host == host
                || (host == "docker.io"
                    && (key_host == "index.docker.io" || key_host == "registry-1.docker.io"));
            if !matches {
                continue;
            }
            let user = entry
                .get("username")
                .and_then(|u| u.as_str())
                .unwrap_or_default();
            let pass = entry
                .get("password")
                .and_then(|u| u.as_str())
                .unwrap_or_default();
            if !user.is_empty() {
                return Some(PullAuth {
                    username: user.into(),
                    password: pass.into(),
                });
            }
            let decoded = entry
                .get("auth")
                .and_then(|a| a.as_str())
                .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            if let Some((u, p)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                return Some(PullAuth {
                    username: u.into(),
                    password: p.into(),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_credentials() {
        let mut refs = RefData::default();
        let cfg = r#"{"auths":{"reg.local:5000":{"auth":"dTpw"},"https://index.docker.io/v1/":{"username":"a","password":"b"}}}"#;
        refs.secrets.insert(
            "pull".into(),
            [(".dockerconfigjson".to_string(), cfg.as_bytes().to_vec())].into(),
        );
        let names = vec!["pull".to_string()];
        assert_eq!(
            pull_auth("reg.local:5000/app:1", &names, &refs),
            Some(PullAuth {
                username: "u".into(),
                password: "p".into()
            })
        );
        assert_eq!(
            pull_auth("busybox", &names, &refs),
            Some(PullAuth {
                username: "a".into(),
                password: "b".into()
            })
        );
        assert_eq!(pull_auth("quay.io/x/y", &names, &refs), None);
    }
}
