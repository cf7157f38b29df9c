//! Label selector behaviour, with upstream apimachinery as the oracle
//! (cases adapted from `labels/selector_test.go` and hand-traced parser runs).

use serde_json::{json, Map, Value};

use super::{LabelSelector, Operator};
use crate::SelectorError;

const NAME_PART_ERR: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn labels(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn parse_err(s: &str) -> String {
    match LabelSelector::parse(s) {
        Err(SelectorError::LabelSelector { message }) => message,
        other => panic!("{s:?}: expected a label selector error, got {other:?}"),
    }
}

#[test]
fn parse_prints_canonical_form() {
    let cases = [
        ("", ""),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("x!=a,y=b", "x!=a,y=b"),
        ("x=", "x="),
        ("x= ", "x="),
        ("x=,z= ", "x=,z="),
        ("x= ,z= ", "x=,z="),
        ("!x", "!x"),
        ("x>1", "x>1"),
        ("x>1,z<5", "x>1,z<5"),
        ("x==a", "x==a"),
        // Sorted by key; set values sorted and deduplicated.
        (
            "z,y notin (jkl),x in (def,abc)",
            "x in (abc,def),y notin (jkl),z",
        ),
        ("x in (b,a,b)", "x in (a,b)"),
        ("x in ()", "x in ()"),
        ("x notin ( )", "x notin ()"),
        ("x in (abc,)", "x in (,abc)"),
        ("x notin (, a)", "x notin (,a)"),
        (
            "x notin (abc,def),bar,z in (),w",
            "bar,w,x notin (abc,def),z in ()",
        ),
        ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
        ("\rx", "x"),
        ("foo  in\t (abc)", "foo in (abc)"),
        ("x notin\n (abc)", "x notin (abc)"),
        ("a ", "a"),
        ("notin=in", "notin=in"),
        ("x,y", "x,y"),
        (
            "this-is-a-dns.domain.com/key-with-dash",
            "this-is-a-dns.domain.com/key-with-dash",
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
        ),
        ("x=a,a=x", "a=x,x=a"),
    ];
    for (input, want) in cases {
        let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(sel.to_string(), want, "input {input:?}");
    }
}

#[test]
fn parse_errors_match_upstream_text() {
    let cases = [
        (
            "x=a||y=b",
            format!("unable to parse requirement: values[0][x]: Invalid value: \"a||y\": {VALUE_ERR}"),
        ),
        ("x==a==b", "found '==', expected: ',' or 'end of string'".into()),
        ("!x=a", "found '=', expected: ',' or 'end of string'".into()),
        (
            "x<a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer".into(),
        ),
        (",x", "found ',', expected: !, identifier, or 'end of string'".into()),
        ("x,,y", "found ',', expected: identifier after ','".into()),
        ("a in (xyz),", "found '', expected: identifier after ','".into()),
        (
            "a in (xyz)b notin ()",
            "found 'b', expected: ',' or 'end of string'".into(),
        ),
        (
            "a in (xyz abc)",
            "unable to parse requirement: found 'abc', expected: ',' or ')'".into(),
        ),
        (
            "a notin(",
            "unable to parse requirement: found '', expected: ',', ')' or identifier".into(),
        ),
        (
            "a (",
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt".into(),
        ),
        (
            "x nott in (y)",
            "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt".into(),
        ),
        ("(", "found '(', expected: !, identifier, or 'end of string'".into()),
        ("a in", "unable to parse requirement: found '' expected: '('".into()),
        ("a=(", "unable to parse requirement: found '(', expected: identifier".into()),
        ("a in (x=)", "unable to parse requirement: found '=', expected: ',' or ')'".into()),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier".into()),
        ("!", "unable to parse requirement: found '', expected: identifier".into()),
        (
            "-a",
            format!("unable to parse requirement: <nil>: Invalid value: \"-a\": {NAME_PART_ERR}"),
        ),
        (
            "x in (a,-b)",
            format!("unable to parse requirement: values[0][x]: Invalid value: \"-b\": {VALUE_ERR}"),
        ),
        (
            "a/b/c=d",
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into(),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_err(input), want, "input {input:?}");
    }
}

#[test]
fn matching() {
    let foo_baz = json!({"foo": "bar", "baz": "blah"});
    let cases: Vec<(&str, Value, bool)> = vec![
        ("", json!({"x": "y"}), true),
        ("x=y", json!({"x": "y"}), true),
        ("x=y,z=w", json!({"x": "y", "z": "w"}), true),
        ("x!=y,z!=w", json!({"x": "z", "z": "a"}), true),
        ("notin=in", json!({"notin": "in"}), true),
        ("x", json!({"x": "z"}), true),
        ("!x", json!({"y": "z"}), true),
        ("x>1", json!({"x": "2"}), true),
        ("x<1", json!({"x": "0"}), true),
        ("x=z", json!({}), false),
        ("x=y", json!({"x": "z"}), false),
        ("x=y,z=w", json!({"x": "w", "z": "w"}), false),
        ("x!=y,z!=w", json!({"x": "z", "z": "w"}), false),
        ("x", json!({"y": "z"}), false),
        ("!x", json!({"x": "z"}), false),
        ("x>1", json!({"x": "0"}), false),
        ("x<1", json!({"x": "2"}), false),
        ("x>1", json!({"x": "v2"}), false),
        ("x>1", json!({}), false),
        ("foo=bar,baz=blah", foo_baz.clone(), true),
        ("foo=blah", foo_baz.clone(), false),
        ("foo=bar,foobar=bar,baz=blah", foo_baz, false),
        (
            "x in (foo),y notin (alpha)",
            json!({"x": "foo", "y": "baz"}),
            true,
        ),
        (
            "x in (foo),y in (alpha)",
            json!({"x": "foo", "y": "baz"}),
            false,
        ),
        ("x notin (),y", json!({"y": ""}), true),
        ("!x,y", json!({"y": ""}), true),
        ("x notin (),!y", json!({"y": ""}), false),
        ("x in ()", json!({"y": "baz"}), false),
        ("x in ()", json!({"x": ""}), true),
        ("x=", json!({"x": ""}), true),
        ("x=", json!({}), false),
        ("x!=", json!({}), true),
        // Non-string label values count as absent.
        ("x", json!({"x": 1}), false),
    ];
    for (sel, ls, want) in cases {
        let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
        let ls = labels(ls);
        assert_eq!(s.matches(Some(&ls)), want, "{sel:?} against {ls:?}");
    }
}

#[test]
fn missing_labels_are_an_empty_set() {
    let cases = [
        ("", true),
        ("!x", true),
        ("x!=y", true),
        ("x", false),
        ("x=", false),
    ];
    for (sel, want) in cases {
        let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
        assert_eq!(s.matches(None), want, "{sel:?}");
    }
}

#[test]
fn everything_and_nothing() {
    let ls = labels(json!({"a": "b"}));
    let every = LabelSelector::everything();
    assert!(every.is_empty() && every.matches(Some(&ls)) && every.matches(None));
    assert_eq!(every.to_string(), "");
    let none = LabelSelector::nothing();
    assert!(!none.is_empty() && none.is_nothing());
    assert!(!none.matches(Some(&ls)) && !none.matches(None));
    assert_eq!(none.to_string(), "");
    assert!(!LabelSelector::parse("a")
        .map(|s| s.is_empty())
        .unwrap_or(true));
}

#[test]
fn from_json_converts_like_label_selector_as_selector() {
    let cases: Vec<(Value, &str, bool, bool)> = vec![
        // (object, canonical string, is_empty, matches {app: web, tier: fe})
        (Value::Null, "", false, false),
        (json!({}), "", true, true),
        (
            json!({"matchLabels": {}, "matchExpressions": []}),
            "",
            true,
            true,
        ),
        (json!({"matchLabels": null}), "", true, true),
        (
            json!({"matchLabels": {"app": "web"}}),
            "app=web",
            false,
            true,
        ),
        (
            json!({"matchLabels": {"app": "db"}}),
            "app=db",
            false,
            false,
        ),
        (
            json!({"matchLabels": {"tier": "fe", "app": "web"}}),
            "app=web,tier=fe",
            false,
            true,
        ),
        (
            json!({"matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "app", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]}
            ]}),
            "app,!canary,env notin (prod),tier in (be,fe)",
            false,
            true,
        ),
        (
            json!({"matchLabels": {"app": "web"}, "matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["fe"]}
            ]}),
            "app=web,tier notin (fe)",
            false,
            false,
        ),
    ];
    let ls = labels(json!({"app": "web", "tier": "fe"}));
    for (obj, want_str, want_empty, want_match) in cases {
        let sel = LabelSelector::from_json(&obj).unwrap_or_else(|e| panic!("{obj}: {e}"));
        assert_eq!(sel.to_string(), want_str, "{obj}");
        assert_eq!(sel.is_empty(), want_empty, "{obj}");
        assert_eq!(sel.matches(Some(&ls)), want_match, "{obj}");
    }
}

