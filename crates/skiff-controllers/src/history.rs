//! ControllerRevisions: the template history StatefulSets and DaemonSets keep so a
//! rollout can be tracked and undone (upstream's pkg/controller/history). A revision's
//! data is the strategic merge patch `{"spec":{"template":{...,"$patch":"replace"}}}`
//! that `kubectl rollout undo` applies to the owner to bring its template back; its name is
//! `<owner>-<hash of that data>`, and the hash also labels the revision (and, through the
//! owning controller, its pods).

use crate::deployment::safe_encode;
use crate::error::ControllerError;
use crate::owner_refs::{controlled_by, controller_ref};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label carrying a revision's hash.
pub const HASH_LABEL: &str = "controller-revision-hash";

/// Longest owner-name prefix in a revision name (upstream keeps names within 253).
const MAX_PREFIX: usize = 223;

/// The revision data for `template`: the patch that restores it on the owner.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(obj) = t.as_object_mut() {
        obj.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// FNV-1 (not 1a), 32 bits: upstream hashes revisions with Go's `fnv.New32`.
fn fnv32(bytes: &[u8], mut h: u32) -> u32 {
    for b in bytes {
        h = h.wrapping_mul(0x0100_0193);
        h ^= u32::from(*b);
    }
    h
}

/// The hash of revision `data`, salted with the owner's collision count when set.
pub fn hash(data: &Value, collision_count: Option<i32>) -> String {
    let bytes = serde_json::to_vec(data).unwrap_or_default();
    let mut h = fnv32(&bytes, 0x811c_9dc5);
    if let Some(c) = collision_count {
        h = fnv32(c.to_string().as_bytes(), h);
    }
    safe_encode(&h.to_string())
}

/// `<owner>-<hash>`, the owner name cut so the whole stays a valid object name.
pub fn revision_name(owner: &str, hash: &str) -> String {
    let prefix = match owner.char_indices().nth(MAX_PREFIX) {
        Some((i, _)) => &owner[..i],
        None => owner,
    };
    format!("{prefix}-{hash}")
}

/// A new (not yet created) revision of `owner` holding `data`, labelled with the
/// template's labels and its hash, controlled by `owner`.
pub fn new_revision<O: Resource<DynamicType = ()>>(
    owner: &O,
    template_labels: Option<&BTreeMap<String, String>>,
    data: Value,
    revision: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    let h = hash(&data, collision_count);
    let mut labels = template_labels.cloned().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), h.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(
                owner.meta().name.as_deref().unwrap_or(""),
                &h,
            )),
            namespace: owner.meta().namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![controller_ref(owner)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// The revisions `owner` controls, oldest revision number first.
pub fn owned_by<O: Resource<DynamicType = ()>>(
    store: &Store<ControllerRevision>,
    owner: &O,
) -> Vec<Arc<ControllerRevision>> {
    let ns = owner.meta().namespace.as_deref();
    let mut revs: Vec<_> = store
        .state()
        .into_iter()
        .filter(|r| r.metadata.namespace.as_deref() == ns && controlled_by(r.as_ref(), owner))
        .collect();
    sort_by_revision(&mut revs);
    revs
}

/// Order by revision number, then name, as upstream's history sort does.
pub fn sort_by_revision(revs: &mut [Arc<ControllerRevision>]) {
    revs.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
}

/// The revision number a new revision gets: one past the highest.
pub fn next_number(revs: &[Arc<ControllerRevision>]) -> i64 {
    revs.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// Whether two revisions hold the same template.
pub fn same_data(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    a.data.as_ref().map(|d| &d.0) == b.data.as_ref().map(|d| &d.0)
}

/// The existing revisions holding the same template as `needle`.
pub fn find_equal<'a>(
    revs: &'a [Arc<ControllerRevision>],
    needle: &ControllerRevision,
) -> Vec<&'a Arc<ControllerRevision>> {
    revs.iter().filter(|r| same_data(r, needle)).collect()
}

