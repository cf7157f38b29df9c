use serde_json::{json, Value};

use super::apply;
use crate::meta::{FieldInfo, PatchMeta};
use crate::test_meta::PodMeta;
use crate::PatchError;

/// The schema of upstream's strategicpatch test type (`mergeItem`), by field name.
struct MergeItemMeta;

impl PatchMeta for MergeItemMeta {
    fn field(&self, path: &[&str]) -> FieldInfo {
        let strategy_key = |s: &str, k: Option<&str>| FieldInfo {
            patch_strategy: Some(s.to_owned()),
            patch_merge_key: k.map(str::to_owned),
            ..FieldInfo::default()
        };
        match path.last().copied() {
            Some("mergingList") => strategy_key("merge", Some("name")),
            Some("mergingIntList") => strategy_key("merge", None),
            Some("retainKeysMap") => strategy_key("retainKeys", None),
            Some("retainKeysMergingList") => strategy_key("merge,retainKeys", Some("name")),
            Some("replacingItem") => strategy_key("replace", None),
            _ => FieldInfo::default(),
        }
    }
}

fn run(meta: &dyn PatchMeta, cases: Vec<(&str, Value, Value, Value)>) {
    for (name, doc, patch, want) in cases {
        let got = apply(&doc, &patch, meta).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn upstream_merge_cases() {
    // Current + ThreeWay → Result pairs taken from upstream's patch_test.go.
    run(
        &MergeItemMeta,
        vec![
            (
                "nested patch merge with empty list",
                json!({"name": "hi", "mergingList": [{"name": "hello2"}]}),
                json!({"$setElementOrder/mergingList": [{"name": "hello"}, {"name": "doesntexist"}],
                "mergingList": [{"name": "hello"}]}),
                json!({"name": "hi", "mergingList": [{"name": "hello"}, {"name": "hello2"}]}),
            ),
            (
                "two-way patch with delete of a missing element on an absent list",
                json!({"name": "hi"}),
                json!({"mergingList": [{"name": "hello"}, {"$patch": "delete", "name": "doesntexist"}]}),
                json!({"name": "hi", "mergingList": [{"name": "hello"}]}),
            ),
            (
                "delete items in lists of scalars",
                json!({"mergingIntList": [1, 2, 3, 4]}),
                json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
                json!({"mergingIntList": [1, 2, 4]}),
            ),
            (
                "delete all duplicate items in lists of scalars",
                json!({"mergingIntList": [1, 2, 3, 3, 4]}),
                json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
                json!({"mergingIntList": [1, 2, 4]}),
            ),
            (
                "merge lists of maps",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
                json!({"$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}]}),
                json!({"mergingList": [{"name": 4, "value": 4}, {"name": 1, "other": "a"},
                                {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3}]}),
            ),
            (
                "add an item in a list of primitives and preserve order",
                json!({"mergingIntList": [1, 4, 2]}),
                json!({"$setElementOrder/mergingIntList": [3, 1, 2], "mergingIntList": [3]}),
                json!({"mergingIntList": [3, 1, 4, 2]}),
            ),
            (
                "set elements order in a list with server-only items",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 3, "value": 3}, {"name": 4, "value": 4},
                                {"name": 2, "value": 2}, {"name": 9}]}),
                json!({"$setElementOrder/mergingList": [{"name": 4}, {"name": 2}, {"name": 3}, {"name": 1}]}),
                json!({"mergingList": [{"name": 4, "value": 4}, {"name": 2, "value": 2}, {"name": 3, "value": 3},
                                {"name": 1, "other": "a"}, {"name": 9}]}),
            ),
            (
                "set elements order in a list with server-only items 2",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2}, {"name": 9},
                                {"name": 3, "value": 3}, {"name": 4, "value": 4}]}),
                json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]}),
                json!({"mergingList": [{"name": 2, "value": 2}, {"name": 1, "other": "a"}, {"name": 9},
                                {"name": 4, "value": 4}, {"name": 3, "value": 3}]}),
            ),
            (
                "set elements order in a list with server-only items 3",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2}, {"name": 7}, {"name": 9},
                                {"name": 8}, {"name": 3, "value": 3}, {"name": 4, "value": 4}]}),
                json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]}),
                json!({"mergingList": [{"name": 2, "value": 2}, {"name": 1, "other": "a"}, {"name": 7}, {"name": 9},
                                {"name": 8}, {"name": 4, "value": 4}, {"name": 3, "value": 3}]}),
            ),
            (
                "unique scalars when merging lists",
                json!({"mergingIntList": [1, 2]}),
                json!({"mergingIntList": [2, 3]}),
                json!({"mergingIntList": [1, 2, 3]}),
            ),
            (
                "delete map from nested map leaves an empty map",
                json!({"simpleMap": {"key1": 1, "key2": 1}}),
                json!({"simpleMap": {"$patch": "delete"}}),
                json!({"simpleMap": {}}),
            ),
            (
                "delete all items from merging list",
                json!({"mergingList": [{"name": 1}, {"name": 2}]}),
                json!({"mergingList": [{"$patch": "replace"}]}),
                json!({"mergingList": []}),
            ),
            (
                "replace list with the rest of the patch",
                json!({"mergingList": [{"name": 1, "a": 1}, {"name": 2}]}),
                json!({"mergingList": [{"$patch": "replace"}, {"name": 3, "b": null}, {"name": 1}]}),
                json!({"mergingList": [{"name": 3}, {"name": 1}]}),
            ),
            (
                "delete all keys from map",
                json!({"name": 1, "value": 1}),
                json!({"$patch": "replace"}),
                json!({}),
            ),
            (
                "add key and delete all keys from map",
                json!({"name": 1, "value": 1}),
                json!({"other": "a", "$patch": "replace"}),
                json!({"other": "a"}),
            ),
            (
                "delete all duplicate entries in a merging list",
                json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]}),
                json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]}),
                json!({"mergingList": [{"name": 2, "value": "a"}]}),
            ),
            (
                "$deleteFromPrimitiveList of nonexistent item does not add it",
                json!({"mergingIntList": [1, 2]}),
                json!({"$deleteFromPrimitiveList/mergingIntList": [5]}),
                json!({"mergingIntList": [1, 2]}),
            ),
            (
                "$deleteFromPrimitiveList on nonexistent list does not add the list",
                json!({}),
                json!({"$deleteFromPrimitiveList/mergingIntList": [5]}),
                json!({}),
            ),
            (
                "$deleteFromPrimitiveList works without merge strategy",
                json!({"nonMergingIntList": [1, 2, 3]}),
                json!({"$deleteFromPrimitiveList/nonMergingIntList": [2]}),
                json!({"nonMergingIntList": [1, 3]}),
            ),
            (
                "non-merging list is replaced",
                json!({"nonMergingList": [{"name": 1}, {"name": 2}]}),
                json!({"nonMergingList": [{"name": 3}]}),
                json!({"nonMergingList": [{"name": 3}]}),
            ),
            (
                "new merging element without order goes before server-only ones",
                json!({"mergingList": [{"name": "a"}, {"name": "b"}]}),
                json!({"mergingList": [{"name": "c"}]}),
                json!({"mergingList": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}),
            ),
            (
                "replace strategy on a map replaces it",
                json!({"replacingItem": {"a": 1, "b": 2}}),
                json!({"replacingItem": {"c": 3}}),
                json!({"replacingItem": {"c": 3}}),
            ),
            (
                "null deletes and unmatched nulls are ignored",
                json!({"a": 1, "b": {"c": 1, "d": 2}}),
                json!({"a": null, "x": null, "b": {"c": null, "e": {"f": null, "g": 1}}}),
                json!({"b": {"d": 2, "e": {"g": 1}}}),
            ),
            (
                "type change replaces the value",
                json!({"a": {"b": 1}}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
        ],
    );
}