#[test]
fn from_json_errors_match_upstream_text() {
    let cases: Vec<(Value, String)> = vec![
        (
            json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]}),
            "\"Foo\" is not a valid label selector operator".into(),
        ),
        (
            json!({"matchExpressions": [{"key": "a"}]}),
            "\"\" is not a valid label selector operator".into(),
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
                .into(),
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
                .into(),
        ),
        (
            json!({"matchLabels": {"-a": "b"}}),
            format!("key: Invalid value: \"-a\": {NAME_PART_ERR}"),
        ),
        (
            json!({"matchLabels": {"a": "-b"}}),
            format!("values[0][a]: Invalid value: \"-b\": {VALUE_ERR}"),
        ),
        (
            json!({"matchExpressions": [{"key": "-a", "operator": "NotIn", "values": []}]}),
            format!("[key: Invalid value: \"-a\": {NAME_PART_ERR}, values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty]"),
        ),
        (
            json!("a=b"),
            "json: cannot unmarshal string into Go value of type v1.LabelSelector".into(),
        ),
        (
            json!({"matchLabels": {"a": 1}}),
            "json: cannot unmarshal number into Go struct field LabelSelector.matchLabels of type string".into(),
        ),
    ];
    for (obj, want) in cases {
        match LabelSelector::from_json(&obj) {
            Err(SelectorError::LabelSelectorObject { message }) => {
                assert_eq!(message, want, "{obj}")
            }
            other => panic!("{obj}: expected an object error, got {other:?}"),
        }
    }
}

#[test]
fn exact_match() {
    let cases = [
        ("a=b", Some("b")),
        ("a==b", Some("b")),
        ("a in (b)", Some("b")),
        ("a in (b,c)", None),
        ("a!=b", None),
        ("a", None),
        ("x=y", None),
        ("a=b,a!=c", Some("b")),
    ];
    for (sel, want) in cases {
        let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
        assert_eq!(s.requires_exact_match("a"), want, "{sel:?}");
    }
}

#[test]
fn from_set_selects_exactly_and_empty_is_everything() {
    let set = labels(json!({"b": "2", "a": "1"}));
    let sel = LabelSelector::from_set(&set);
    assert_eq!(sel.to_string(), "a=1,b=2");
    assert!(sel.matches(Some(&labels(json!({"a": "1", "b": "2", "c": "3"})))));
    assert!(!sel.matches(Some(&labels(json!({"a": "1"})))));
    assert!(LabelSelector::from_set(&Map::new()).is_empty());
    assert_eq!(
        sel.requirements()
            .iter()
            .map(|r| (r.key(), r.operator()))
            .collect::<Vec<_>>(),
        vec![("a", Operator::Equals), ("b", Operator::Equals)]
    );
}
