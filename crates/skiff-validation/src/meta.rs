//! ObjectMeta validation on create and update (apimachinery `api/validation/objectmeta.go`).

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, bool_at, child, index, int_at, str_at, str_or_empty};
use crate::names::{
    validate_dns1035_label, validate_dns1123_label, validate_dns1123_subdomain,
    validate_path_segment_name, validate_qualified_name,
};
use crate::selector::validate_labels;

/// Upstream `TotalAnnotationSizeLimitB`: 256 KiB across all keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Which name format a kind requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (the default).
    Subdomain,
    /// RFC 1123 label (Namespace).
    Dns1123Label,
    /// RFC 1035 label (Service).
    Dns1035Label,
    /// Anything usable as a URL path segment (RBAC, PersistentVolume, HPA).
    PathSegment,
}

impl NameRule {
    /// The rule upstream uses for `group`/`kind`.
    pub fn for_kind(group: &str, kind: &str) -> NameRule {
        match (group, kind) {
            ("", "Namespace") => NameRule::Dns1123Label,
            ("", "Service") => NameRule::Dns1035Label,
            ("", "PersistentVolume") => NameRule::PathSegment,
            ("autoscaling", "HorizontalPodAutoscaler") => NameRule::PathSegment,
            ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
            _ => NameRule::Subdomain,
        }
    }

    /// Upstream messages for `name` under this rule.
    pub fn check(&self, name: &str) -> Vec<String> {
        match self {
            NameRule::Subdomain => validate_dns1123_subdomain(name),
            NameRule::Dns1123Label => validate_dns1123_label(name),
            NameRule::Dns1035Label => validate_dns1035_label(name),
            NameRule::PathSegment => validate_path_segment_name(name),
        }
    }
}

/// Validates `metadata` of a new object.
pub fn validate_object_meta(
    meta: Option<&Value>,
    namespaced: bool,
    rule: NameRule,
) -> Vec<FieldError> {
    let null = Value::Null;
    let meta = meta.unwrap_or(&null);
    let mut errs = Vec::new();
    let name = str_or_empty(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name) {
            errs.push(FieldError::invalid("metadata.name", name, msg));
        }
    }
    errs.extend(validate_meta_common(meta, namespaced));
    errs
}

