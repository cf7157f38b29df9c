//! The agent side of joining a cluster with `skiff agent --server URL --token T`: pin the CA
//! from the token, trade the secret for this node's certificates, keep them in the data
//! directory so a restarted agent reuses them. The server side is skiff_apiserver::join.

use anyhow::{bail, Context};
use serde_json::Value;
use skiff_apiserver::join::{parse_token, sha256_hex};
use std::path::{Path, PathBuf};

/// Where a joined agent keeps its credentials.
pub struct Credentials {
    /// kubeconfig for the API server (the node's client certificate).
    pub kubeconfig: PathBuf,
    /// The cluster CA.
    pub ca: PathBuf,
    /// Serving certificate of the agent's HTTPS API.
    pub serving_cert: PathBuf,
    /// Its key.
    pub serving_key: PathBuf,
}

impl Credentials {
    fn in_dir(dir: &Path) -> Credentials {
        Credentials {
            kubeconfig: dir.join("kubeconfig.yaml"),
            ca: dir.join("ca.crt"),
            serving_cert: dir.join("serving.crt"),
            serving_key: dir.join("serving.key"),
        }
    }

    fn complete(&self) -> bool {
        [
            &self.kubeconfig,
            &self.ca,
            &self.serving_cert,
            &self.serving_key,
        ]
        .iter()
        .all(|p| p.exists())
    }
}

fn write_private(path: &Path, data: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

fn client(
    server: &str,
    ca_pem: Option<&str>,
    bearer: Option<&str>,
) -> anyhow::Result<kube::Client> {
    let url = server
        .parse()
        .with_context(|| format!("server URL {server:?}"))?;
    let mut cfg = kube::Config::new(url);
    match ca_pem {
        // Nothing is trusted before the CA is checked against the token's hash.
        None => cfg.accept_invalid_certs = true,
        Some(pem) => {
            let ders = rustls_pemfile::certs(&mut pem.as_bytes())
                .map(|c| c.map(|c| c.to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .context("parsing the cluster CA")?;
            cfg.root_cert = Some(ders);
        }
    }
    if let Some(b) = bearer {
        cfg.auth_info.token = Some(b.to_string().into());
    }
    kube::Client::try_from(cfg).context("building the join client")
}

/// Join the server (or reuse the credentials of an earlier join in `dir`).
pub async fn join(
    server: &str,
    token: &str,
    node_name: &str,
    addresses: &[String],
    dir: &Path,
) -> anyhow::Result<Credentials> {
    let (ca_hash, secret) = parse_token(token)?;
    let creds = Credentials::in_dir(dir);
    if creds.complete() {
        let ca = std::fs::read_to_string(&creds.ca)?;
        if sha256_hex(ca.as_bytes()) == ca_hash {
            return Ok(creds);
        }
        tracing::warn!("the stored credentials belong to another cluster: joining again");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;

    let insecure = client(server, None, None)?;
    let ca = insecure
        .request_text(http::Request::get("/cacerts").body(Vec::new())?)
        .await
        .with_context(|| format!("fetching the cluster CA from {server}"))?;
    if sha256_hex(ca.as_bytes()) != ca_hash {
        bail!(
            "the CA served by {server} does not match the join token's hash: \
             wrong server, or a token from another cluster"
        );
    }
    let pinned = client(server, Some(&ca), Some(&secret))?;
    let body = serde_json::to_vec(&serde_json::json!({
        "nodeName": node_name,
        "addresses": addresses,
    }))?;
    let issued: Value = pinned
        .request(
            http::Request::post("/v1-skiff/join")
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body)?,
        )
        .await
        .context("joining the cluster")?;
    let field = |k: &str| -> anyhow::Result<String> {
        issued
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .with_context(|| format!("the join answer lacks {k}"))
    };
    let client_crt = dir.join("client.crt");
    let client_key = dir.join("client.key");
    std::fs::write(&creds.ca, &ca)?;
    std::fs::write(&client_crt, field("clientCert")?)?;
    write_private(&client_key, &field("clientKey")?)?;
    std::fs::write(&creds.serving_cert, field("servingCert")?)?;
    write_private(&creds.serving_key, &field("servingKey")?)?;
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff\n  cluster:\n    server: {server}\n    certificate-authority: {}\nusers:\n- name: node\n  user:\n    client-certificate: {}\n    client-key: {}\ncontexts:\n- name: skiff\n  context:\n    cluster: skiff\n    user: node\ncurrent-context: skiff\n",
        creds.ca.display(),
        client_crt.display(),
        client_key.display(),
    );
    // Written last: its presence marks a complete join.
    write_private(&creds.kubeconfig, &kubeconfig)?;
    Ok(creds)
}
