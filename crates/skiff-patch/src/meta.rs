//! Schema facts the patch engines need, supplied by the caller.

use serde_json::Value;

/// What the schema says about one field (resolved by the caller from OpenAPI extensions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldInfo {
    /// `x-kubernetes-patch-strategy`: "merge", "retainKeys", "merge,retainKeys", "replace".
    pub patch_strategy: Option<String>,
    /// `x-kubernetes-patch-merge-key`, e.g. "name", "containerPort", "mountPath".
    pub patch_merge_key: Option<String>,
    /// `x-kubernetes-list-type`: "atomic" | "set" | "map".
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`, e.g. `["containerPort","protocol"]`.
    pub list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type`: "atomic" | "granular" (also for structs).
    pub map_type: Option<String>,
}

/// How server-side apply treats a list field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced as a whole; one owner for the entire list.
    Atomic,
    /// Primitive values merged by value (`x-kubernetes-list-type: set`).
    Set,
    /// Objects merged by the listed key fields (`x-kubernetes-list-type: map`).
    Map(Vec<String>),
}

impl FieldInfo {
    /// Whether the patch strategy names `merge` (strategic merge lists).
    pub fn strategy_is(&self, wanted: &str) -> bool {
        self.patch_strategy
            .as_deref()
            .is_some_and(|s| s.split(',').any(|p| p.trim() == wanted))
    }

    /// The merge key for strategic merge lists of objects, or "" for primitive lists.
    pub fn merge_key(&self) -> &str {
        self.patch_merge_key.as_deref().unwrap_or("")
    }

    /// Whether the map or struct is atomic for server-side apply.
    pub fn is_atomic_map(&self) -> bool {
        self.map_type.as_deref() == Some("atomic")
    }

    /// The list semantics server-side apply uses for this field.
    ///
    /// Without `x-kubernetes-list-type`, the patch metadata decides, as upstream's
    /// schema conversion does: a merge key makes a map list, `merge` alone a set.
    pub fn list_kind(&self) -> ListKind {
        let merge_key = || self.patch_merge_key.clone().into_iter().collect::<Vec<_>>();
        match self.list_type.as_deref() {
            Some("map") if !self.list_map_keys.is_empty() => {
                ListKind::Map(self.list_map_keys.clone())
            }
            Some("map") if self.patch_merge_key.is_some() => ListKind::Map(merge_key()),
            Some("set") => ListKind::Set,
            Some(_) => ListKind::Atomic,
            None if self.patch_merge_key.is_some() => ListKind::Map(merge_key()),
            None if self.strategy_is("merge") => ListKind::Set,
            None => ListKind::Atomic,
        }
    }
}

/// Resolves schema facts for a field path.
///
/// `path` lists the object keys from the root of the object to the field, exactly as they
/// appear in the JSON document; list indices are omitted (entering a list element adds
/// nothing), map keys ARE included (e.g. `["metadata","labels","app"]`). Unknown paths return
/// `FieldInfo::default()`.
pub trait PatchMeta {
    /// Schema facts for the field at `path`.
    fn field(&self, path: &[&str]) -> FieldInfo;

    /// The schema default of key field `key` in the map list at `list_path`, if any.
    ///
    /// Server-side apply needs it to identify list items whose key field was left to
    /// defaulting. In the built-in v1.33 API the only defaulted list-map key is `protocol`
    /// (ports of containers, services, endpoints), which defaults to "TCP"; override this
    /// for custom schemas.
    fn list_key_default(&self, list_path: &[&str], key: &str) -> Option<Value> {
        let _ = list_path;
        (key == "protocol").then(|| Value::String("TCP".to_owned()))
    }
}

/// A PatchMeta that knows nothing (for custom resources without schema extensions / tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMeta;

impl PatchMeta for NoMeta {
    fn field(&self, _path: &[&str]) -> FieldInfo {
        FieldInfo::default()
    }

    fn list_key_default(&self, _list_path: &[&str], _key: &str) -> Option<Value> {
        None
    }
}

/// Looks up `path` (owned strings) in `meta`.
pub(crate) fn lookup(meta: &dyn PatchMeta, path: &[String]) -> FieldInfo {
    let refs: Vec<&str> = path.iter().map(String::as_str).collect();
    meta.field(&refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        strategy: Option<&str>,
        key: Option<&str>,
        list_type: Option<&str>,
        keys: &[&str],
    ) -> FieldInfo {
        FieldInfo {
            patch_strategy: strategy.map(str::to_owned),
            patch_merge_key: key.map(str::to_owned),
            list_type: list_type.map(str::to_owned),
            list_map_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            map_type: None,
        }
    }

    #[test]
    fn list_kind_follows_list_type_then_patch_strategy() {
        let cases = [
            (
                info(
                    Some("merge"),
                    Some("containerPort"),
                    Some("map"),
                    &["containerPort", "protocol"],
                ),
                ListKind::Map(vec!["containerPort".into(), "protocol".into()]),
            ),
            (
                info(None, Some("name"), None, &[]),
                ListKind::Map(vec!["name".into()]),
            ),
            (info(Some("merge"), None, Some("set"), &[]), ListKind::Set),
            (info(Some("merge"), None, None, &[]), ListKind::Set),
            (info(None, None, Some("atomic"), &[]), ListKind::Atomic),
            (info(None, None, None, &[]), ListKind::Atomic),
        ];
        for (i, want) in cases {
            assert_eq!(i.list_kind(), want, "{i:?}");
        }
    }

    #[test]
    fn strategy_parsing_handles_combined_strategies() {
        let i = info(Some("merge,retainKeys"), Some("name"), None, &[]);
        assert!(i.strategy_is("merge"));
        assert!(i.strategy_is("retainKeys"));
        assert!(!i.strategy_is("replace"));
        assert!(!FieldInfo::default().strategy_is("merge"));
    }
}
