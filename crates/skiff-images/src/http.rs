//! The HTTP(S) client registries are reached with: hyper over rustls (ring), trusting the
//! system's CAs, a per-host CA file, or — for hosts configured so — any certificate.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::registry_config::TlsConfig;

/// How long to wait for a connection and response headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a body may stall before the transfer is abandoned.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A GET-only HTTP client.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read or parsed.
    #[error("CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// rustls refused the configuration.
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted CAs, loaded once.
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "loading system CA certificates");
        }
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "system CA certificates");
        store
    })
}

/// Builds a client for hosts with the given TLS settings.
pub fn client(tls: &TlsConfig) -> Result<HttpClient, TlsSetupError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?;
    let config = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = system_roots().clone();
        if let Some(path) = &tls.ca_file {
            let ca_err = |source| TlsSetupError::CaFile {
                path: path.clone(),
                source,
            };
            let pem = std::fs::read(path).map_err(ca_err)?;
            for cert in rustls_pemfile_certs(&pem).map_err(ca_err)? {
                roots
                    .add(cert)
                    .map_err(|e| ca_err(std::io::Error::other(e)))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Parses the certificates of a PEM bundle.
fn rustls_pemfile_certs(pem: &[u8]) -> std::io::Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)
}

/// Accepts any server certificate, but still checks handshake signatures so the session
/// is at least bound to the key the server showed. Only for `insecure_skip_verify` hosts.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
