//! The TLS client configuration: trust the server's CA, authenticate with the admin cert.

use crate::error::BenchError;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>, BenchError> {
    std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|source| BenchError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, BenchError> {
    let certs = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| BenchError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(BenchError::BadFile {
            path: path.to_path_buf(),
            what: "no certificate",
        });
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, BenchError> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|source| BenchError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .ok_or_else(|| BenchError::BadFile {
            path: path.to_path_buf(),
            what: "no private key",
        })
}

/// Build a client configuration from a skiff data dir's `pki/{ca.crt,admin.crt,admin.key}`.
pub fn client_config(pki_dir: &Path) -> Result<Arc<ClientConfig>, BenchError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(&pki_dir.join("ca.crt"))? {
        roots.add(cert).map_err(BenchError::Tls)?;
    }
    // The ring provider explicitly: the workspace builds rustls without a default provider choice.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(BenchError::Tls)?
        .with_root_certificates(roots)
        .with_client_auth_cert(
            certs(&pki_dir.join("admin.crt"))?,
            key(&pki_dir.join("admin.key"))?,
        )
        .map_err(BenchError::Tls)?;
    // HTTP/1.1 only: each benchmark client is one keep-alive HTTP/1.1 connection.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
