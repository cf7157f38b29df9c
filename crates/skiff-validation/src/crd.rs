//! apiextensions.k8s.io/v1 CustomResourceDefinition validation (structural basics).

use std::collections::HashSet;

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, bool_at, child, index, str_or_empty};
use crate::names::{validate_dns1035_label, validate_dns1123_subdomain};

/// CRD: name = plural.group, group, scope, names, versions (exactly one storage).
pub fn validate_crd(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let names = spec.get("names").unwrap_or(&null);
    let mut errs = Vec::new();
    let group = str_or_empty(spec, "group");
    let plural = str_or_empty(names, "plural");
    let name = crate::meta::object_name(obj);
    if name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        for msg in validate_dns1123_subdomain(group) {
            errs.push(FieldError::invalid("spec.group", group, msg));
        }
        if group.split('.').count() < 2 {
            errs.push(FieldError::invalid(
                "spec.group",
                group,
                "should be a domain with at least one dot",
            ));
        }
    }
    match str_or_empty(spec, "scope") {
        "Cluster" | "Namespaced" => {}
        "" => errs.push(FieldError::required("spec.scope", "")),
        other => errs.push(FieldError::not_supported(
            "spec.scope",
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    for f in ["plural", "singular"] {
        let v = str_or_empty(names, f);
        let p = child("spec.names", f);
        if v.is_empty() {
            if f == "plural" {
                errs.push(FieldError::required(p, ""));
            }
            continue;
        }
        let msgs = validate_dns1035_label(v);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(p, v, msgs.join(",")));
        }
    }
    let kind = str_or_empty(names, "kind");
    let list_kind = str_or_empty(names, "listKind");
    if kind.is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    }
    if list_kind.is_empty() {
        errs.push(FieldError::required("spec.names.listKind", ""));
    } else if list_kind == kind {
        errs.push(FieldError::invalid(
            "spec.names.listKind",
            list_kind,
            "kind and listKind may not be the same or empty",
        ));
    }
    let versions = arr_at(spec, "versions");
    if versions.is_empty() {
        errs.push(FieldError::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
        return errs;
    }
    let mut seen = HashSet::new();
    let mut unique = true;
    let mut storage = 0;
    for (i, v) in versions.iter().enumerate() {
        let vp = index("spec.versions", i);
        let vname = str_or_empty(v, "name");
        if !seen.insert(vname) {
            unique = false;
        }
        let msgs = validate_dns1035_label(vname);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                child(&vp, "name"),
                vname,
                msgs.join(","),
            ));
        }
        if bool_at(v, "storage") == Some(true) {
            storage += 1;
        }
        let schema = v
            .get("schema")
            .and_then(|s| s.get("openAPIV3Schema"))
            .filter(|s| !s.is_null());
        match schema {
            None => errs.push(FieldError::required(
                child(&vp, "schema.openAPIV3Schema"),
                "schemas are required",
            )),
            Some(s) => {
                if str_or_empty(s, "type") != "object" {
                    errs.push(FieldError::invalid(
                        child(&vp, "schema.openAPIV3Schema.type"),
                        str_or_empty(s, "type"),
                        "must be object at the root",
                    ));
                }
            }
        }
    }
    let bad = Value::Array(versions.to_vec());
    if !unique {
        errs.push(FieldError::invalid(
            "spec.versions",
            bad.clone(),
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            bad,
            "must have exactly one version marked as storage version",
        ));
    }
    errs
}

/// CRD update: group, names.plural/kind and scope are frozen (upstream allows some
/// changes once no CRs exist; Skiff keeps the strict rule).
pub fn validate_crd_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let (ns, os) = (
        new.get("spec").unwrap_or(&null),
        old.get("spec").unwrap_or(&null),
    );
    let mut errs = Vec::new();
    if ns.get("group") != os.get("group") {
        errs.push(FieldError::immutable(
            "spec.group",
            ns.get("group").cloned().unwrap_or(Value::Null),
        ));
    }
    let (nn, on) = (
        ns.get("names").unwrap_or(&null),
        os.get("names").unwrap_or(&null),
    );
    if nn.get("plural") != on.get("plural") {
        errs.push(FieldError::immutable(
            "spec.names.plural",
            nn.get("plural").cloned().unwrap_or(Value::Null),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd() -> Value {
        json!({
            "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
            "spec": {
                "group": "monitoring.coreos.com",
                "scope": "Namespaced",
                "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor", "listKind": "ServiceMonitorList"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        })
    }

    #[test]
    fn crd_table() {
        assert!(
            validate_crd(&crd()).is_empty(),
            "{:?}",
            validate_crd(&crd())
        );
        let mut bad_name = crd();
        bad_name["metadata"]["name"] = json!("monitors.monitoring.coreos.com");
        assert_eq!(validate_crd(&bad_name)[0].to_string(), "metadata.name: Invalid value: \"monitors.monitoring.coreos.com\": must be spec.names.plural+\".\"+spec.group");
        let mut no_storage = crd();
        no_storage["spec"]["versions"][0]["storage"] = json!(false);
        assert_eq!(
            validate_crd(&no_storage)[0].detail,
            "must have exactly one version marked as storage version"
        );
        let mut no_schema = crd();
        no_schema["spec"]["versions"][0]["schema"] = json!(null);
        assert_eq!(
            validate_crd(&no_schema)[0].to_string(),
            "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
        );
    }
}