#[test]
fn retain_keys_cases() {
    run(
        &MergeItemMeta,
        vec![
            (
                "retainKeys map should clear defaulted field",
                json!({"retainKeysMap": {"name": "foo", "value": "bar", "other": "a"}}),
                json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "baz"}}),
                json!({"retainKeysMap": {"name": "foo", "value": "baz"}}),
            ),
            (
                "retainKeys map clears a field via null",
                json!({"retainKeysMap": {"name": "foo", "value": "bar"}}),
                json!({"retainKeysMap": {"$retainKeys": ["name"], "value": null}}),
                json!({"retainKeysMap": {"name": "foo"}}),
            ),
            (
                "retainKeys in merging list element",
                json!({"retainKeysMergingList": [{"name": "a", "emptyDir": {}, "x": 1}]}),
                json!({"retainKeysMergingList": [{"name": "a", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/p"}}]}),
                json!({"retainKeysMergingList": [{"name": "a", "hostPath": {"path": "/p"}}]}),
            ),
        ],
    );
    let err = apply(
        &json!({"retainKeysMap": {"name": "foo"}}),
        &json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "x"}}),
        &MergeItemMeta,
    )
    .expect_err("a patched key missing from $retainKeys is invalid");
    assert_eq!(err.to_string(), "invalid patch format of retainKeys");
}

#[test]
fn kubectl_client_side_apply_patch() {
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "finalizers": ["x"], "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}, "stale": true},
            "template": {"spec": {"containers": [
                {"name": "side", "image": "busybox"},
                {"name": "web", "image": "nginx", "args": ["old"], "env": [{"name": "A", "value": "1"}]},
            ]}},
        },
    });
    let patch = json!({"metadata":{"finalizers":null},"spec":{"strategy":{"$retainKeys":["rollingUpdate","type"]},
        "template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"containers":[{"args":["a"],
        "env":null,"name":"web"},{"$patch":"delete","name":"side"}]}}}});
    let want = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx", "args": ["a"]}]}},
        },
    });
    let got = apply(&live, &patch, &PodMeta).expect("kubectl's patch applies");
    assert_eq!(got, want);
    assert!(!got.to_string().contains('$'), "a directive leaked: {got}");
}

