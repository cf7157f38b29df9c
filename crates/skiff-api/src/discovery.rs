//! Discovery documents: legacy (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`) and aggregated
//! (`apidiscovery.k8s.io/v2`), both derived from the registry.

use crate::registry::{Registry, ResourceInfo};
use serde_json::{json, Value};

/// `GET /api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

/// `GET /apis`.
pub fn api_group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .group_versions()
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_entry(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`.
pub fn api_group(reg: &Registry, group: &str) -> Option<Value> {
    let gv = reg.group_versions();
    let (_, vs) = gv.iter().find(|(g, _)| g == group)?;
    let mut v = group_entry(group, vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

fn verbs_json(verbs: &[String]) -> Value {
    json!(verbs)
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`.
pub fn api_resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let resources = reg.in_group_version(group, version);
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut out = Vec::new();
    for r in &resources {
        let mut e = json!({
            "name": r.resource,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs_json(&r.verbs),
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        out.push(e);
        for s in &r.subresources {
            let mut e = json!({
                "name": format!("{}/{}", r.resource, s.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind.clone().unwrap_or_else(|| r.kind.clone()),
                "verbs": verbs_json(&s.verbs),
            });
            if let (Some(g), Some(v)) = (&s.group, &s.version) {
                if g != &r.group || v != &r.version {
                    e["group"] = json!(g);
                    e["version"] = json!(v);
                }
            }
            out.push(e);
        }
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}),
    )
}

fn aggregated_resource(r: &ResourceInfo) -> Value {
    let subs: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| {
            let mut e = json!({"subresource": s.name, "verbs": s.verbs});
            if let Some(k) = &s.kind {
                e["responseKind"] = json!({
                    "group": s.group.clone().unwrap_or_else(|| r.group.clone()),
                    "version": s.version.clone().unwrap_or_else(|| r.version.clone()),
                    "kind": k,
                });
            }
            e
        })
        .collect();
    let mut e = json!({
        "resource": r.resource,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        e["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        e["categories"] = json!(r.categories);
    }
    if !subs.is_empty() {
        e["subresources"] = Value::Array(subs);
    }
    e
}

/// Aggregated discovery for `/api` (`legacy` = true) or `/apis`, in apidiscovery `version`
/// (`v2` or `v2beta1`).
pub fn aggregated(reg: &Registry, legacy: bool, version: &str) -> Value {
    let mut items = Vec::new();
    for (g, vs) in reg.group_versions() {
        if g.is_empty() != legacy {
            continue;
        }
        let versions: Vec<Value> = vs
            .iter()
            .map(|v| {
                let resources: Vec<Value> = reg
                    .in_group_version(&g, v)
                    .iter()
                    .map(|r| aggregated_resource(r))
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        let metadata = if legacy {
            json!({"creationTimestamp": null})
        } else {
            json!({"name": g, "creationTimestamp": null})
        };
        items.push(json!({"metadata": metadata, "versions": versions}));
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_list_includes_subresources_with_foreign_kinds() {
        let reg = Registry::builtin();
        let l = api_resource_list(&reg, "apps", "v1").expect("apps/v1");
        let scale = l["resources"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == "deployments/scale"))
            .cloned();
        let scale = scale.expect("deployments/scale listed");
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
        let core = api_resource_list(&reg, "", "v1").expect("v1");
        let ev = core["resources"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == "pods/eviction"))
            .cloned();
        assert_eq!(ev.expect("pods/eviction")["group"], "policy");
    }

    #[test]
    fn autoscaling_prefers_v2() {
        let reg = Registry::builtin();
        let g = api_group(&reg, "autoscaling").expect("autoscaling");
        assert_eq!(g["preferredVersion"]["version"], "v2");
    }
}
