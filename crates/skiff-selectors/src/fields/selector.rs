//! The field selector: parsing with backslash escapes, matching and text form.

use std::fmt;

use serde_json::Value;

use super::resources::{convert_field_label, selectable_value};
use crate::SelectorError;

/// A field selector comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOp {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One `field op value` term; the value is unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field label as sent, e.g. `status.phase`.
    pub field: String,
    /// The comparison.
    pub op: FieldOp,
    /// The literal value to compare with (escapes removed).
    pub value: String,
}

/// A parsed field selector (`metadata.name=x,status.phase!=Succeeded`).
///
/// Terms are ANDed; a selector with no terms matches everything. Terms are
/// kept in upstream's order (sorted by their raw text), which decides which
/// unsupported field is reported first and what [`FieldSelector::exact_name`]
/// sees.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Split on unescaped commas; escaped characters stay escaped in the terms.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Split a term at the first operator; `!=` then `==` then `=` is tried at
/// each position so `a==b` never leaves `=b` as the value. The left side
/// supports no escaping.
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (spelling, op) in [
            ("!=", FieldOp::NotEquals),
            ("==", FieldOp::Equals),
            ("=", FieldOp::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(spelling) {
                return Some((&term[..i], op, value));
            }
        }
    }
    None
}

fn syntax_error(message: String) -> SelectorError {
    SelectorError::FieldSelector { message }
}

/// Remove `\\`, `\,` and `\=` escapes; any other escape, a trailing
/// backslash, or a bare `,`/`=` is an error (upstream `UnescapeValue`).
fn unescape_value(s: &str) -> Result<String, SelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(syntax_error(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )))
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the rune with %v, i.e. as its code point number.
            ',' | '=' => {
                return Err(syntax_error(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )))
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err(syntax_error(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

/// Escape `\`, `,` and `=` for the text form (upstream `EscapeValue`).
fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl FieldSelector {
    /// Parse a field selector (`=`, `==`, `!=`; `\` escapes `,`, `=` and `\`
    /// in values), as upstream `fields.ParseSelector`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let mut terms = Vec::with_capacity(parts.len());
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((field, op, raw)) = split_term(part) else {
                return Err(syntax_error(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(raw)?;
            // Upstream's identity transform drops a term whose field and
            // value are both empty (the selector "=").
            if field.is_empty() && value.is_empty() {
                continue;
            }
            terms.push(FieldTerm {
                field: field.to_string(),
                op,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// The selector that matches everything.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// True when there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, in upstream order.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// Check every field is supported for this resource (`group` is `""` for
    /// core). The first unsupported field is reported with upstream's text,
    /// e.g. `field label not supported: foo`; callers answer 400 BadRequest.
    pub fn validate_for(&self, group: &str, resource: &str) -> Result<(), SelectorError> {
        for t in &self.terms {
            convert_field_label(group, resource, &t.field).map_err(|message| {
                SelectorError::UnsupportedField {
                    field: t.field.clone(),
                    message,
                }
            })?;
        }
        Ok(())
    }

    /// Whether the object matches. Fields are read as upstream's GetAttrs
    /// exposes them; a field the resource does not expose reads as "", so
    /// call [`FieldSelector::validate_for`] first to reject such selectors.
    pub fn matches(&self, group: &str, resource: &str, obj: &Value) -> bool {
        self.terms.iter().all(|t| {
            let canonical =
                convert_field_label(group, resource, &t.field).unwrap_or_else(|_| t.field.clone());
            let have = selectable_value(group, resource, obj, &canonical).unwrap_or_default();
            match t.op {
                FieldOp::Equals => have == t.value,
                FieldOp::NotEquals => have != t.value,
            }
        })
    }

    /// If a term pins `field` with `=`/`==`, its value (the first such term,
    /// as upstream `RequiresExactMatch`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.op == FieldOp::Equals && t.field == field)
            .map(|t| t.value.as_str())
    }

    /// If the selector pins `metadata.name` with `=`, that name (lets the
    /// caller do a point lookup; it must still apply the other terms).
    pub fn exact_name(&self) -> Option<&str> {
        self.requires_exact_match("metadata.name")
    }
}

impl fmt::Display for FieldSelector {
    /// Upstream `String()`: `field=value` / `field!=value` with escaped values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match t.op {
                FieldOp::Equals => "=",
                FieldOp::NotEquals => "!=",
            };
            write!(f, "{}{op}{}", t.field, escape_value(&t.value))?;
        }
        Ok(())
    }
}
