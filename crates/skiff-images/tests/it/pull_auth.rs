//! Registry auth flows against a small in-test registry on 127.0.0.1: the bearer-token
//! dance, basic auth, credentials from registries.yaml, manifest lists, redirects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use skiff_cri::{ImageError, ImageService, PullAuth};
use skiff_images::{ImageStore, RegistryConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixtures::*;

/// What the fake registry serves and counts.
struct Fake {
    port: u16,
    /// path → (content type, body)
    docs: HashMap<String, (String, Vec<u8>)>,
    blob_downloads: AtomicUsize,
}

const BASIC_UP: &str = "Basic dTpw"; // u:p

impl Fake {
    fn answer(&self, path: &str, authz: Option<&str>) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let base = format!("http://127.0.0.1:{}", self.port);
        if path.starts_with("/token?") {
            let ok = authz == Some(BASIC_UP)
                && path.contains("service=fake")
                && path.contains("scope=repository:library/app:pull");
            return if ok {
                (200, vec![], br#"{"token":"T0K"}"#.to_vec())
            } else {
                (401, vec![], b"{}".to_vec())
            };
        }
        if let Some(rest) = path.strip_prefix("/v2/") {
            let (challenge, ok) = if rest.starts_with("basic/") {
                (r#"Basic realm="fake""#.to_string(), authz == Some(BASIC_UP))
            } else {
                (
                    format!(
                        r#"Bearer realm="{base}/token",service="fake",scope="repository:library/app:pull""#
                    ),
                    authz == Some("Bearer T0K"),
                )
            };
            if !ok {
                return (
                    401,
                    vec![("WWW-Authenticate".into(), challenge)],
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                        .to_vec(),
                );
            }
            if let Some(idx) = rest.find("/blobs/") {
                let digest = &rest[idx + 7..];
                return (
                    307,
                    vec![("Location".into(), format!("/storage/{digest}"))],
                    vec![],
                );
            }
            let key = rest.split_once('/').map(|x| x.1).unwrap_or("");
            let key = key.rsplit_once("/manifests/").map(|x| x.1).unwrap_or(key);
            return match self.docs.get(key) {
                Some((ct, body)) => (200, vec![("Content-Type".into(), ct.clone())], body.clone()),
                None => (
                    404,
                    vec![],
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
                        .to_vec(),
                ),
            };
        }
        if let Some(d) = path.strip_prefix("/storage/") {
            self.blob_downloads.fetch_add(1, Ordering::SeqCst);
            if let Some((_, body)) = self.docs.get(d) {
                return (200, vec![], body.clone());
            }
        }
        (404, vec![], vec![])
    }
}

async fn serve(fake: Arc<Fake>, listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let fake = fake.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let text = String::from_utf8_lossy(&buf).into_owned();
            let mut lines = text.lines();
            let path = lines
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("/")
                .to_string();
            let authz = lines.find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("authorization")
                    .then(|| v.trim().to_string())
            });
            let (status, headers, body) = fake.answer(&path, authz.as_deref());
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&body).await;
            let _ = sock.shutdown().await;
        });
    }
}

/// Starts the fake with one image (behind a manifest list) under `library/app:1` and
/// `basic/app:1`.
async fn start() -> (Arc<Fake>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let l1 = gzip(&busybox_layer());
    let cfg = config(&[&busybox_layer()]);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": sha(&cfg), "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": sha(&l1), "size": l1.len()}],
    }))
    .unwrap();
    let other_arch = br#"{"schemaVersion":2,"config":{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#.to_vec();
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "digest": sha(&other_arch), "size": other_arch.len(),
             "platform": {"architecture": "s390x", "os": "linux"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "digest": sha(&manifest), "size": manifest.len(),
             "platform": {"architecture": skiff_images::manifest::host_arch(), "os": "linux"}},
        ],
    }))
    .unwrap();
    let mut docs = HashMap::new();
    let list_ct = "application/vnd.docker.distribution.manifest.list.v2+json".to_string();
    let m_ct = "application/vnd.docker.distribution.manifest.v2+json".to_string();
    docs.insert("1".to_string(), (list_ct, list));
    docs.insert(sha(&manifest), (m_ct.clone(), manifest));
    docs.insert(sha(&other_arch), (m_ct, other_arch));
    docs.insert(sha(&cfg), ("application/octet-stream".into(), cfg));
    docs.insert(sha(&l1), ("application/octet-stream".into(), l1));
    let fake = Arc::new(Fake {
        port,
        docs,
        blob_downloads: AtomicUsize::new(0),
    });
    let task = tokio::spawn(serve(fake.clone(), listener));
    (fake, task)
}

fn mirror_cfg(port: u16, extra: &str) -> RegistryConfig {
    RegistryConfig::parse(&format!(
        "mirrors:\n  \"127.0.0.1:{port}\":\n    endpoint: [\"http://127.0.0.1:{port}\"]\n{extra}"
    ))
    .unwrap()
}

#[tokio::test]
async fn bearer_token_flow_and_manifest_list() {
    let (fake, task) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("s"), mirror_cfg(fake.port, "")).unwrap();
    let image = format!("127.0.0.1:{}/library/app:1", fake.port);

    let err = store.pull(&image, None).await.unwrap_err();
    assert!(matches!(err, ImageError::Unauthorized(_)), "{err:?}");
    let wrong = PullAuth {
        username: "u".into(),
        password: "bad".into(),
    };
    let err = store.pull(&image, Some(wrong)).await.unwrap_err();
    assert!(matches!(err, ImageError::Unauthorized(_)), "{err:?}");
    assert!(err.to_string().contains("pull access denied"));

    let good = PullAuth {
        username: "u".into(),
        password: "p".into(),
    };
    let img = store.pull(&image, Some(good.clone())).await.unwrap();
    let layers = store.layers(&img).unwrap();
    assert_eq!(layers.len(), 1, "the host-arch manifest was picked");
    assert!(layers[0].join("bin/busybox").is_file());
    let downloads = fake.blob_downloads.load(Ordering::SeqCst);
    assert_eq!(downloads, 2, "config and one layer, through the redirect");

    // Pulling again re-resolves the tag but fetches no blob.
    store.pull(&image, Some(good)).await.unwrap();
    assert_eq!(fake.blob_downloads.load(Ordering::SeqCst), downloads);

    let err = store
        .pull(
            &format!("127.0.0.1:{}/library/app:2", fake.port),
            Some(PullAuth {
                username: "u".into(),
                password: "p".into(),
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err:?}");
    task.abort();
}

#[tokio::test]
async fn basic_auth_from_registries_yaml() {
    let (fake, task) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = fake.port;
    let cfg = mirror_cfg(
        p,
        &format!("configs:\n  \"127.0.0.1:{p}\":\n    auth: {{username: u, password: p}}\n"),
    );
    let store = ImageStore::open(&dir.path().join("s"), cfg).unwrap();
    let img = store
        .pull(&format!("127.0.0.1:{p}/basic/app:1"), None)
        .await
        .unwrap();
    assert_eq!(store.layers(&img).unwrap().len(), 1);
    // The token flow uses the configured credentials too.
    store
        .pull(&format!("127.0.0.1:{p}/library/app:1"), None)
        .await
        .unwrap();
    task.abort();
}
