//! The cluster's certificate authority and the certificates the server needs: a CA, a serving
//! certificate for the API and an admin client certificate, created on first start and kept in
//! `<data-dir>/pki`; plus the admin kubeconfig.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Errors creating or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a PEM file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// rcgen could not build or sign a certificate.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Paths of the PEM files under `<data-dir>/pki`.
#[derive(Clone, Debug)]
pub struct Pki {
    /// Directory holding every file.
    pub dir: PathBuf,
}

/// A certificate and key in PEM.
pub struct Issued {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM.
    pub key_pem: String,
}

const CA_CN: &str = "skiff-ca";

fn write(path: &Path, data: &str, private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, data).map_err(io)?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn ca_params() -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_CN);
    p.distinguished_name = dn;
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

impl Pki {
    /// Use `<data_dir>/pki`, creating the CA, serving and admin certificates that are missing.
    /// `sans` are extra names and addresses for the serving certificate.
    pub fn ensure(data_dir: &Path, sans: &[String]) -> Result<Pki, PkiError> {
        let dir = data_dir.join("pki");
        std::fs::create_dir_all(&dir).map_err(|source| PkiError::Io {
            path: dir.clone(),
            source,
        })?;
        let pki = Pki { dir };
        if !pki.path("ca.crt").exists() || !pki.path("ca.key").exists() {
            let key = KeyPair::generate()?;
            let cert = ca_params()?.self_signed(&key)?;
            write(&pki.path("ca.key"), &key.serialize_pem(), true)?;
            write(&pki.path("ca.crt"), &cert.pem(), false)?;
            // A new CA invalidates every certificate signed by an old one.
            for f in ["server.crt", "server.key", "admin.crt", "admin.key"] {
                let _ = std::fs::remove_file(pki.path(f));
            }
        }
        if !pki.path("server.crt").exists() {
            let issued = pki.issue("kube-apiserver", &[], sans, true)?;
            write(&pki.path("server.key"), &issued.key_pem, true)?;
            write(&pki.path("server.crt"), &issued.cert_pem, false)?;
        }
        if !pki.path("admin.crt").exists() {
            let issued = pki.issue("admin", &["system:masters".to_string()], &[], false)?;
            write(&pki.path("admin.key"), &issued.key_pem, true)?;
            write(&pki.path("admin.crt"), &issued.cert_pem, false)?;
        }
        Ok(pki)
    }

    /// `<stem>.crt` and `<stem>.key` in the PKI directory, issued now if missing (a node agent's
    /// serving certificate, the API server's client certificate for agents, ...).
    pub fn ensure_issued(
        &self,
        stem: &str,
        cn: &str,
        groups: &[String],
        sans: &[String],
        server: bool,
    ) -> Result<(PathBuf, PathBuf), PkiError> {
        let (crt, key) = (
            self.path(&format!("{stem}.crt")),
            self.path(&format!("{stem}.key")),
        );
        if !crt.exists() || !key.exists() {
            let issued = self.issue(cn, groups, sans, server)?;
            write(&key, &issued.key_pem, true)?;
            write(&crt, &issued.cert_pem, false)?;
        }
        Ok((crt, key))
    }

    /// Path of a file in the PKI directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Issue a certificate signed by the CA: a server certificate for `sans`, or a client
    /// certificate for user `cn` in `groups` (organizations), as Kubernetes reads them.
    pub fn issue(
        &self,
        cn: &str,
        groups: &[String],
        sans: &[String],
        server: bool,
    ) -> Result<Issued, PkiError> {
        let ca_key = KeyPair::from_pem(&read(&self.path("ca.key"))?)?;
        // Re-creating the CA certificate from its key and name yields an issuer that verifies
        // against the CA certificate on disk (same subject, same key).
        let ca = ca_params()?.self_signed(&ca_key)?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        for g in groups {
            dn.push(DnType::OrganizationName, g.as_str());
        }
        p.distinguished_name = dn;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if server {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            for s in sans {
                match s.parse::<IpAddr>() {
                    Ok(ip) => p.subject_alt_names.push(SanType::IpAddress(ip)),
                    Err(_) => p
                        .subject_alt_names
                        .push(SanType::DnsName(s.as_str().try_into()?)),
                }
            }
        } else {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &ca, &ca_key)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A kubeconfig for the admin user reaching the server at `server_url`.
    pub fn admin_kubeconfig(&self, server_url: &str) -> Result<String, PkiError> {
        use base64::Engine;
        let b64 = |name: &str| -> Result<String, PkiError> {
            Ok(base64::engine::general_purpose::STANDARD.encode(read(&self.path(name))?))
        };
        Ok(format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff\n  cluster:\n    server: {server_url}\n    certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: skiff\n  context:\n    cluster: skiff\n    user: admin\n    namespace: default\ncurrent-context: skiff\npreferences: {{}}\n",
            b64("ca.crt")?,
            b64("admin.crt")?,
            b64("admin.key")?,
        ))
    }
}

/// Names and addresses the serving certificate must cover: localhost, loopback, the host name,
/// the host's IPv4 addresses, the in-cluster `kubernetes` Service names and its ClusterIP.
pub fn default_sans(extra: &[String]) -> Vec<String> {
    let mut sans: Vec<String> = vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        "kubernetes.default.svc.cluster.local".into(),
        "10.43.0.1".into(),
    ];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            sans.push(h.to_string());
        }
    }
    sans.extend(host_ipv4_addresses());
    sans.extend(extra.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    sans.retain(|s| seen.insert(s.clone()));
    sans
}

/// Local IPv4 addresses, read from the kernel's FIB (entries marked `/32 host LOCAL`).
pub fn host_ipv4_addresses() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let mut out = Vec::new();
    let mut last_ip: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim_start_matches([' ', '|', '+', '-', '`']).trim();
        if t.contains("/32 host LOCAL") {
            if let Some(ip) = last_ip {
                if !ip.starts_with("127.") && !out.iter().any(|o| o == ip) {
                    out.push(ip.to_string());
                }
            }
        } else if t.parse::<std::net::Ipv4Addr>().is_ok() {
            last_ip = Some(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_creates_then_keeps_certificates() {
        let dir = std::env::temp_dir().join(format!("skiff-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pki = Pki::ensure(&dir, &default_sans(&[])).expect("pki");
        let ca1 = std::fs::read_to_string(pki.path("ca.crt")).expect("ca");
        let pki2 = Pki::ensure(&dir, &[]).expect("pki again");
        assert_eq!(
            ca1,
            std::fs::read_to_string(pki2.path("ca.crt")).expect("ca")
        );
        let kc = pki
            .admin_kubeconfig("https://127.0.0.1:6443")
            .expect("kubeconfig");
        assert!(kc.contains("client-certificate-data"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
