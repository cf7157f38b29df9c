//! Server-side apply (`application/apply-patch+yaml`) and `managedFields` bookkeeping,
//! following structured-merge-diff as kube-apiserver v1.33 uses it.
//!
//! The caller owns two upstream steps that need resource knowledge: resetting fields the
//! endpoint ignores (strip `status` from the applied config and from `live` comparisons
//! when applying to the main resource of a type with a status subresource, and `spec`
//! for `/status`), and rejecting an applied object whose apiVersion/kind/name differ from
//! the URL. Known differences from upstream: managers are not capped at 10 Update entries
//! ("ancient-changes"), the `last-applied-configuration` annotation is not reconciled,
//! and granular maps newly added by an Update are owned through their leaves only (no
//! `"."` entry), because the schema facts available here do not say which fields are
//! pointer structs.

mod fieldset;
mod managed;
mod merge;
mod walker;

use serde_json::Value;

use crate::meta::PatchMeta;
use crate::value_eq::json_eq;
use fieldset::{path_string, FieldSet, PathElem};
use managed::{decode, encode_into, strip_ignored, without_managed_fields, Entry};
use walker::Walker;

/// Why a server-side apply was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change (HTTP 409, reason Conflict).
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The applied configuration is malformed (HTTP 400/422).
    #[error("{0}")]
    Invalid(String),
}

/// One field another manager owns that the apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The owning entry's operation ("Apply" or "Update").
    pub operation: String,
    /// The apiVersion the owner wrote the field with.
    pub api_version: String,
    /// The subresource the owner wrote through ("" for the main resource).
    pub subresource: String,
    /// The field path as upstream prints it, e.g. ".spec.replicas".
    pub field: String,
}

impl Conflict {
    /// The owner as kube-apiserver names it: `"mgr"`, plus ` using apps/v1` for updaters.
    pub fn manager_description(&self) -> String {
        let mut out = Value::String(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            out = format!(
                "{out} with subresource {}",
                Value::String(self.subresource.clone())
            );
        }
        if self.operation == "Update" {
            out = format!("{out} using {}", self.api_version);
        }
        out
    }

    /// The `message` of this conflict's `FieldManagerConflict` cause.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_description())
    }
}

/// The 409 message kube-apiserver returns for apply conflicts.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: {}: {}",
            only.cause_message(),
            only.field
        );
    }
    let mut sorted: Vec<&Conflict> = conflicts.iter().collect();
    // Stable: paths keep their order within a manager; managers sort by identity as upstream.
    sorted.sort_by_key(|c| (&c.manager, &c.operation, &c.api_version, &c.subresource));
    let mut lines = Vec::new();
    let mut current = None;
    for c in sorted {
        let owner = c.manager_description();
        if current.as_ref() != Some(&owner) {
            lines.push(format!("conflicts with {owner}:"));
            current = Some(owner);
        }
        lines.push(format!("- {}", c.field));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Result of applying a configuration as `manager`: the merged object with updated
/// `metadata.managedFields`.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    now_rfc3339: &str,
    meta: &dyn PatchMeta,
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::Invalid(
            "the applied configuration must be a JSON object".to_owned(),
        ));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApplyError::Invalid(
            "metadata.managedFields must be nil".to_owned(),
        ));
    }
    let empty = Value::Object(serde_json::Map::new());
    let live = live.unwrap_or(&empty);
    if !live.is_object() {
        return Err(ApplyError::Invalid(
            "the live object is not a JSON object".to_owned(),
        ));
    }
    let strict = Walker { meta, strict: true };
    let lenient = Walker {
        meta,
        strict: false,
    };
    let mut entries = decode(live);
    let live_core = without_managed_fields(live);
    let applied_core = without_managed_fields(applied);

    let mut config_set = strict
        .field_set(&applied_core)
        .map_err(ApplyError::Invalid)?;
    strip_ignored(&mut config_set);
    let mut merged = strict
        .merge(&live_core, &applied_core)
        .map_err(ApplyError::Invalid)?;

    let own = match entries
        .iter()
        .position(|e| e.is(manager, "Apply", api_version))
    {
        Some(i) => i,
        None => {
            entries.push(Entry {
                manager: manager.to_owned(),
                operation: "Apply".to_owned(),
                api_version: api_version.to_owned(),
                time: None,
                subresource: String::new(),
                set: FieldSet::default(),
            });
            entries.len() - 1
        }
    };
    let last_set = std::mem::replace(&mut entries[own].set, config_set.clone());
    entries[own].api_version = api_version.to_owned();

    // Prune what this manager applied before but no longer does, unless someone owns it.
    let owned_by_anyone = entries
        .iter()
        .fold(FieldSet::default(), |acc, e| acc.union(&e.set));
    for path in last_set.difference(&owned_by_anyone).paths() {
        if !owned_by_anyone.has_members_under(&path) {
            lenient.remove_at(&mut merged, &path);
        }
    }

    let changes = Changes::between(&lenient, &live_core, &merged);
    let mut conflicts = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if i == own {
            continue;
        }
        for path in e.set.intersection(&changes.changed).paths() {
            conflicts.push(Conflict {
                manager: e.manager.clone(),
                operation: e.operation.clone(),
                api_version: e.api_version.clone(),
                subresource: e.subresource.clone(),
                field: path_string(&path),
            });
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(conflicts));
    }
    for (i, e) in entries.iter_mut().enumerate() {
        if i != own {
            e.set = e
                .set
                .difference(&changes.changed)
                .difference(&changes.removed);
        }
    }
    let object_changed = !json_eq(&merged, &live_core);
    if object_changed || entries[own].time.is_none() || last_set != entries[own].set {
        entries[own].time = Some(Value::String(now_rfc3339.to_owned()));
    }
    encode_into(&mut merged, entries);
    Ok(merged)
}

