//! One conversation with one registry endpoint about one repository (distribution API
//! v2): manifests and blobs, following redirects and answering auth challenges.

use std::io::Write;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use skiff_cri::{ImageError, PullAuth};

use crate::auth::{self, Challenge};
use crate::http::{HttpClient, HEADER_TIMEOUT, IDLE_TIMEOUT};
use crate::registry_config::Endpoint;

/// Accept header for manifests: every manifest and index type we can use.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Largest manifest or token answer we read into memory.
const MAX_DOC: usize = 8 << 20;

/// A registry session for one repository.
pub struct Session {
    http: HttpClient,
    endpoint: Endpoint,
    repository: String,
    /// The image as users named it, for error messages.
    image: String,
    creds: Option<PullAuth>,
    authorization: Option<String>,
}

impl Session {
    /// Starts a session; `creds` (the pod's) win over the endpoint's configured ones.
    pub fn new(
        endpoint: Endpoint,
        repository: &str,
        image: &str,
        creds: Option<PullAuth>,
    ) -> Result<Session, ImageError> {
        let http = crate::http::client(&endpoint.config.tls).map_err(|e| ImageError::Network {
            image: image.to_string(),
            message: e.to_string(),
        })?;
        let creds = creds.or_else(|| {
            endpoint.config.auth.as_ref().map(|a| PullAuth {
                username: a.username.clone(),
                password: a.password.clone(),
            })
        });
        Ok(Session {
            http,
            endpoint,
            repository: repository.to_string(),
            image: image.to_string(),
            creds,
            authorization: None,
        })
    }

    fn network(&self, message: impl std::fmt::Display) -> ImageError {
        ImageError::Network {
            image: self.image.clone(),
            message: format!("{}: {message}", self.endpoint.host),
        }
    }

    /// One GET, with a timeout on the response headers.
    async fn send(
        &self,
        url: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Response<Incoming>, ImageError> {
        let mut req = Request::get(url).header(header::USER_AGENT, "skiff");
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        if let Some(a) = authorization {
            req = req.header(header::AUTHORIZATION, a);
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| ImageError::Invalid(format!("{url}: {e}")))?;
        match tokio::time::timeout(HEADER_TIMEOUT, self.http.request(req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(self.network(error_chain(&e))),
            Err(_) => Err(self.network(format!("no answer within {HEADER_TIMEOUT:?}"))),
        }
    }

    /// GETs a path under /v2/ of this repository, answering one auth challenge and
    /// following redirects (blob downloads are usually redirected to object storage,
    /// which must not see our credentials).
    async fn get(
        &mut self,
        path: &str,
        accept: Option<&str>,
    ) -> Result<Response<Incoming>, ImageError> {
        let mut url = self
            .endpoint
            .url(&format!("/v2/{}/{path}", self.repository));
        let mut challenged = false;
        let mut same_host = true;
        for _ in 0..10 {
            let authz = if same_host {
                self.authorization.clone()
            } else {
                None
            };
            let resp = self.send(&url, accept, authz.as_deref()).await?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && same_host && !challenged {
                challenged = true;
                let header = resp
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                self.answer_challenge(header.as_deref()).await?;
                continue;
            }
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| self.network(format!("{status} without Location")))?;
                let next = resolve_location(&url, location);
                same_host = same_host && authority(&next) == authority(&url);
                url = next;
                continue;
            }
            return Ok(resp);
        }
        Err(self.network("too many redirects"))
    }

