//! rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding.

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, child, has, index, str_or_empty};
use crate::names::{validate_dns1123_subdomain, validate_path_segment_name};
use crate::selector::validate_label_selector;

/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Role / ClusterRole rules (`namespaced` = Role).
pub fn validate_role(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, rule) in arr_at(obj, "rules").iter().enumerate() {
        errs.extend(validate_policy_rule(rule, namespaced, &index("rules", i)));
    }
    if let Some(agg) = obj.get("aggregationRule").filter(|a| !a.is_null()) {
        let sels = arr_at(agg, "clusterRoleSelectors");
        if sels.is_empty() {
            errs.push(FieldError::required(
                "aggregationRule.clusterRoleSelectors",
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, s) in sels.iter().enumerate() {
            errs.extend(validate_label_selector(
                s,
                &index("aggregationRule.clusterRoleSelectors", i),
            ));
        }
    }
    errs
}

fn validate_policy_rule(rule: &Value, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if arr_at(rule, "verbs").is_empty() {
        errs.push(FieldError::required(
            child(path, "verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = arr_at(rule, "nonResourceURLs");
    if !urls.is_empty() {
        let bad = Value::Array(urls.to_vec());
        if namespaced {
            errs.push(FieldError::invalid(
                child(path, "nonResourceURLs"),
                bad.clone(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !arr_at(rule, "apiGroups").is_empty()
            || !arr_at(rule, "resources").is_empty()
            || !arr_at(rule, "resourceNames").is_empty()
        {
            errs.push(FieldError::invalid(
                child(path, "nonResourceURLs"),
                bad,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if arr_at(rule, "apiGroups").is_empty() {
        errs.push(FieldError::required(
            child(path, "apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if arr_at(rule, "resources").is_empty() {
        errs.push(FieldError::required(
            child(path, "resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

/// RoleBinding / ClusterRoleBinding (`namespaced` = RoleBinding).
pub fn validate_binding(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let rr = obj.get("roleRef").unwrap_or(&null);
    let group = str_or_empty(rr, "apiGroup");
    if group != RBAC_GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            group,
            &[RBAC_GROUP],
        ));
    }
    let kind = str_or_empty(rr, "kind");
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported("roleRef.kind", kind, kinds));
    }
    let name = str_or_empty(rr, "name");
    if name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        for msg in validate_path_segment_name(name) {
            errs.push(FieldError::invalid("roleRef.name", name, msg));
        }
    }
    for (i, s) in arr_at(obj, "subjects").iter().enumerate() {
        let p = index("subjects", i);
        let sname = str_or_empty(s, "name");
        if sname.is_empty() {
            errs.push(FieldError::required(child(&p, "name"), ""));
        }
        let sgroup = str_or_empty(s, "apiGroup");
        match str_or_empty(s, "kind") {
            "ServiceAccount" => {
                if !sname.is_empty() {
                    for msg in validate_dns1123_subdomain(sname) {
                        errs.push(FieldError::invalid(child(&p, "name"), sname, msg));
                    }
                }
                if !sgroup.is_empty() {
                    errs.push(FieldError::not_supported(
                        child(&p, "apiGroup"),
                        sgroup,
                        &[""],
                    ));
                }
                if !namespaced && !has(s, "namespace") {
                    errs.push(FieldError::required(child(&p, "namespace"), ""));
                }
            }
            "User" | "Group" => {
                if sgroup != RBAC_GROUP {
                    errs.push(FieldError::not_supported(
                        child(&p, "apiGroup"),
                        sgroup,
                        &[RBAC_GROUP],
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                child(&p, "kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
    errs
}

/// Binding update: roleRef cannot change.
pub fn validate_binding_update(new: &Value, old: &Value) -> Vec<FieldError> {
    if new.get("roleRef") != old.get("roleRef") {
        return vec![FieldError::invalid(
            "roleRef",
            new.get("roleRef").cloned().unwrap_or(Value::Null),
            "cannot change roleRef",
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn role_rules_table() {
        let cases = [
            (json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}), true, vec![]),
            (json!({"rules": [{"apiGroups": [""], "resources": ["pods"]}]}), true, vec!["rules[0].verbs: Required value: verbs must contain at least one value"]),
            (json!({"rules": [{"verbs": ["get"]}]}), true, vec![
                "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[0].resources: Required value: resource rules must supply at least one resource",
            ]),
            (json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}), true, vec!["rules[0].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs"]),
            (json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}), false, vec![]),
        ];
        for (obj, namespaced, want) in cases {
            assert_eq!(msgs(validate_role(&obj, namespaced)), want, "{obj}");
        }
    }

    #[test]
    fn binding_table() {
        let good = json!({"roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "d"}]});
        assert!(validate_binding(&good, false).is_empty());
        let role_in_crb = json!({"roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "r"}});
        assert_eq!(
            msgs(validate_binding(&role_in_crb, false)),
            vec!["roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\""]
        );
        let sa_no_ns = json!({"roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "ServiceAccount", "name": "x"}]});
        assert_eq!(
            msgs(validate_binding(&sa_no_ns, false)),
            vec!["subjects[0].namespace: Required value"]
        );
        assert!(validate_binding(&sa_no_ns, true).is_empty());
        let changed =
            json!({"roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "edit"}});
        assert_eq!(
            validate_binding_update(&changed, &good)[0].detail,
            "cannot change roleRef"
        );
    }
}
