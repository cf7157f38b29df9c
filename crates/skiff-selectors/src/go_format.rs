//! Go-compatible rendering of values inside error messages.
//!
//! Selector errors embed the offending value the way Go prints it
//! (`%q` for strings, `encoding/json` for string slices, `Invalid value`
//! field errors aggregated with `[a, b]`). Clients show these messages
//! verbatim, so we reproduce the formatting rather than Rust's `Debug`.

/// Quote `s` like Go's `strconv.Quote` (`%q`).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Render a string as Go's `encoding/json` does (HTML-safe escaping included).
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Render a string slice as Go's `json.Marshal([]string)`; an empty slice is `null`
/// because upstream builds the slice with `append([]string(nil), ...)`.
pub(crate) fn go_json_strings(values: &[String]) -> String {
    if values.is_empty() {
        return "null".to_string();
    }
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json_string(v, &mut out);
    }
    out.push(']');
    out
}

/// One `field.Invalid` error: `<path>: Invalid value: <value>: <detail>`.
pub(crate) fn invalid(path: &str, rendered_value: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{path}: Invalid value: {rendered_value}")
    } else {
        format!("{path}: Invalid value: {rendered_value}: {detail}")
    }
}

/// Join messages like `field.ErrorList.ToAggregate().Error()`: duplicates
/// dropped, one message bare, several as `[a, b]`.
pub(crate) fn aggregate(messages: Vec<String>) -> Option<String> {
    let mut unique: Vec<String> = Vec::with_capacity(messages.len());
    for m in messages {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go_strconv_quote() {
        let cases = [
            ("abc", r#""abc""#),
            ("a\"b", r#""a\"b""#),
            ("a\\b", r#""a\\b""#),
            ("tab\there", r#""tab\there""#),
            ("nul\u{0}", r#""nul\x00""#),
            ("del\u{7f}", r#""del\x7f""#),
            ("héllo", r#""héllo""#),
            ("\u{85}", r#""\u0085""#),
        ];
        for (input, want) in cases {
            assert_eq!(go_quote(input), want, "input {input:?}");
        }
    }

    #[test]
    fn json_strings_match_go_marshal() {
        let cases: [(&[&str], &str); 4] = [
            (&[], "null"),
            (&["a"], r#"["a"]"#),
            (&["a", "b"], r#"["a","b"]"#),
            (&["<&>", "x\ny"], r#"["\u003c\u0026\u003e","x\ny"]"#),
        ];
        for (input, want) in cases {
            let owned: Vec<String> = input.iter().map(|s| s.to_string()).collect();
            assert_eq!(go_json_strings(&owned), want);
        }
    }

    #[test]
    fn aggregate_dedups_and_brackets() {
        assert_eq!(aggregate(vec![]), None);
        assert_eq!(aggregate(vec!["a".into()]), Some("a".into()));
        assert_eq!(aggregate(vec!["a".into(), "a".into()]), Some("a".into()));
        assert_eq!(
            aggregate(vec!["a".into(), "b".into(), "a".into()]),
            Some("[a, b]".into())
        );
    }
}
