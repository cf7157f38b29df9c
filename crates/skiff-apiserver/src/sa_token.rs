//! Service account token signing: an ECDSA P-256 key kept in `<data-dir>/pki`, compact JWS
//! (ES256) tokens carrying upstream's bound-token claims, and signature checks.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};
use std::path::Path;

/// The issuer (`iss`) of every token, and the API server's own audience.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// File name of the signing key below the pki directory.
const KEY_FILE: &str = "service-account.key";

/// Errors loading or using the signing key.
#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    /// The key file could not be read or written.
    #[error("service account key {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file holds no usable P-256 PKCS#8 key.
    #[error("service account key {path}: not an ECDSA P-256 PKCS#8 private key")]
    BadKey {
        /// The file.
        path: String,
    },
    /// Key generation or signing failed in the crypto library.
    #[error("service account token signing failed")]
    Crypto,
}

/// Signs and checks service account tokens.
pub struct TokenSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish()
    }
}

impl TokenSigner {
    /// Load the key from `pki_dir`, generating it on first start (kept across restarts so
    /// issued tokens stay valid).
    pub fn ensure(pki_dir: &Path) -> Result<TokenSigner, TokenKeyError> {
        let path = pki_dir.join(KEY_FILE);
        let shown = path.display().to_string();
        let io = |source| TokenKeyError::Io {
            path: shown.clone(),
            source,
        };
        if !path.exists() {
            std::fs::create_dir_all(pki_dir).map_err(io)?;
            let rng = SystemRandom::new();
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| TokenKeyError::Crypto)?;
            let pem = pem_encode("PRIVATE KEY", doc.as_ref());
            // Write then rename: a crash never leaves a half-written key behind.
            let tmp = pki_dir.join(format!("{KEY_FILE}.tmp"));
            std::fs::write(&tmp, pem).map_err(io)?;
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
            std::fs::rename(&tmp, &path).map_err(io)?;
        }
        let pem = std::fs::read(&path).map_err(io)?;
        let der = match rustls_pemfile::private_key(&mut pem.as_slice()) {
            Ok(Some(rustls::pki_types::PrivateKeyDer::Pkcs8(k))) => k.secret_pkcs8_der().to_vec(),
            _ => return Err(TokenKeyError::BadKey { path: shown }),
        };
        TokenSigner::from_pkcs8(&der).map_err(|_| TokenKeyError::BadKey { path: shown })
    }

    /// A key that lives only in memory (servers without a data directory, tests).
    pub fn ephemeral() -> Result<TokenSigner, TokenKeyError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| TokenKeyError::Crypto)?;
        TokenSigner::from_pkcs8(doc.as_ref())
    }

    fn from_pkcs8(der: &[u8]) -> Result<TokenSigner, TokenKeyError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| TokenKeyError::Crypto)?;
        // As upstream, the key id is derived from the public key so verifiers can pick keys.
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        Ok(TokenSigner { key, rng, kid })
    }

    /// Sign `claims` as a compact JWS.
    pub fn sign(&self, claims: &Value) -> Result<String, TokenKeyError> {
        let header = json!({"alg": "ES256", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| TokenKeyError::Crypto)?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }

    /// The claims of a token this key signed; None for anything else (other issuers' JWTs,
    /// bad signatures, garbage).
    pub fn verify(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key.public_key());
        public.verify(format!("{h}.{c}").as_bytes(), &sig).ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
        claims.is_object().then_some(claims)
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An object a token is bound to (claim `kubernetes.io.pod` and friends).
#[derive(Clone, Debug, PartialEq)]
pub struct BoundRef {
    /// Object name.
    pub name: String,
    /// Object UID.
    pub uid: String,
}

/// What goes into one token.
#[derive(Clone, Debug)]
pub struct TokenClaims {
    /// Service account namespace.
    pub namespace: String,
    /// Service account name.
    pub name: String,
    /// Service account UID.
    pub uid: String,
    /// Audiences (`aud`).
    pub audiences: Vec<String>,
    /// Issue time, seconds since the epoch.
    pub issued_at: i64,
    /// Lifetime in seconds.
    pub expiration_seconds: i64,
    /// `kubernetes.io.warnafter`: the lifetime the requester asked for, when it was extended.
    pub warn_after: Option<i64>,
    /// Bound pod.
    pub pod: Option<BoundRef>,
    /// Bound secret.
    pub secret: Option<BoundRef>,
    /// Node: the bound node, or the node of the bound pod.
    pub node: Option<BoundRef>,
}

impl TokenClaims {
    /// The JWT claims set, shaped as kube-apiserver's bound service account tokens.
    pub fn to_json(&self) -> Value {
        let mut k8s = json!({
            "namespace": self.namespace,
            "serviceaccount": {"name": self.name, "uid": self.uid},
        });
        let refs = [
            ("pod", &self.pod),
            ("secret", &self.secret),
            ("node", &self.node),
        ];
        for (key, r) in refs {
            if let Some(r) = r {
                k8s[key] = json!({"name": r.name, "uid": r.uid});
            }
        }
        if let Some(w) = self.warn_after {
            k8s["warnafter"] = json!(self.issued_at + w);
        }
        json!({
            "aud": self.audiences,
            "exp": self.issued_at + self.expiration_seconds,
            "iat": self.issued_at,
            "iss": ISSUER,
            "jti": uuid::Uuid::new_v4().to_string(),
            "kubernetes.io": k8s,
            "nbf": self.issued_at,
            "sub": format!("system:serviceaccount:{}:{}", self.namespace, self.name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_persist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = TokenSigner::ensure(dir.path()).expect("generate");
        let claims = TokenClaims {
            namespace: "ns".into(),
            name: "sa".into(),
            uid: "u1".into(),
            audiences: vec![ISSUER.into()],
            issued_at: 1000,
            expiration_seconds: 3600,
            warn_after: None,
            pod: Some(BoundRef {
                name: "p".into(),
                uid: "pu".into(),
            }),
            secret: None,
            node: None,
        }
        .to_json();
        let token = a.sign(&claims).expect("sign");
        let back = a.verify(&token).expect("verifies");
        assert_eq!(back["sub"], "system:serviceaccount:ns:sa");
        assert_eq!(back["exp"], 4600);
        assert_eq!(back["kubernetes.io"]["pod"]["uid"], "pu");
        // The same key is loaded on the next start.
        let again = TokenSigner::ensure(dir.path()).expect("load");
        assert!(again.verify(&token).is_some());
        // Another key, a tampered payload or garbage do not verify.
        let other = TokenSigner::ephemeral().expect("other");
        assert!(other.verify(&token).is_none());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(claims.to_string().replace("ns", "kube-system"));
        parts[1] = &forged;
        assert!(a.verify(&parts.join(".")).is_none());
        assert!(a.verify("not-a-jwt").is_none());
    }
}
