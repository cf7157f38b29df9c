//! Namespace termination and owner-reference garbage collection. This runs inside the API
//! server for now (it only needs the store); the workload-controllers issue moves it into the
//! controller manager as an API client.

use crate::state::ApiServer;
use serde_json::{json, Value};
use skiff_api::meta;
use skiff_store::StoredObject;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

fn contains(o: &StoredObject, needle: &[u8]) -> bool {
    memchr::memmem::find(&o.data, needle).is_some()
}

async fn remove_finalizer(state: &ApiServer, o: &StoredObject, finalizer: &str) {
    let mut v = o.value();
    let rest: Vec<String> = meta::finalizers(&v)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    if rest.is_empty() && v.pointer("/metadata/deletionTimestamp").is_some() {
        let _ = state.store.delete(o.key.clone(), Some(o.mod_rev)).await;
        return;
    }
    meta::metadata_mut(&mut v).insert("finalizers".into(), json!(rest));
    let _ = state.store.update(o.key.clone(), Some(o.mod_rev), v).await;
}

/// Delete an object the way a background cascade does: mark it if finalizers hold it.
async fn cascade_delete(state: &ApiServer, o: &StoredObject) {
    let mut v = o.value();
    if v.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    if meta::finalizers(&v).is_empty() {
        let _ = state.store.delete(o.key.clone(), Some(o.mod_rev)).await;
    } else {
        let m = meta::metadata_mut(&mut v);
        m.insert("deletionTimestamp".into(), json!(meta::now_rfc3339()));
        m.insert("deletionGracePeriodSeconds".into(), json!(0));
        let _ = state.store.update(o.key.clone(), Some(o.mod_rev), v).await;
    }
    state.cleanup_wake.notify_one();
}

fn owner_uids(v: &Value) -> Vec<String> {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// One pass over the store.
pub async fn pass(state: &Arc<ApiServer>) {
    terminate_namespaces(state).await;
    collect_garbage(state).await;
}

async fn terminate_namespaces(state: &Arc<ApiServer>) {
    let reg = state.registry();
    let Some(ns_info) = reg.get("", "v1", "namespaces") else {
        return;
    };
    let (namespaces, _) = state.store.list(&ns_info.key_prefix());
    let mut prefixes: Vec<String> = reg
        .all()
        .iter()
        .filter(|r| r.namespaced)
        .map(|r| r.key_prefix())
        .collect();
    prefixes.sort();
    prefixes.dedup();
    for ns_obj in namespaces
        .iter()
        .filter(|o| contains(o, b"deletionTimestamp"))
    {
        let v = ns_obj.value();
        if v.pointer("/metadata/deletionTimestamp").is_none() {
            continue;
        }
        let ns = meta::name(&v).unwrap_or("").to_string();
        let mut remaining = 0;
        for p in &prefixes {
            let (objs, _) = state.store.list(&format!("{p}{ns}/"));
            remaining += objs.len();
            for o in objs {
                cascade_delete(state, &o).await;
            }
        }
        if remaining > 0 {
            continue;
        }
        let spec_finalizers: Vec<Value> = v
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|f| f.as_str() != Some("kubernetes"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if spec_finalizers.is_empty() && meta::finalizers(&v).is_empty() {
            let _ = state
                .store
                .delete(ns_obj.key.clone(), Some(ns_obj.mod_rev))
                .await;
        } else {
            let mut nv = v.clone();
            nv["spec"]["finalizers"] = Value::Array(spec_finalizers);
            let _ = state
                .store
                .update(ns_obj.key.clone(), Some(ns_obj.mod_rev), nv)
                .await;
        }
    }
}

/// What one garbage-collection pass will do, computed off the async workers.
#[derive(Default)]
struct Plan {
    /// Owners being deleted with the `orphan` finalizer, and their dependents.
    orphan: Vec<(Arc<StoredObject>, String, Vec<Arc<StoredObject>>)>,
    /// Owners being deleted with `foregroundDeletion`, and their dependents.
    foreground: Vec<(Arc<StoredObject>, Vec<Arc<StoredObject>>)>,
    /// Objects whose every owner is gone.
    background: Vec<Arc<StoredObject>>,
}

/// The object's metadata.uid, read without building the whole object: the GC needs every
/// object's uid, and parsing each one into a `Value` dominated a pass over a big store.
fn uid_of(o: &StoredObject) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Meta {
        uid: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Obj {
        metadata: Option<Meta>,
    }
    serde_json::from_slice::<Obj>(&o.data).ok()?.metadata?.uid
}

fn plan(all: &[Arc<StoredObject>]) -> Plan {
    let mut dependents: HashMap<String, Vec<Arc<StoredObject>>> = HashMap::new();
    let mut owners_of: Vec<(Arc<StoredObject>, Vec<String>)> = Vec::new();
    let mut deleting: Vec<(Arc<StoredObject>, Value)> = Vec::new();
    for o in all {
        if !(contains(o, b"ownerReferences") || contains(o, b"deletionTimestamp")) {
            continue;
        }
        let v = o.value();
        let owners = owner_uids(&v);
        for owner in &owners {
            dependents.entry(owner.clone()).or_default().push(o.clone());
        }
        if !owners.is_empty() {
            owners_of.push((o.clone(), owners));
        }
        if v.pointer("/metadata/deletionTimestamp").is_some() {
            deleting.push((o.clone(), v));
        }
    }
    let mut plan = Plan::default();
    if dependents.is_empty() && deleting.is_empty() {
        return plan;
    }
    // Only the uids some object names as its owner matter.
    let mut alive: HashSet<String> = HashSet::with_capacity(dependents.len());
    for o in all {
        if let Some(uid) = uid_of(o).filter(|u| dependents.contains_key(u)) {
            alive.insert(uid);
        }
    }
    for (o, v) in deleting {
        let uid = meta::str_field(&v, "uid").unwrap_or("").to_string();
        let fins = meta::finalizers(&v);
        let deps = dependents.get(&uid).cloned().unwrap_or_default();
        if fins.iter().any(|f| f == "orphan") {
            plan.orphan.push((o, uid, deps));
        } else if fins.iter().any(|f| f == "foregroundDeletion") {
            plan.foreground.push((o, deps));
        }
    }
    for (d, owners) in owners_of {
        if owners.iter().all(|u| !alive.contains(u)) {
            plan.background.push(d);
        }
    }
    plan
}

async fn collect_garbage(state: &Arc<ApiServer>) {
    let (all, _) = state.store.list("/registry/");
    let Ok(plan) = tokio::task::spawn_blocking(move || plan(&all)).await else {
        return;
    };
    for (o, uid, deps) in &plan.orphan {
        for d in deps {
            let Some(cur) = state.store.get(&d.key) else {
                continue;
            };
            let mut dv = cur.value();
            if let Some(refs) = dv
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                if refs.is_empty() {
                    meta::metadata_mut(&mut dv).remove("ownerReferences");
                }
            }
            let _ = state
                .store
                .update(cur.key.clone(), Some(cur.mod_rev), dv)
                .await;
        }
        if let Some(cur) = state.store.get(&o.key) {
            remove_finalizer(state, &cur, "orphan").await;
        }
    }
    for (o, deps) in &plan.foreground {
        if deps.is_empty() {
            if let Some(cur) = state.store.get(&o.key) {
                remove_finalizer(state, &cur, "foregroundDeletion").await;
            }
        } else {
            for d in deps {
                cascade_delete(state, d).await;
            }
        }
    }
    for d in &plan.background {
        cascade_delete(state, d).await;
    }
}
