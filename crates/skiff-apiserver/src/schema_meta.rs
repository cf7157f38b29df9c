//! Adapts skiff-api's schema walker to the patch engines' `PatchMeta`.

use crate::objects::schema_root;
use skiff_api::schema::Node;
use skiff_api::ResourceInfo;
use skiff_patch::{FieldInfo, PatchMeta};

/// Patch metadata of one resource's kind.
pub struct SchemaMeta<'a> {
    root: Option<Node<'a>>,
}

impl<'a> SchemaMeta<'a> {
    /// Metadata for `info` (built-in definition or CRD schema).
    pub fn for_resource(info: &'a ResourceInfo) -> SchemaMeta<'a> {
        SchemaMeta {
            root: schema_root(info),
        }
    }

    /// Metadata for a built-in kind named by group/version/kind (Scale, for example).
    pub fn for_kind(group: &str, version: &str, kind: &str) -> SchemaMeta<'static> {
        SchemaMeta {
            root: skiff_api::schema::Definitions::get().root_for(group, version, kind),
        }
    }
}

impl PatchMeta for SchemaMeta<'_> {
    fn field(&self, path: &[&str]) -> FieldInfo {
        let node = match path.first() {
            Some(&"metadata") => Node::object_meta().at_path(&path[1..]),
            _ => self.root.and_then(|r| r.at_path(path)),
        };
        match node {
            Some(n) => {
                let f = n.facts();
                FieldInfo {
                    patch_strategy: f.patch_strategy,
                    patch_merge_key: f.patch_merge_key,
                    list_type: f.list_type,
                    list_map_keys: f.list_map_keys,
                    map_type: f.map_type,
                }
            }
            None => FieldInfo::default(),
        }
    }
}