fn validate_meta_common(meta: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = str_or_empty(meta, "namespace");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            for msg in validate_dns1123_label(ns) {
                errs.push(FieldError::invalid("metadata.namespace", ns, msg));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(g) = int_at(meta, "generation") {
        if g < 0 {
            errs.push(FieldError::invalid(
                "metadata.generation",
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs.extend(validate_labels(meta.get("labels"), "metadata.labels"));
    errs.extend(validate_annotations(
        meta.get("annotations"),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(meta, "metadata.ownerReferences"));
    errs.extend(validate_finalizers(meta, "metadata.finalizers"));
    errs
}

/// Annotation keys are case-insensitive qualified names; the total size is capped.
pub fn validate_annotations(ann: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(map) = ann.and_then(Value::as_object) else {
        return errs;
    };
    let mut total = 0usize;
    for (k, v) in map {
        for msg in validate_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn validate_owner_references(meta: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    let refs = arr_at(meta, "ownerReferences");
    for r in refs {
        let api_version = str_or_empty(r, "apiVersion");
        // The version is what follows the last '/', or the whole string for core.
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                child(path, "apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        for (field, label) in [("kind", "kind"), ("name", "name"), ("uid", "uid")] {
            let v = str_or_empty(r, field);
            if v.is_empty() {
                errs.push(FieldError::invalid(
                    child(path, label),
                    v,
                    "must not be empty",
                ));
            }
        }
        if api_version == "v1" && str_or_empty(r, "kind") == "Event" {
            errs.push(FieldError::invalid(
                path,
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if bool_at(r, "controller") == Some(true) {
            let cur = format!("{}/{}", str_or_empty(r, "kind"), str_or_empty(r, "name"));
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    Value::Array(refs.to_vec()),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {cur}"),
                )),
                None => first_controller = Some(cur),
            }
        }
    }
    errs
}

fn validate_finalizers(meta: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let finalizers = arr_at(meta, "finalizers");
    let names: Vec<&str> = finalizers.iter().filter_map(Value::as_str).collect();
    for f in &names {
        for msg in validate_qualified_name(f) {
            errs.push(FieldError::invalid(path, *f, msg));
        }
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            Value::Array(finalizers.to_vec()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Validates `metadata` on update: the create rules plus immutable identity fields.
pub fn validate_object_meta_update(new: Option<&Value>, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let new = new.unwrap_or(&null);
    let old = old.unwrap_or(&null);
    let mut errs = Vec::new();
    if old.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let old_f: Vec<&Value> = arr_at(old, "finalizers").iter().collect();
        let mut extra: Vec<&str> = arr_at(new, "finalizers")
            .iter()
            .filter(|f| !old_f.contains(f))
            .filter_map(Value::as_str)
            .collect();
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|s| crate::error::go_quote(s)).collect();
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}", list.join(", ")),
            ));
        }
    }
    if let (Some(n), Some(o)) = (int_at(new, "generation"), int_at(old, "generation")) {
        if n < o {
            errs.push(FieldError::invalid(
                "metadata.generation",
                n,
                "must not be decremented",
            ));
        }
    }
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let nv = new
            .get(field)
            .filter(|v| !v.is_null() && v.as_str() != Some(""));
        let ov = old
            .get(field)
            .filter(|v| !v.is_null() && v.as_str() != Some(""));
        // Upstream `BeforeUpdate` copies these system fields from the stored object
        // when the request leaves them out, so absence is not a change.
        if nv.is_none() && !matches!(field, "name" | "namespace") {
            continue;
        }
        if nv != ov {
            let bad = nv.cloned().unwrap_or_else(|| {
                if field.ends_with("Seconds") || field.ends_with("Timestamp") {
                    Value::Null
                } else {
                    Value::from("")
                }
            });
            errs.push(FieldError::immutable(child("metadata", field), bad));
        }
    }
    errs.extend(validate_labels(new.get("labels"), "metadata.labels"));
    errs.extend(validate_annotations(
        new.get("annotations"),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(new, "metadata.ownerReferences"));
    errs.extend(validate_finalizers(new, "metadata.finalizers"));
    errs
}

/// Field path of a list element's name, e.g. `spec.containers[0].name`.
pub(crate) fn indexed_name(path: &str, i: usize) -> String {
    child(&index(path, i), "name")
}

/// Whether the object is marked immutable (`immutable: true`).
pub(crate) fn is_immutable(obj: &Value) -> bool {
    bool_at(obj, "immutable") == Some(true)
}

/// `metadata.name` of an object, or "".
pub fn object_name(obj: &Value) -> &str {
    obj.get("metadata")
        .and_then(|m| str_at(m, "name"))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn create_table() {
        let cases: Vec<(Value, bool, NameRule, Vec<&str>)> = vec![
            (json!({"name": "web", "namespace": "default"}), true, NameRule::Subdomain, vec![]),
            (json!({"namespace": "default"}), true, NameRule::Subdomain, vec!["metadata.name: Required value: name or generateName is required"]),
            (json!({"name": "web"}), true, NameRule::Subdomain, vec!["metadata.namespace: Required value"]),
            (json!({"name": "web", "namespace": "x"}), false, NameRule::Subdomain, vec!["metadata.namespace: Forbidden: not allowed on this type"]),
            (json!({"name": "a.b"}), false, NameRule::Dns1123Label, vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]),
            (json!({"name": "system:admin"}), false, NameRule::PathSegment, vec![]),
            (json!({"name": "a/b"}), false, NameRule::PathSegment, vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"]),
            (
                json!({"name": "w", "labels": {"app": "-bad"}}),
                false,
                NameRule::Subdomain,
                vec!["metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"],
            ),
            (
                json!({"name": "w", "finalizers": ["orphan", "foregroundDeletion"]}),
                false,
                NameRule::Subdomain,
                vec!["metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set"],
            ),
            (
                json!({"name": "w", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}]}),
                false,
                NameRule::Subdomain,
                vec!["metadata.ownerReferences.uid: Invalid value: \"\": must not be empty"],
            ),
        ];
        for (meta, namespaced, rule, want) in cases {
            assert_eq!(
                fields(&validate_object_meta(Some(&meta), namespaced, rule)),
                want,
                "{meta}"
            );
        }
    }

    #[test]
    fn annotation_size_limit() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let meta = json!({"name": "w", "annotations": {"a": big}});
        assert_eq!(
            fields(&validate_object_meta(
                Some(&meta),
                false,
                NameRule::Subdomain
            )),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
        let ok =
            json!({"name": "w", "annotations": {"a": "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1)}});
        assert!(validate_object_meta(Some(&ok), false, NameRule::Subdomain).is_empty());
    }

    #[test]
    fn update_table() {
        let old = json!({"name": "a", "namespace": "d", "uid": "u1", "generation": 2});
        let cases = [
            (
                json!({"name": "a", "namespace": "d", "uid": "u1", "generation": 2}),
                vec![],
            ),
            (
                json!({"name": "b", "namespace": "d", "uid": "u1", "generation": 2}),
                vec!["metadata.name: Invalid value: \"b\": field is immutable"],
            ),
            (
                json!({"name": "a", "namespace": "d", "uid": "u1", "generation": 1}),
                vec!["metadata.generation: Invalid value: 1: must not be decremented"],
            ),
        ];
        for (new, want) in cases {
            assert_eq!(
                fields(&validate_object_meta_update(Some(&new), Some(&old))),
                want
            );
        }
    }

    #[test]
    fn name_rules_per_kind() {
        assert_eq!(NameRule::for_kind("", "Service"), NameRule::Dns1035Label);
        assert_eq!(NameRule::for_kind("", "Namespace"), NameRule::Dns1123Label);
        assert_eq!(
            NameRule::for_kind("rbac.authorization.k8s.io", "ClusterRole"),
            NameRule::PathSegment
        );
        assert_eq!(
            NameRule::for_kind("apps", "Deployment"),
            NameRule::Subdomain
        );
    }
}
