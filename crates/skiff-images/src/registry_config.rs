//! Registry mirrors, TLS and credentials, from a `registries.yaml` shaped like k3s's:
//!
//! ```yaml
//! mirrors:
//!   docker.io:
//!     endpoint: ["http://127.0.0.1:5000"]
//! configs:
//!   "reg:5000":
//!     tls: {insecure_skip_verify: true}
//!     auth: {username: u, password: p}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use skiff_cri::ImageError;

/// Mirrors and per-registry settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct RegistryConfig {
    /// Registry host (`docker.io`, `reg:5000`, or `*` for every registry) → its mirrors.
    #[serde(default)]
    pub mirrors: BTreeMap<String, Mirror>,
    /// Registry or mirror host → TLS and credentials.
    #[serde(default)]
    pub configs: BTreeMap<String, HostConfig>,
}

/// The mirrors of one registry, tried in order before the registry itself.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Mirror {
    /// Endpoint URLs (`https://mirror:443`, `http://127.0.0.1:5000` for plain HTTP).
    #[serde(default)]
    pub endpoint: Vec<String>,
}

/// Settings of one registry host.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct HostConfig {
    /// TLS settings.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Credentials, used when the pod gives none.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

/// TLS settings of a registry host.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct TlsConfig {
    /// Accept any server certificate (test registries only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Extra CA bundle (PEM) to trust for this host.
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// Registry credentials.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct AuthConfig {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password or token.
    #[serde(default)]
    pub password: String,
}

/// One place to try for an image: a mirror or the registry itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
    /// Path prefix from the mirror URL (usually empty).
    pub prefix: String,
    /// Its settings (TLS, credentials).
    pub config: HostConfig,
}

impl Endpoint {
    /// The URL of `path` (which starts with `/v2/`) on this endpoint.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}{}", self.scheme, self.host, self.prefix, path)
    }
}

impl RegistryConfig {
    /// Loads a registries.yaml; a missing file means no mirrors and no settings.
    pub fn load(path: &Path) -> Result<RegistryConfig, ImageError> {
        match std::fs::read_to_string(path) {
            Ok(text) => RegistryConfig::parse(&text)
                .map_err(|e| ImageError::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RegistryConfig::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Parses registries.yaml text.
    pub fn parse(text: &str) -> Result<RegistryConfig, serde_yaml::Error> {
        if text.trim().is_empty() {
            return Ok(RegistryConfig::default());
        }
        serde_yaml::from_str(text)
    }

    /// Where to look for images of `registry`: its mirrors in order, then the registry.
    pub fn endpoints(&self, registry: &str) -> Result<Vec<Endpoint>, ImageError> {
        let mirrors = self
            .mirrors
            .get(registry)
            .or_else(|| self.mirrors.get("*"))
            .map(|m| m.endpoint.as_slice())
            .unwrap_or_default();
        let mut out = Vec::new();
        for url in mirrors {
            out.push(self.endpoint_from_url(url)?);
        }
        let default_host = if registry == crate::reference::DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        };
        let default = Endpoint {
            scheme: "https".into(),
            host: default_host.into(),
            prefix: String::new(),
            config: self.host_config(&[registry, default_host]),
        };
        if !out
            .iter()
            .any(|e| e.host == default.host && e.prefix.is_empty())
        {
            out.push(default);
        }
        Ok(out)
    }

    fn endpoint_from_url(&self, url: &str) -> Result<Endpoint, ImageError> {
        let bad = || ImageError::Invalid(format!("registries.yaml: bad endpoint {url:?}"));
        let (scheme, rest) = match url.split_once("://") {
            Some((s @ ("http" | "https"), r)) => (s.to_string(), r),
            Some(_) => return Err(bad()),
            None => ("https".to_string(), url),
        };
        let (host, prefix) = match rest.split_once('/') {
            Some((h, p)) => (h, format!("/{}", p.trim_end_matches('/'))),
            None => (rest, String::new()),
        };
        // A mirror URL may already end in /v2; we add it ourselves.
        let prefix = prefix.trim_end_matches("/v2").to_string();
        let prefix = if prefix == "/" { String::new() } else { prefix };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Endpoint {
            config: self.host_config(&[host, url]),
            scheme,
            host: host.to_string(),
            prefix,
        })
    }

    fn host_config(&self, keys: &[&str]) -> HostConfig {
        keys.iter()
            .find_map(|k| self.configs.get(*k))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k3s_shape() {
        let cfg = RegistryConfig::parse(
            r#"
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000"]
configs:
  "reg:5000":
    tls: {insecure_skip_verify: true}
    auth: {username: u, password: p}
"#,
        )
        .unwrap();
        let eps = cfg.endpoints("docker.io").unwrap();
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].url("/v2/"), "http://127.0.0.1:5000/v2/");
        assert_eq!(eps[1].url("/v2/"), "https://registry-1.docker.io/v2/");
        let reg = cfg.endpoints("reg:5000").unwrap();
        assert_eq!(reg.len(), 1);
        assert!(reg[0].config.tls.insecure_skip_verify);
        assert_eq!(reg[0].config.auth.as_ref().unwrap().username, "u");
    }

    #[test]
    fn empty_file_is_default() {
        assert_eq!(
            RegistryConfig::parse("").unwrap(),
            RegistryConfig::default()
        );
    }
}
