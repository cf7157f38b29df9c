//! OpenAPI v3 documents: `/openapi/v3` (an index of group-versions with content hashes) and one
//! document per group-version. kubectl validates server-side only when the PATCH operation of a
//! kind carries `x-kubernetes-group-version-kind` and a `fieldValidation` parameter, and
//! `kubectl explain` walks `components.schemas`.

use crate::registry::{Registry, ResourceInfo};
use crate::schema::Definitions;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// URL path segment of a group-version document: `api/v1` or `apis/apps/v1`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: every group-version with a hash of its current document.
pub fn index(entries: &[(String, String)]) -> Value {
    let mut paths = Map::new();
    for (path, hash) in entries {
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// FNV-1a 64-bit hash of a document, as upper-case hex (stable cache key for kubectl).
pub fn hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

fn rewrite_refs(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        out.insert(
                            k.clone(),
                            json!(s.replace("#/definitions/", "#/components/schemas/")),
                        );
                        continue;
                    }
                }
                out.insert(k.clone(), rewrite_refs(x));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(rewrite_refs).collect()),
        other => other.clone(),
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        out.push(s.rsplit('/').next().unwrap_or(s).to_string());
                        continue;
                    }
                }
                collect_refs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn def_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn param(name: &str, location: &str, required: bool) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(
    action: &str,
    gvk: &Value,
    schema_ref: &Value,
    params: Vec<Value>,
    body: bool,
) -> Value {
    let mut op = json!({
        "operationId": format!("{action}{}", gvk["kind"].as_str().unwrap_or("")),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}},
    });
    if body {
        op["requestBody"] = json!({"content": {"*/*": {"schema": schema_ref}}, "required": true});
    }
    op
}

/// Component name of a custom resource's schema: reversed group + version + kind.
pub fn custom_schema_name(r: &ResourceInfo) -> String {
    let rev: Vec<&str> = r.group.split('.').rev().collect();
    format!("{}.{}.{}", rev.join("."), r.version, r.kind)
}

fn custom_component(r: &ResourceInfo) -> Value {
    let mut schema = r
        .crd_version
        .as_ref()
        .and_then(|v| v.get("schema"))
        .and_then(|s| s.get("openAPIV3Schema"))
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Value::Object(m) = &mut schema {
        let props = m.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(p) = props {
            p.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}));
            p.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}));
            p.insert("metadata".into(), json!({"allOf": [def_ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")], "description": "Standard object's metadata."}));
        }
        m.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": r.group, "version": r.version, "kind": r.kind}]),
        );
    }
    schema
}

/// The OpenAPI v3 document of one group-version.
pub fn document(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let resources = reg.in_group_version(group, version);
    if resources.is_empty() {
        return None;
    }
    let defs = Definitions::get();
    let mut paths = Map::new();
    let mut wanted: Vec<String> = vec![
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into(),
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions".into(),
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into(),
    ];
    let mut components = Map::new();
    let prefix = format!("/{}", gv_path(group, version));
    for r in &resources {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let name = if r.custom {
            let n = custom_schema_name(r);
            components.insert(n.clone(), custom_component(r));
            n
        } else {
            match defs.name_for(&r.group, &r.version, &r.kind) {
                Some(n) => n.to_string(),
                None => continue,
            }
        };
        wanted.push(name.clone());
        if let Some(list) = defs.name_for(&r.group, &r.version, &r.list_kind()) {
            wanted.push(list.to_string());
        }
        let obj_ref = def_ref(&name);
        let base = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.resource)
        } else {
            format!("{prefix}/{}", r.resource)
        };
        let ns_params = |mut v: Vec<Value>| {
            if r.namespaced {
                v.push(param("namespace", "path", true));
            }
            v
        };
        let write_params = || {
            ns_params(vec![
                param("dryRun", "query", false),
                param("fieldManager", "query", false),
                param("fieldValidation", "query", false),
            ])
        };
        let mut coll = Map::new();
        if r.supports("list") {
            coll.insert(
                "get".into(),
                operation(
                    "list",
                    &gvk,
                    &obj_ref,
                    ns_params(vec![param("labelSelector", "query", false)]),
                    false,
                ),
            );
        }
        if r.supports("create") {
            coll.insert(
                "post".into(),
                operation("post", &gvk, &obj_ref, write_params(), true),
            );
        }
        paths.insert(base.clone(), Value::Object(coll));
        let mut item = Map::new();
        let named = |v: Vec<Value>| {
            let mut v = v;
            v.push(param("name", "path", true));
            v
        };
        if r.supports("get") {
            item.insert(
                "get".into(),
                operation("get", &gvk, &obj_ref, named(ns_params(vec![])), false),
            );
        }
        if r.supports("update") {
            item.insert(
                "put".into(),
                operation("put", &gvk, &obj_ref, named(write_params()), true),
            );
        }
        if r.supports("patch") {
            let mut p = named(write_params());
            p.push(param("force", "query", false));
            item.insert("patch".into(), operation("patch", &gvk, &obj_ref, p, true));
        }
        if r.supports("delete") {
            item.insert(
                "delete".into(),
                operation("delete", &gvk, &obj_ref, named(ns_params(vec![])), false),
            );
        }
        paths.insert(format!("{base}/{{name}}"), Value::Object(item));
        for s in &r.subresources {
            if s.name != "status" && s.name != "scale" {
                continue;
            }
            let (sg, sv, sk) = (
                s.group.clone().unwrap_or_else(|| r.group.clone()),
                s.version.clone().unwrap_or_else(|| r.version.clone()),
                s.kind.clone().unwrap_or_else(|| r.kind.clone()),
            );
            let sgvk = json!({"group": sg, "version": sv, "kind": sk});
            let sname = if s.name == "status" {
                name.clone()
            } else {
                defs.name_for(&sg, &sv, &sk).unwrap_or("").to_string()
            };
            if sname.is_empty() {
                continue;
            }
            wanted.push(sname.clone());
            let sref = def_ref(&sname);
            let mut sub = Map::new();
            sub.insert(
                "get".into(),
                operation("get", &sgvk, &sref, named(ns_params(vec![])), false),
            );
            sub.insert(
                "put".into(),
                operation("put", &sgvk, &sref, named(write_params()), true),
            );
            sub.insert(
                "patch".into(),
                operation("patch", &sgvk, &sref, named(write_params()), true),
            );
            paths.insert(format!("{base}/{{name}}/{}", s.name), Value::Object(sub));
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(n) = wanted.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        let def = match components.get(&n) {
            Some(d) => d.clone(),
            None => match defs.definition(&n) {
                Some(d) => d.clone(),
                None => continue,
            },
        };
        let mut refs = Vec::new();
        collect_refs(&def, &mut refs);
        wanted.extend(refs);
        components.insert(n, rewrite_refs(&def));
    }
    let mut sorted = Map::new();
    let mut keys: Vec<String> = components.keys().cloned().collect();
    keys.sort();
    for k in keys {
        if let Some(v) = components.remove(&k) {
            sorted.insert(k, v);
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": sorted},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_document_has_validating_patch_operation() {
        let reg = Registry::builtin();
        let doc = document(&reg, "apps", "v1").expect("apps/v1 document");
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(patch["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x["name"] == "fieldValidation")));
        let schemas = &doc["components"]["schemas"];
        assert!(schemas.get("io.k8s.api.apps.v1.Deployment").is_some());
        assert!(
            schemas.get("io.k8s.api.core.v1.PodSpec").is_some(),
            "refs are followed"
        );
        let text = doc.to_string();
        assert!(
            !text.contains("#/definitions/"),
            "refs rewritten to components"
        );
    }
}