/// Create `rev`. A name taken by a revision with the same data is that revision; a name
/// taken by different data is a hash collision: `collision_count` is bumped and the
/// caller persists it on the owner's status and retries (as upstream).
pub async fn create(
    client: &Client,
    rev: &ControllerRevision,
    collision_count: &mut i32,
) -> Result<ControllerRevision, ControllerError> {
    let ns = rev.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    let name = rev.name_any();
    match api.create(&PostParams::default(), rev).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let existing = api
                .get(&name)
                .await
                .map_err(ControllerError::api(format!("reading revision {name}")))?;
            if same_data(&existing, rev) && owners_match(&existing, rev) {
                return Ok(existing);
            }
            *collision_count += 1;
            Err(ControllerError::api(format!("creating revision {name}"))(
                kube::Error::Api(e),
            ))
        }
        Err(e) => Err(ControllerError::api(format!("creating revision {name}"))(e)),
    }
}

fn owners_match(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    let uid = |r: &ControllerRevision| crate::owner_refs::controller_of(r).map(|o| o.uid.clone());
    uid(a) == uid(b)
}

/// Give an existing revision a new number (a rollback re-uses the old revision's object).
pub async fn renumber(
    client: &Client,
    rev: &ControllerRevision,
    revision: i64,
) -> Result<ControllerRevision, ControllerError> {
    if rev.revision == revision {
        return Ok(rev.clone());
    }
    let ns = rev.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    let patch =
        json!({"revision": revision, "metadata": {"resourceVersion": rev.resource_version()}});
    api.patch(
        &rev.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(ControllerError::api(format!(
        "renumbering revision {}",
        rev.name_any()
    )))
}

/// Delete the oldest revisions beyond `limit`, sparing those named in `live` (the
/// current and update revisions and those pods still run). `revs` is oldest first.
pub async fn truncate(
    client: &Client,
    revs: &[Arc<ControllerRevision>],
    live: &[&str],
    limit: i32,
) -> Result<(), ControllerError> {
    let candidates: Vec<_> = revs
        .iter()
        .filter(|r| !live.contains(&r.name_any().as_str()))
        .collect();
    let excess = candidates.len().saturating_sub(limit.max(0) as usize);
    for r in candidates.into_iter().take(excess) {
        let ns = r.metadata.namespace.clone().unwrap_or_default();
        let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
        match api.delete(&r.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(ControllerError::api(format!(
                    "deleting revision {}",
                    r.name_any()
                ))(e))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSet;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"name": "c", "image": image}]}
        }))
        .expect("template")
    }

    #[test]
    fn fnv1_matches_reference_values() {
        assert_eq!(fnv32(b"", 0x811c_9dc5), 0x811c_9dc5);
        assert_eq!(fnv32(b"a", 0x811c_9dc5), 0x050c_5d7e);
        assert_eq!(fnv32(b"foobar", 0x811c_9dc5), 0x31f0_b262);
    }

    #[test]
    fn patch_replaces_the_whole_template() {
        let p = template_patch(&template("busybox:1.36"));
        assert_eq!(p["spec"]["template"]["$patch"], "replace");
        assert_eq!(
            p["spec"]["template"]["spec"]["containers"][0]["image"],
            "busybox:1.36"
        );
    }

    #[test]
    fn hash_follows_data_and_collisions() {
        let a = template_patch(&template("busybox:1.36"));
        let b = template_patch(&template("busybox:1.37"));
        assert_eq!(hash(&a, None), hash(&a.clone(), None));
        assert_ne!(hash(&a, None), hash(&b, None));
        assert_ne!(hash(&a, None), hash(&a, Some(1)));
    }

    #[test]
    fn revisions_are_named_labelled_and_owned() {
        let mut set = StatefulSet::default();
        set.metadata.name = Some("web".into());
        set.metadata.namespace = Some("default".into());
        set.metadata.uid = Some("u1".into());
        let t = template("busybox:1.36");
        let data = template_patch(&t);
        let h = hash(&data, None);
        let rev = new_revision(
            &set,
            t.metadata.as_ref().and_then(|m| m.labels.as_ref()),
            data,
            3,
            None,
        );
        assert_eq!(rev.name_any(), format!("web-{h}"));
        assert_eq!(rev.labels().get(HASH_LABEL), Some(&h));
        assert_eq!(rev.labels().get("app").map(String::as_str), Some("db"));
        assert_eq!(rev.revision, 3);
        assert!(controlled_by(&rev, &set));
    }

    #[test]
    fn long_owner_names_are_cut() {
        let owner = "x".repeat(300);
        let name = revision_name(&owner, "abc");
        assert_eq!(name.len(), MAX_PREFIX + 4);
    }
}