#[test]
fn pod_schema_cases() {
    run(
        &PodMeta,
        vec![
            (
                "finalizers union keeps order",
                json!({"metadata": {"finalizers": ["a", "b"]}}),
                json!({"metadata": {"finalizers": ["b", "c"]}}),
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            ),
            (
                "finalizers union with order and delete",
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
                json!({"metadata": {"$setElementOrder/finalizers": ["a", "c", "d"],
                             "$deleteFromPrimitiveList/finalizers": ["b"], "finalizers": ["d"]}}),
                json!({"metadata": {"finalizers": ["a", "c", "d"]}}),
            ),
            (
                "set image with $setElementOrder",
                json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}}),
                json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                         "containers": [{"name": "b", "image": "y:2"}]}}),
                json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}]}}),
            ),
            (
                "container ports merge by containerPort",
                json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}),
                json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]}}),
                json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]}}),
            ),
            (
                "volumes retainKeys switches the volume source",
                json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]}}),
                json!({"spec": {"$setElementOrder/volumes": [{"name": "v"}, {"name": "w"}],
                         "volumes": [{"$retainKeys": ["configMap", "name"], "name": "v", "configMap": {"name": "cm"}}]}}),
                json!({"spec": {"volumes": [{"name": "v", "configMap": {"name": "cm"}}, {"name": "w", "emptyDir": {}}]}}),
            ),
            (
                "tolerations are replaced wholesale",
                json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}}),
                json!({"spec": {"tolerations": [{"key": "c"}]}}),
                json!({"spec": {"tolerations": [{"key": "c"}]}}),
            ),
            (
                "rollout restart annotation",
                json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}}}}),
                json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "t"}}}}}),
                json!({"spec": {"template": {"metadata": {"labels": {"app": "x"},
                                                   "annotations": {"kubectl.kubernetes.io/restartedAt": "t"}}}}}),
            ),
            (
                "$patch merge element is the default",
                json!({"spec": {"containers": [{"name": "a", "image": "x"}]}}),
                json!({"spec": {"containers": [{"$patch": "merge", "name": "a", "image": "y"}]}}),
                json!({"spec": {"containers": [{"name": "a", "image": "y"}]}}),
            ),
            (
                "appended element is stored without nulls or directives",
                json!({"spec": {"containers": [{"name": "a"}]}}),
                json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                         "containers": [{"name": "b", "env": null, "ports": [{"$patch": "delete", "containerPort": 1}]}]}}),
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "ports": []}]}}),
            ),
        ],
    );
}

#[test]
fn malformed_patches_are_errors() {
    let live = json!({"spec": {"containers": [{"name": "a"}], "volumes": []}, "mergingList": [{"name": 1}]});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "missing merge key",
            json!({"spec": {"containers": [{"image": "x"}]}}),
            "does not contain declared merge key: name",
        ),
        (
            "delete without merge key",
            json!({"spec": {"containers": [{"$patch": "delete"}]}}),
            "does not contain declared merge key: name",
        ),
        (
            "invalid $patch on map",
            json!({"spec": {"$patch": "frob"}}),
            "unknown patch type",
        ),
        (
            "invalid $patch in list",
            json!({"spec": {"containers": [{"$patch": "frob", "name": "a"}]}}),
            "unknown patch type",
        ),
        (
            "order does not match patch list",
            json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "b"}]}}),
            "doesn't match $setElementOrder list",
        ),
        (
            "retainKeys not a list",
            json!({"spec": {"$retainKeys": "x"}}),
            "invalid patch format of retainKeys",
        ),
        (
            "bad setElementOrder key",
            json!({"$setElementOrder": [1]}),
            "invalid patch format of setElementOrder list",
        ),
        (
            "mixed element types",
            json!({"metadata": {"finalizers": ["a", 1]}}),
            "list element types are not identical",
        ),
    ];
    let live_with_finalizers = {
        let mut l = live.clone();
        l["metadata"] = json!({"finalizers": ["x"]});
        l
    };
    for (name, patch, want) in cases {
        match apply(&live_with_finalizers, &patch, &PodMeta) {
            Ok(v) => panic!("{name}: expected error, got {v}"),
            Err(e) => assert!(e.to_string().contains(want), "{name}: {e}"),
        }
    }
    assert!(matches!(
        apply(&live, &json!([1]), &PodMeta),
        Err(PatchError::InvalidPatch(_))
    ));
    assert!(matches!(
        apply(&json!([1]), &json!({}), &PodMeta),
        Err(PatchError::InvalidDocument(_))
    ));
}
