use serde_json::{json, Value};

use super::apply;
use crate::PatchError;

#[test]
fn operations_apply_as_rfc6902_says() {
    let doc =
        json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [1, 2, 3]}});
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "add member",
            json!([{"op": "add", "path": "/spec/x", "value": 5}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [1, 2, 3], "x": 5}}),
        ),
        (
            "add replaces existing member",
            json!([{"op": "add", "path": "/spec/list", "value": []}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": []}}),
        ),
        (
            "add inserts at index",
            json!([{"op": "add", "path": "/spec/list/1", "value": 9}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [1, 9, 2, 3]}}),
        ),
        (
            "add at len appends",
            json!([{"op": "add", "path": "/spec/list/3", "value": 9}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [1, 2, 3, 9]}}),
        ),
        (
            "add dash appends",
            json!([{"op": "add", "path": "/spec/list/-", "value": 9}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [1, 2, 3, 9]}}),
        ),
        (
            "remove escaped ~1",
            json!([{"op": "remove", "path": "/metadata/labels/a~1b"}]),
            json!({"metadata": {"labels": {"m~n": "2"}}, "spec": {"list": [1, 2, 3]}}),
        ),
        (
            "replace escaped ~0",
            json!([{"op": "replace", "path": "/metadata/labels/m~0n", "value": "3"}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "3"}}, "spec": {"list": [1, 2, 3]}}),
        ),
        (
            "remove array element",
            json!([{"op": "remove", "path": "/spec/list/0"}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [2, 3]}}),
        ),
        (
            "move",
            json!([{"op": "move", "from": "/spec/list", "path": "/spec/moved"}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"moved": [1, 2, 3]}}),
        ),
        (
            "copy",
            json!([{"op": "copy", "from": "/spec/list/2", "path": "/spec/list/0"}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [3, 1, 2, 3]}}),
        ),
        (
            "test then replace",
            json!([{"op": "test", "path": "/spec/list/1", "value": 2.0},
                                     {"op": "replace", "path": "/spec/list/1", "value": 7}]),
            json!({"metadata": {"labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [1, 7, 3]}}),
        ),
        (
            "replace root",
            json!([{"op": "replace", "path": "", "value": {"a": 1}}]),
            json!({"a": 1}),
        ),
        ("empty patch", json!([]), doc.clone()),
    ];
    for (name, patch, want) in cases {
        let got = apply(&doc, &patch).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn failing_operations_are_errors_and_leave_no_partial_result() {
    let doc = json!({"spec": {"list": [1, 2], "n": 1}});
    let cases: Vec<(&str, Value, fn(&PatchError) -> bool)> = vec![
        (
            "remove missing key",
            json!([{"op": "remove", "path": "/spec/nope"}]),
            |e| matches!(e, PatchError::OperationFailed { .. }),
        ),
        (
            "replace missing key",
            json!([{"op": "replace", "path": "/spec/nope", "value": 1}]),
            |e| matches!(e, PatchError::OperationFailed { .. }),
        ),
        (
            "add under missing parent",
            json!([{"op": "add", "path": "/a/b", "value": 1}]),
            |e| matches!(e, PatchError::OperationFailed { .. }),
        ),
        (
            "add index past end",
            json!([{"op": "add", "path": "/spec/list/5", "value": 1}]),
            |e| matches!(e, PatchError::OperationFailed { .. }),
        ),
        (
            "leading zero index",
            json!([{"op": "replace", "path": "/spec/list/01", "value": 1}]),
            |e| matches!(e, PatchError::OperationFailed { .. }),
        ),
        (
            "test mismatch",
            json!([{"op": "test", "path": "/spec/n", "value": 2}]),
            |e| matches!(e, PatchError::TestFailed { .. }),
        ),
        (
            "bad escape",
            json!([{"op": "remove", "path": "/spec/~2"}]),
            |e| matches!(e, PatchError::InvalidPointer { .. }),
        ),
        (
            "pointer without slash",
            json!([{"op": "remove", "path": "spec"}]),
            |e| matches!(e, PatchError::InvalidPointer { .. }),
        ),
        (
            "unknown op",
            json!([{"op": "frobnicate", "path": "/spec"}]),
            |e| matches!(e, PatchError::InvalidPatch(_)),
        ),
        (
            "missing value",
            json!([{"op": "add", "path": "/spec/x"}]),
            |e| matches!(e, PatchError::InvalidPatch(_)),
        ),
        ("not an array", json!({"op": "add"}), |e| {
            matches!(e, PatchError::InvalidPatch(_))
        }),
        (
            "move into own child",
            json!([{"op": "move", "from": "/spec", "path": "/spec/x"}]),
            |e| matches!(e, PatchError::OperationFailed { .. }),
        ),
        (
            "second op fails",
            json!([{"op": "add", "path": "/spec/x", "value": 1},
                                   {"op": "remove", "path": "/nope"}]),
            |e| matches!(e, PatchError::OperationFailed { .. }),
        ),
    ];
    for (name, patch, check) in cases {
        match apply(&doc, &patch) {
            Ok(v) => panic!("{name}: expected an error, got {v}"),
            Err(e) => assert!(check(&e), "{name}: unexpected error {e:?}"),
        }
    }
}

#[test]
fn error_messages_name_the_operation_and_path() {
    let err = apply(
        &json!({}),
        &json!([{"op": "remove", "path": "/spec/replicas"}]),
    )
    .expect_err("missing path must fail");
    let msg = err.to_string();
    assert!(msg.contains("remove operation does not apply"), "{msg}");
    assert!(msg.contains("/spec/replicas"), "{msg}");
}
