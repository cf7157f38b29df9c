//! A StatefulSet's current and update revisions (upstream's getStatefulSetRevisions): the
//! update revision is the set's template recorded as a ControllerRevision — an existing
//! one with the same template is reused (and renumbered when it is not the newest, which
//! is how `kubectl rollout undo` shows up here); the current revision is the one named in
//! status.currentRevision.

use super::Ctx;
use crate::error::ControllerError;
use crate::history;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::ResourceExt;
use std::sync::Arc;

/// Most name collisions tolerated in one reconcile before giving up until the next.
const MAX_COLLISIONS: usize = 5;

/// The revisions one reconcile works with.
pub struct Revisions {
    /// Every revision the set controls, oldest first (as read before any was created).
    pub all: Vec<Arc<ControllerRevision>>,
    /// The revision pods below the partition keep.
    pub current: ControllerRevision,
    /// The revision pods are rolled to.
    pub update: ControllerRevision,
    /// The collision count to record in status.
    pub collision_count: i32,
}

/// The template a revision records (its data is `{"spec":{"template":{…,"$patch":"replace"}}}`).
pub fn template_of(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = rev.data.as_ref()?.0.get("spec")?.get("template")?.clone();
    if let Some(obj) = t.as_object_mut() {
        obj.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// A revision of the set's current template, not yet created.
fn candidate(set: &StatefulSet, number: i64, collision_count: i32) -> ControllerRevision {
    let template = set
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    // Upstream always salts the hash with the count, even 0.
    let mut rev = history::new_revision(
        set,
        labels,
        history::template_patch(&template),
        number,
        Some(collision_count),
    );
    // The set's annotations (kubernetes.io/change-cause among them) travel with the
    // revision so `kubectl rollout history` can show them.
    if let Some(a) = set.metadata.annotations.as_ref().filter(|a| !a.is_empty()) {
        rev.metadata.annotations = Some(a.clone());
    }
    rev
}

/// Find or create the update revision and find the current one.
pub async fn resolve(ctx: &Ctx, set: &StatefulSet) -> Result<Revisions, ControllerError> {
    let all = history::owned_by(&ctx.revisions, set);
    let mut collision_count = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let number = history::next_number(&all);
    let wanted = candidate(set, number, collision_count);
    let equal = history::find_equal(&all, &wanted);
    let update = match equal.last() {
        Some(eq) if all.last().is_some_and(|l| l.name_any() == eq.name_any()) => {
            eq.as_ref().clone()
        }
        Some(eq) => history::renumber(&ctx.client, eq, number).await?,
        None => {
            let mut attempt = 0;
            loop {
                let rev = candidate(set, number, collision_count);
                match history::create(&ctx.client, &rev, &mut collision_count).await {
                    Ok(created) => break created,
                    Err(e) if attempt < MAX_COLLISIONS && e.http_code() == Some(409) => {
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    };
    let current_name = set
        .status
        .as_ref()
        .and_then(|s| s.current_revision.as_deref())
        .unwrap_or("");
    let current = all
        .iter()
        .find(|r| r.name_any() == current_name)
        .map(|r| r.as_ref().clone())
        .unwrap_or_else(|| update.clone());
    Ok(Revisions {
        all,
        current,
        update,
        collision_count,
    })
}

#[cfg(test)]
mod tests {
    use super::super::identity::tests::set;
    use super::*;

    #[test]
    fn revisions_record_the_template_and_annotations() {
        let mut s = set();
        s.metadata.annotations = Some([("kubernetes.io/change-cause".into(), "v2".into())].into());
        let rev = candidate(&s, 2, 0);
        assert_eq!(rev.revision, 2);
        assert_eq!(
            rev.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/change-cause"))
                .map(String::as_str),
            Some("v2")
        );
        let t = template_of(&rev).expect("template");
        assert_eq!(Some(&t), s.spec.as_ref().map(|s| &s.template));
        assert!(rev.name_any().starts_with("web-"));
        assert_ne!(rev.name_any(), candidate(&s, 2, 1).name_any());
    }
}
