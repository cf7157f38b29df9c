//! The simple JSONPath subset CRD printer columns use (client-go `jsonpath` with
//! AllowMissingKeys): `.a.b`, `.a[0].b`, `.a[-1]`, `.a[*].b`, `.a.*`,
//! `.a['dotted.key']`, and `\.` escapes inside field names.

use serde_json::Value;

use crate::error::PrinterError;

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Object member; "" selects the current value (client-go's `{.}`).
    Field(String),
    /// Array element; negative counts from the end.
    Index(i64),
    /// Every array element or object member value.
    Wildcard,
}

/// A parsed simple JSONPath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    source: String,
    steps: Vec<Step>,
}

/// Evaluation stopped on an error (client-go returns an error; cells become null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EvalError;

/// Characters that end a dotted field name (client-go parser's isTerminator).
fn is_terminator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

impl JsonPath {
    /// Parses a CRD `jsonPath` such as `.status.replicas`.
    pub fn parse(path: &str) -> Result<Self, PrinterError> {
        let err = |reason: &str| PrinterError::InvalidJsonPath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let chars: Vec<char> = path.chars().collect();
        let mut i = 0;
        let mut steps = Vec::new();
        if chars.first() == Some(&'$') {
            i = 1;
        }
        if i >= chars.len() {
            return Err(err("empty path"));
        }
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    i += 1;
                    if chars.get(i) == Some(&'.') {
                        return Err(err("recursive descent is not supported"));
                    }
                    let mut field = String::new();
                    while i < chars.len() && !is_terminator(chars[i]) {
                        if chars[i] == '\\' && i + 1 < chars.len() {
                            i += 1;
                        }
                        field.push(chars[i]);
                        i += 1;
                    }
                    if field == "*" {
                        steps.push(Step::Wildcard);
                    } else {
                        steps.push(Step::Field(field));
                    }
                }
                '[' => {
                    let start = i + 1;
                    let mut j = start;
                    let mut quote: Option<char> = None;
                    while j < chars.len() {
                        match (quote, chars[j]) {
                            (None, '\'' | '"') => quote = Some(chars[j]),
                            (Some(q), c) if c == q => quote = None,
                            (None, ']') => break,
                            _ => {}
                        }
                        j += 1;
                    }
                    if j >= chars.len() {
                        return Err(err("unclosed ["));
                    }
                    let inner: String = chars[start..j].iter().collect();
                    let inner = inner.trim();
                    let step = if inner == "*" {
                        Step::Wildcard
                    } else if let Ok(n) = inner.parse::<i64>() {
                        Step::Index(n)
                    } else if inner.len() >= 2
                        && ((inner.starts_with('\'') && inner.ends_with('\''))
                            || (inner.starts_with('"') && inner.ends_with('"')))
                    {
                        Step::Field(inner[1..inner.len() - 1].to_string())
                    } else {
                        return Err(err(&format!("unsupported subscript [{inner}]")));
                    };
                    steps.push(step);
                    i = j + 1;
                }
                c => return Err(err(&format!("unexpected {c:?} at offset {i}"))),
            }
        }
        Ok(JsonPath {
            source: path.to_string(),
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every value the path selects, in document order (FindResults' first list).
    pub(crate) fn find<'a>(&self, root: &'a Value) -> Result<Vec<&'a Value>, EvalError> {
        let mut cur: Vec<&'a Value> = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in cur {
                match step {
                    Step::Field(f) if f.is_empty() => next.push(v),
                    Step::Field(f) => {
                        // A present null is still a result; later steps skip it.
                        if let Some(x) = v.as_object().and_then(|m| m.get(f.as_str())) {
                            next.push(x);
                        }
                    }
                    Step::Index(n) => match v {
                        Value::Null => {}
                        Value::Array(items) => {
                            if items.is_empty() {
                                continue;
                            }
                            let len = items.len() as i64;
                            let idx = if *n < 0 { n + len } else { *n };
                            if idx < 0 || idx >= len {
                                return Err(EvalError);
                            }
                            next.push(&items[idx as usize]);
                        }
                        _ => return Err(EvalError),
                    },
                    Step::Wildcard => match v {
                        Value::Array(items) => next.extend(items.iter()),
                        Value::Object(m) => next.extend(m.values()),
                        _ => {}
                    },
                }
            }
            cur = next;
        }
        Ok(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_values_like_client_go() {
        let obj = json!({
            "spec": {"replicas": 3, "items": [{"name": "a"}, {"name": "b"}, {"other": 1}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
            "status": {"phase": null}
        });
        let cases: &[(&str, Vec<Value>)] = &[
            (".spec.replicas", vec![json!(3)]),
            (".spec.items[0].name", vec![json!("a")]),
            (".spec.items[-1].other", vec![json!(1)]),
            (".spec.items[*].name", vec![json!("a"), json!("b")]),
            (
                ".metadata.labels['app.kubernetes.io/name']",
                vec![json!("web")],
            ),
            (
                ".metadata.labels.app\\.kubernetes\\.io/name",
                vec![json!("web")],
            ),
            (".spec.missing.deeper", vec![]),
            (".status.phase", vec![json!(null)]),
            (".status.phase.x", vec![]),
        ];
        for (path, want) in cases {
            let p = JsonPath::parse(path).expect(path);
            let got: Vec<Value> = p.find(&obj).expect(path).into_iter().cloned().collect();
            assert_eq!(&got, want, "{path}");
        }
        // Out-of-range indexes and indexing a non-array are errors upstream.
        assert!(JsonPath::parse(".spec.items[5]")
            .expect("parse")
            .find(&obj)
            .is_err());
        assert!(JsonPath::parse(".spec.replicas[0]")
            .expect("parse")
            .find(&obj)
            .is_err());
    }

    #[test]
    fn rejects_unsupported_syntax() {
        for bad in ["", "spec", ".spec..x", ".a[?(@.x)]", ".a[0", ".a b"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
