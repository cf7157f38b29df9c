//! RFC 7386 JSON merge patch (`application/merge-patch+json`).

use serde_json::{Map, Value};

/// Applies an RFC 7386 merge patch to `doc`.
///
/// A non-object patch replaces the document; `null` members delete keys; objects merge
/// recursively; everything else (including arrays) replaces.
pub fn apply(doc: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match doc {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.shift_remove(key);
            continue;
        }
        let merged = apply(target.get(key).unwrap_or(&Value::Null), value);
        target.insert(key.clone(), merged);
    }
    Value::Object(target)
}

#[cfg(test)]
mod tests {
    use super::apply;
    use serde_json::json;

    #[test]
    fn rfc7386_appendix_a_examples() {
        // The test vectors from RFC 7386 Appendix A.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (doc, patch, want) in cases {
            assert_eq!(apply(&doc, &patch), want, "{doc} + {patch}");
        }
    }

    #[test]
    fn kubectl_label_patch_keeps_key_order() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2", "c": "3"}}});
        let got = apply(
            &doc,
            &json!({"metadata": {"labels": {"a": null, "b": "x"}}}),
        );
        let keys: Vec<&String> = got["metadata"]["labels"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["b", "c"]);
        assert_eq!(got["metadata"]["labels"]["b"], "x");
    }
}
