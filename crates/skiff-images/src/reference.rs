//! Image references, normalized the way docker does (`busybox` →
//! `docker.io/library/busybox:latest`).

use skiff_cri::ImageError;

/// The registry that names without a registry part belong to.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed, normalized image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (with port), e.g. `docker.io`, `reg:5000`.
    pub registry: String,
    /// Repository path in the registry, e.g. `library/busybox`.
    pub repository: String,
    /// Tag, if any (`latest` when neither tag nor digest was given).
    pub tag: Option<String>,
    /// Digest (`sha256:...`), if the reference pins one.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalizes a reference.
    pub fn parse(input: &str) -> Result<Reference, ImageError> {
        let invalid = |why: &str| ImageError::Invalid(format!("reference {input:?}: {why}"));
        let s = input.trim();
        if s.is_empty() {
            return Err(invalid("empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                crate::digest::Digest::parse(d).map_err(|_| invalid("bad digest"))?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' only if no '/' follows it (else it is a port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                && !t.starts_with(['.', '-']);
            if !ok {
                return Err(invalid("bad tag"));
            }
        }
        // The first component is a registry if it looks like a host (docker's rule).
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty()
            || repository.split('/').any(|c| {
                c.is_empty()
                    || !c.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch)
                    })
            })
        {
            return Err(invalid("bad repository name"));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What the registry's manifest endpoint takes: the digest if pinned, else the tag.
    pub fn object(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let table = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("user/app", "docker.io/user/app:latest"),
            ("index.docker.io/library/x:1", "docker.io/library/x:1"),
            ("reg:5000/app:v1", "reg:5000/app:v1"),
            ("reg:5000/team/app", "reg:5000/team/app:latest"),
            ("localhost/app", "localhost/app:latest"),
            ("quay.io/a/b:c", "quay.io/a/b:c"),
            (
                "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "docker.io/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ),
        ];
        for (input, want) in table {
            assert_eq!(
                Reference::parse(input).unwrap().to_string(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "Busybox", "a//b", "x:", "x@sha256:zz", "a:b c"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_prefers_digest() {
        let d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        let r = Reference::parse(&format!("a:1@{d}")).unwrap();
        assert_eq!(r.object(), d);
        assert_eq!(Reference::parse("a").unwrap().object(), "latest");
    }
}
