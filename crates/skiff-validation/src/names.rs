//! String-format validators mirroring `k8s.io/apimachinery/pkg/util/validation`.
//!
//! Each returns the list of upstream messages (empty = valid), so callers can wrap
//! them in `FieldError::invalid` exactly as upstream does.

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const PERCENT_FMT: &str = "[0-9]+%";
const PERCENT_MSG: &str =
    "a valid percent string must be a numeric string followed by an ending '%'";

/// Maximum length of a DNS-1123 label.
pub const DNS1123_LABEL_MAX: usize = 63;
/// Maximum length of a DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;

/// Upstream `MaxLenError`.
pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// Upstream `RegexError`: message, examples and the regex.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(ex);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(fmt);
    s.push_str("')");
    s
}

/// Upstream `InclusiveRangeError`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

fn matches_qualified_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// DNS-1123 label (Namespace names, container names, port names of services).
pub fn validate_dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX));
    }
    if !matches_dns1123_label(s) {
        if matches_dns1123_subdomain(s) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// DNS-1123 subdomain (most object names).
pub fn validate_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if !matches_dns1123_subdomain(s) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// DNS-1035 label (Service names, CRD version names).
pub fn validate_dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX));
    }
    let ok = matches_dns1123_label(s) && s.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    if !ok {
        errs.push(regex_error(
            DNS1035_LABEL_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Path-segment names (RBAC objects, PersistentVolumes, HPAs): not `.`/`..`, no `/` or `%`.
pub fn validate_path_segment_name(s: &str) -> Vec<String> {
    for bad in [".", ".."] {
        if s == bad {
            return vec![format!("may not be '{bad}'")];
        }
    }
    ["/", "%"]
        .iter()
        .filter(|c| s.contains(*c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// Qualified names (label keys, annotation keys, finalizers): `[prefix/]name`.
pub fn validate_qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(validate_dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            )]
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > DNS1123_LABEL_MAX {
        errs.push(format!("name part {}", max_len_error(DNS1123_LABEL_MAX)));
    }
    if !matches_qualified_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Label keys are qualified names.
pub fn validate_label_key(s: &str) -> Vec<String> {
    validate_qualified_name(s)
}

/// Label values: empty or a short qualified-name-like string.
pub fn validate_label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX));
    }
    if !s.is_empty() && !matches_qualified_name(s) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

fn chdir_prefix(s: &str) -> Option<String> {
    match s {
        "." => Some("must not be '.'".to_string()),
        ".." => Some("must not be '..'".to_string()),
        _ if s.starts_with("..") => Some("must not start with '..'".to_string()),
        _ => None,
    }
}

/// ConfigMap / Secret data keys.
pub fn validate_config_map_key(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    let ok = !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if !ok {
        errs.push(regex_error(
            CONFIG_KEY_MSG,
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(chdir_prefix(s));
    errs
}

/// Environment variable names, with the v1.33 default RelaxedEnvironmentVariableValidation
/// rule: any printable ASCII except `=`.
pub fn validate_env_var_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if s.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='".to_string());
    }
    errs
}

/// IANA_SVC_NAME port names: at most 15 chars of `[-a-z0-9]`, one letter, no `--`, no edge `-`.
pub fn validate_port_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 15 {
        errs.push(max_len_error(15));
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Port numbers 1..=65535.
pub fn validate_port_num(p: i64) -> Vec<String> {
    if (1..=65535).contains(&p) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// Percent strings like `25%`.
pub fn validate_percent(s: &str) -> Vec<String> {
    let ok =
        s.len() > 1 && s.ends_with('%') && s[..s.len() - 1].bytes().all(|c| c.is_ascii_digit());
    if ok {
        Vec::new()
    } else {
        vec![regex_error(PERCENT_MSG, PERCENT_FMT, &["1%", "93%"])]
    }
}

/// Whether the string parses as an IPv4 or IPv6 address.
pub fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Wildcard subdomains like `*.example.com` (Ingress hosts).
pub fn validate_wildcard_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    let ok = s.strip_prefix("*.").is_some_and(matches_dns1123_subdomain);
    if !ok {
        errs.push(regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
            &format!("\\*\\.{DNS1123_SUBDOMAIN_FMT}"),
            &["*.example.com"],
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_label_table() {
        let cases: &[(&str, usize)] = &[
            ("a", 0),
            ("my-name", 0),
            ("123-abc", 0),
            ("", 1),
            ("-a", 1),
            ("a-", 1),
            ("A", 1),
            ("a.b", 1),
            ("a_b", 1),
        ];
        for (s, n) in cases {
            assert_eq!(validate_dns1123_label(s).len(), *n, "{s}");
        }
        assert_eq!(validate_dns1123_label("a.b"), vec!["must not contain dots"]);
        assert_eq!(
            validate_dns1123_label("Foo"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
        );
        assert_eq!(
            validate_dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn dns1123_subdomain_table() {
        let cases: &[(&str, bool)] = &[
            ("example.com", true),
            ("a", true),
            ("a..b", false),
            (".a", false),
            ("Foo_Bar", false),
            ("a-.b", false),
        ];
        for (s, ok) in cases {
            assert_eq!(validate_dns1123_subdomain(s).is_empty(), *ok, "{s}");
        }
        assert_eq!(
            validate_dns1123_subdomain("Foo_Bar"),
            vec!["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
        );
        assert_eq!(validate_dns1123_subdomain(&"a".repeat(254)).len(), 1);
    }

    #[test]
    fn dns1035_table() {
        let cases: &[(&str, bool)] = &[
            ("web", true),
            ("1web", false),
            ("web-1", true),
            ("Web", false),
            ("", false),
        ];
        for (s, ok) in cases {
            assert_eq!(validate_dns1035_label(s).is_empty(), *ok, "{s}");
        }
    }

    #[test]
    fn qualified_name_table() {
        let cases: &[(&str, bool)] = &[
            ("app", true),
            ("app.kubernetes.io/name", true),
            ("MyName", true),
            ("a/b/c", false),
            ("/a", false),
            ("a/", false),
            ("-a", false),
            ("Example.com/a", false),
        ];
        for (s, ok) in cases {
            assert_eq!(validate_qualified_name(s).is_empty(), *ok, "{s}");
        }
        assert_eq!(
            validate_qualified_name("/a"),
            vec!["prefix part must be non-empty"]
        );
        assert_eq!(
            validate_qualified_name("a/")[0],
            "name part must be non-empty"
        );
    }

    #[test]
    fn label_value_table() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("v1", true),
            ("my_value", true),
            ("-x", false),
            ("a b", false),
        ];
        for (s, ok) in cases {
            assert_eq!(validate_label_value(s).is_empty(), *ok, "{s}");
        }
        assert_eq!(
            validate_label_value(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn config_key_table() {
        let cases: &[(&str, usize)] = &[
            ("key.name", 0),
            ("KEY_NAME", 0),
            ("a/b", 1),
            ("", 1),
            ("..a", 1),
            (".", 1),
        ];
        for (s, n) in cases {
            assert_eq!(validate_config_map_key(s).len(), *n, "{s}");
        }
    }

    #[test]
    fn misc_formats() {
        assert!(validate_env_var_name("MY_VAR.1-x").is_empty());
        assert!(
            validate_env_var_name("1abc").is_empty(),
            "relaxed rule allows a leading digit"
        );
        assert_eq!(validate_env_var_name("A=B").len(), 1);
        assert!(validate_port_name("http").is_empty());
        assert_eq!(
            validate_port_name("8080"),
            vec!["must contain at least one letter (a-z)"]
        );
        assert_eq!(
            validate_port_name("a--b"),
            vec!["must not contain consecutive hyphens"]
        );
        assert_eq!(
            validate_port_num(0),
            vec!["must be between 1 and 65535, inclusive"]
        );
        assert!(validate_percent("25%").is_empty());
        assert_eq!(validate_percent("25").len(), 1);
        assert_eq!(validate_path_segment_name(".."), vec!["may not be '..'"]);
        assert_eq!(
            validate_path_segment_name("a/b%"),
            vec!["may not contain '/'", "may not contain '%'"]
        );
        assert!(validate_path_segment_name("system:controller:x").is_empty());
        assert!(validate_wildcard_dns1123_subdomain("*.example.com").is_empty());
        assert!(!validate_wildcard_dns1123_subdomain("*.*.example.com").is_empty());
    }
}