    /// Gets credentials for a 401: a bearer token from the token server, or basic auth.
    async fn answer_challenge(&mut self, header: Option<&str>) -> Result<(), ImageError> {
        let basic = self
            .creds
            .as_ref()
            .map(|c| auth::basic(&c.username, &c.password));
        match header.and_then(auth::parse_challenge) {
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let url = auth::token_url(
                    &realm,
                    service.as_deref(),
                    scope.as_deref(),
                    &self.repository,
                );
                let resp = self.send(&url, None, basic.as_deref()).await?;
                let status = resp.status();
                let body = self.read_doc(resp).await?;
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    return Err(ImageError::Unauthorized(self.image.clone()));
                }
                if !status.is_success() {
                    return Err(self.registry_error(status, &body));
                }
                let token = auth::token_from_json(&body)
                    .ok_or_else(|| self.network("token server gave no token"))?;
                self.authorization = Some(format!("Bearer {token}"));
                Ok(())
            }
            Some(Challenge::Basic) if basic.is_some() => {
                self.authorization = basic;
                Ok(())
            }
            _ => Err(ImageError::Unauthorized(self.image.clone())),
        }
    }

    /// Reads a small body whole.
    async fn read_doc(&self, resp: Response<Incoming>) -> Result<Vec<u8>, ImageError> {
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(frame) = self.next_frame(&mut body).await? {
            out.extend_from_slice(&frame);
            if out.len() > MAX_DOC {
                return Err(self.network(format!("document larger than {MAX_DOC} bytes")));
            }
        }
        Ok(out)
    }

    async fn next_frame(&self, body: &mut Incoming) -> Result<Option<Bytes>, ImageError> {
        loop {
            match tokio::time::timeout(IDLE_TIMEOUT, body.frame()).await {
                Err(_) => {
                    return Err(self.network(format!("transfer stalled for {IDLE_TIMEOUT:?}")))
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(self.network(error_chain(&e))),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// Maps a failed response to the error users see.
    fn registry_error(&self, status: StatusCode, body: &[u8]) -> ImageError {
        let message = error_message(body).unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("unexpected status")
                .to_string()
        });
        match status {
            StatusCode::NOT_FOUND => ImageError::NotFound(self.image.clone()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                ImageError::Unauthorized(self.image.clone())
            }
            _ => ImageError::Registry {
                image: self.image.clone(),
                status: status.as_u16(),
                message,
            },
        }
    }

    /// Fetches a manifest or index by tag or digest: (media type, bytes).
    pub async fn manifest(&mut self, object: &str) -> Result<(String, Vec<u8>), ImageError> {
        let resp = self
            .get(&format!("manifests/{object}"), Some(MANIFEST_ACCEPT))
            .await?;
        let status = resp.status();
        let media_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .unwrap_or_default();
        let body = self.read_doc(resp).await?;
        if !status.is_success() {
            // Unknown names and tags both answer 404 (MANIFEST_UNKNOWN / NAME_UNKNOWN).
            return Err(self.registry_error(status, &body));
        }
        // Some registries send a generic type; the document itself says what it is.
        let declared = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            });
        Ok((declared.unwrap_or(media_type), body))
    }

    /// Streams a blob into `out`; the caller verifies the digest.
    pub async fn blob(
        &mut self,
        digest: &str,
        out: &mut (dyn Write + Send),
    ) -> Result<u64, ImageError> {
        let resp = self.get(&format!("blobs/{digest}"), None).await?;
        let status = resp.status();
        if !status.is_success() {
            let body = self.read_doc(resp).await?;
            return Err(self.registry_error(status, &body));
        }
        let mut body = resp.into_body();
        let mut n = 0u64;
        while let Some(data) = self.next_frame(&mut body).await? {
            out.write_all(&data)?;
            n += data.len() as u64;
        }
        Ok(n)
    }
}

/// The registry's own words from an error body (`{"errors":[{"message":...}]}`).
fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let msgs: Vec<String> = v
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            (!(code.is_empty() && msg.is_empty())).then(|| format!("{code}: {msg}"))
        })
        .collect();
    (!msgs.is_empty()).then(|| msgs.join("; "))
}

/// An error with its causes, for messages (hyper's top-level text is terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// `scheme://host[:port]` of a URL.
fn authority(url: &str) -> &str {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after..]
        .find('/')
        .map(|i| after + i)
        .unwrap_or(url.len());
    &url[..end]
}

/// Resolves a Location header against the URL it answered.
fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!("{}{location}", authority(base))
    } else {
        let dir = base.rfind('/').map(|i| &base[..=i]).unwrap_or(base);
        format!("{dir}{location}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_redirects() {
        let base = "https://reg:5000/v2/a/blobs/sha256:x";
        assert_eq!(authority(base), "https://reg:5000");
        assert_eq!(resolve_location(base, "/s3/obj"), "https://reg:5000/s3/obj");
        assert_eq!(resolve_location(base, "https://cdn/o"), "https://cdn/o");
    }

    #[test]
    fn reads_registry_errors() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("MANIFEST_UNKNOWN: manifest unknown")
        );
        assert_eq!(error_message(b"oops"), None);
    }
}
