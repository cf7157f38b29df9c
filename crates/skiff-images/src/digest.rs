//! Content digests (`sha256:<hex>`) and their verification.

use sha2::{Digest as _, Sha256};

/// A validated sha256 content digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// The text was not a `sha256:<64 hex>` digest.
#[derive(Debug, thiserror::Error)]
#[error("invalid digest {0:?} (only sha256 is supported)")]
pub struct BadDigest(pub String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest, BadDigest> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| BadDigest(s.to_string()))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(BadDigest(s.to_string()));
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(data))
    }

    /// The digest a finished hasher holds.
    pub fn from_hasher(h: Sha256) -> Digest {
        let out = h.finalize();
        let hex = out.iter().map(|b| format!("{b:02x}")).collect();
        Digest { hex }
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(Digest::parse("sha256:E3B0").is_err());
        assert!(Digest::parse("md5:e3b0").is_err());
    }
}
