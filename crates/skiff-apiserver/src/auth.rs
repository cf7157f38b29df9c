//! Authentication: x509 client certificates (CN = user, O = groups) and bearer tokens from a
//! static token file. Anonymous requests are refused. Every authenticated user is, until RBAC
//! lands, an administrator.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// An authenticated user.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// User name (certificate CN or token file user).
    pub name: String,
    /// Group memberships; `system:authenticated` is always added.
    pub groups: Vec<String>,
    /// UID from the token file, if any.
    pub uid: String,
    /// Extra attributes (service account tokens: bound pod and node, credential id).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    fn new(name: String, mut groups: Vec<String>, uid: String) -> User {
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        User {
            name,
            groups,
            uid,
            extra: BTreeMap::new(),
        }
    }

    /// The user of service account `ns/name`, in upstream's groups.
    pub fn service_account(ns: &str, name: &str, uid: String) -> User {
        User::new(
            format!("system:serviceaccount:{ns}:{name}"),
            vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ],
            uid,
        )
    }
}

/// Errors reading the token file.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token file could not be read.
    #[error("reading token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the token file is malformed.
    #[error("token file {path} line {line}: expected token,user,uid[,\"group1,group2\"]")]
    Malformed {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
    },
}

/// Static bearer tokens, in kube-apiserver's `--token-auth-file` CSV format:
/// `token,user,uid,"group1,group2"`.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_token: HashMap<String, User>,
}

impl Tokens {
    /// Load a token file.
    pub fn load(path: &Path) -> Result<Tokens, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Tokens::parse(&text).map_err(|line| AuthError::Malformed {
            path: path.display().to_string(),
            line,
        })
    }

    /// Parse token file text; Err(line) names the first bad line.
    pub fn parse(text: &str) -> Result<Tokens, usize> {
        let mut by_token = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            if fields.len() < 3 || fields[0].is_empty() || fields[1].is_empty() {
                return Err(i + 1);
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            by_token.insert(
                fields[0].clone(),
                User::new(fields[1].clone(), groups, fields[2].clone()),
            );
        }
        Ok(Tokens { by_token })
    }

    /// Add one token.
    pub fn insert(&mut self, token: &str, user: &str, groups: &[&str]) {
        let u = User::new(
            user.into(),
            groups.iter().map(|s| s.to_string()).collect(),
            String::new(),
        );
        self.by_token.insert(token.to_string(), u);
    }

    /// The user a bearer token belongs to.
    pub fn lookup(&self, token: &str) -> Option<&User> {
        self.by_token.get(token)
    }
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

/// The user named by a verified client certificate (DER): CN = name, O = groups.
pub fn user_from_certificate(der: &[u8]) -> Option<User> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(str::to_string)
        .collect();
    Some(User::new(name, groups, String::new()))
}

/// The token in an `Authorization: Bearer <token>` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
        Some(token.trim())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_parses_groups() {
        let t = Tokens::parse("# comment\nabc,alice,1,\"dev,ops\"\nxyz,bob,2\n").expect("parses");
        let a = t.lookup("abc").expect("alice");
        assert_eq!(a.name, "alice");
        assert_eq!(a.groups, vec!["dev", "ops", "system:authenticated"]);
        assert_eq!(t.lookup("xyz").map(|u| u.uid.as_str()), Some("2"));
        assert!(t.lookup("nope").is_none());
        assert_eq!(Tokens::parse("onlytoken\n").err(), Some(1));
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