/// Recompute managedFields after a non-apply write (create/update/patch) by `manager`:
/// fields that changed (or all set fields, for create) become owned by manager with
/// operation `operation` ("Update"); they are removed from other managers' sets.
///
/// Entries are read from `new` when it carries any (a client may have edited them),
/// otherwise from `old`, as upstream does.
pub fn update_managed_fields(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    now_rfc3339: &str,
    meta: &dyn PatchMeta,
) {
    let walker = Walker {
        meta,
        strict: false,
    };
    let empty = Value::Object(serde_json::Map::new());
    let old = old.unwrap_or(&empty);
    let mut entries = decode(new);
    if entries.is_empty() {
        entries = decode(old);
    }
    let mut old_core = without_managed_fields(old);
    let mut new_core = without_managed_fields(new);
    prune_identical(&mut old_core, &mut new_core);
    let changes = Changes::between(&walker, &old_core, &new_core);
    for e in &mut entries {
        e.set = e
            .set
            .difference(&changes.changed)
            .difference(&changes.removed);
    }
    if !changes.changed.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.is(manager, operation, api_version))
        {
            Some(e) => {
                e.set = e.set.union(&changes.changed);
                e.time = Some(Value::String(now_rfc3339.to_owned()));
            }
            None => entries.push(Entry {
                manager: manager.to_owned(),
                operation: operation.to_owned(),
                api_version: api_version.to_owned(),
                time: Some(Value::String(now_rfc3339.to_owned())),
                subresource: String::new(),
                set: changes.changed.clone(),
            }),
        }
    }
    encode_into(new, entries);
}

/// Field-level differences between two versions of an object (structured-merge-diff
/// `Compare`), with untracked metadata removed.
struct Changes {
    /// Fields added or modified.
    changed: FieldSet,
    /// Fields removed.
    removed: FieldSet,
}

/// Drop, from both objects, every map entry whose value is the same on both sides, at any
/// depth of nested maps. An identical subtree adds the same paths to both field sets, so it
/// can be neither changed nor removed; a parent keeps every differing child, so it compares
/// as before. Walking unchanged subtrees dominated the cost of typical updates (a binding or
/// status write touches a few fields of a large pod).
fn prune_identical(old: &mut Value, new: &mut Value) {
    let (Value::Object(o), Value::Object(n)) = (old, new) else {
        return;
    };
    let same: Vec<String> = o
        .iter()
        .filter(|(k, v)| n.get(k.as_str()).is_some_and(|w| json_eq(v, w)))
        .map(|(k, _)| k.clone())
        .collect();
    for k in &same {
        o.remove(k);
        n.remove(k);
    }
    for (k, v) in o.iter_mut() {
        if let Some(w) = n.get_mut(k.as_str()) {
            prune_identical(v, w);
        }
    }
}

impl Changes {
    fn between(walker: &Walker<'_>, old: &Value, new: &Value) -> Changes {
        // Live objects were validated when written; unkeyable items are simply not tracked.
        let mut old_set = walker.field_set(old).unwrap_or_default();
        let mut new_set = walker.field_set(new).unwrap_or_default();
        strip_ignored(&mut old_set);
        strip_ignored(&mut new_set);
        let mut changed = new_set.difference(&old_set);
        for path in new_set.intersection(&old_set).paths() {
            // Item membership says nothing about content; the item's fields do.
            if matches!(path.last(), Some(PathElem::Key(_) | PathElem::Value(_))) {
                continue;
            }
            let before = walker.value_at(old, &path);
            let after = walker.value_at(new, &path);
            let same = match (before, after) {
                (Some(a), Some(b)) => json_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if !same {
                changed.insert(&path);
            }
        }
        Changes {
            changed,
            removed: old_set.difference(&new_set),
        }
    }
}

#[cfg(test)]
mod tests;
