//! persistentVolumeClaimRetentionPolicy: which owner references a StatefulSet's claims
//! carry so the garbage collector deletes them when it should (upstream's
//! isClaimOwnerUpToDate / updateClaimOwnerRefForSetAndPod).
//!
//! - whenDeleted Delete: the claim is controlled by the set (deleting the set deletes it);
//! - whenScaled Delete: a claim of a pod scaled away is controlled by that pod instead
//!   (deleting the condemned pod deletes it);
//! - Retain/Retain: no reference from the set or pod.

use super::identity;
use crate::owner_refs::controller_ref;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

/// The policy as (whenDeleted is Delete, whenScaled is Delete); unknown values are Retain.
pub fn policy(set: &StatefulSet) -> (bool, bool) {
    let p = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let is_delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
    (
        is_delete(p.and_then(|p| p.when_deleted.as_ref())),
        is_delete(p.and_then(|p| p.when_scaled.as_ref())),
    )
}

fn matches_ref<K: Resource<DynamicType = ()>>(r: &OwnerReference, obj: &K) -> bool {
    r.kind == K::kind(&()) && r.name == obj.name_any()
}

fn has_ref(claim: &PersistentVolumeClaim, uid: Option<&String>) -> bool {
    uid.is_some_and(|u| claim.owner_references().iter().any(|r| &r.uid == u))
}

/// A reference naming `obj` with another uid: left by a predecessor, for the garbage
/// collector to act on.
fn has_stale_ref<K: Resource<DynamicType = ()>>(claim: &PersistentVolumeClaim, obj: &K) -> bool {
    claim
        .owner_references()
        .iter()
        .find(|r| matches_ref(r, obj))
        .is_some_and(|r| Some(&r.uid) != obj.meta().uid.as_ref())
}

/// Someone else controls the claim (or a namesake of the set or pod does).
fn has_unexpected_controller(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    let (del, scaled) = policy(set);
    if !del && !scaled {
        return false;
    }
    claim.owner_references().iter().any(|r| {
        if matches_ref(r, set) {
            Some(&r.uid) != set.metadata.uid.as_ref()
        } else if matches_ref(r, pod) {
            Some(&r.uid) != pod.metadata.uid.as_ref()
        } else {
            r.controller == Some(true)
        }
    })
}

/// The set or pod references the claim without being its controller.
fn has_non_controller_owner(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    claim.owner_references().iter().any(|r| {
        (Some(&r.uid) == set.metadata.uid.as_ref() || Some(&r.uid) == pod.metadata.uid.as_ref())
            && r.controller != Some(true)
    })
}

/// Which of (set, pod) should control the claim of `pod` under the set's policy.
fn wanted(set: &StatefulSet, pod: &Pod) -> (bool, bool) {
    let scaled_down = identity::ordinal(pod).is_none_or(|o| !identity::in_range(set, o));
    match policy(set) {
        (false, false) => (false, false),
        (true, false) => (true, false),
        (false, true) => (false, scaled_down),
        (true, true) => (!scaled_down, scaled_down),
    }
}

/// Whether the claim's references already follow the policy (or are in a state the
/// controller must not touch: stale references or another controller).
pub fn up_to_date(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    if has_stale_ref(claim, set) || has_stale_ref(claim, pod) {
        return true;
    }
    let set_uid = set.metadata.uid.as_ref();
    let pod_uid = pod.metadata.uid.as_ref();
    if has_unexpected_controller(claim, set, pod) {
        return !(has_ref(claim, set_uid) || has_ref(claim, pod_uid));
    }
    if has_non_controller_owner(claim, set, pod) {
        return false;
    }
    let (want_set, want_pod) = wanted(set, pod);
    has_ref(claim, set_uid) == want_set && has_ref(claim, pod_uid) == want_pod
}

/// The claim's owner references under the policy: the set's and pod's references are
/// replaced by the wanted controller reference; others are kept.
pub fn owner_refs(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
) -> Vec<OwnerReference> {
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut refs: Vec<OwnerReference> = claim
        .owner_references()
        .iter()
        .filter(|r| !matches_ref(r, set) && !matches_ref(r, pod))
        .cloned()
        .collect();
    if unexpected {
        return refs;
    }
    let (want_set, want_pod) = wanted(set, pod);
    if want_set && set.metadata.uid.is_some() {
        refs.push(controller_ref(set));
    }
    if want_pod && pod.metadata.uid.is_some() {
        refs.push(controller_ref(pod));
    }
    refs
}

/// A claim left by an earlier pod of the same ordinal that its garbage collection has not
/// removed yet: creating the pod now would hand it a claim about to vanish.
pub fn is_stale_for_new_pod(claim: &PersistentVolumeClaim, pod_name: &str) -> bool {
    claim
        .owner_references()
        .iter()
        .any(|r| r.kind == "Pod" && r.name == pod_name)
}

#[cfg(test)]
mod tests {
    use super::super::identity::tests::set;
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy;

    fn with_policy(deleted: &str, scaled: &str) -> StatefulSet {
        let mut s = set();
        if let Some(spec) = s.spec.as_mut() {
            spec.persistent_volume_claim_retention_policy =
                Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(deleted.into()),
                    when_scaled: Some(scaled.into()),
                });
        }
        s
    }

    fn pod(name: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(format!("{name}-uid"));
        p
    }

    fn claim_with(refs: Vec<OwnerReference>) -> PersistentVolumeClaim {
        let mut c = PersistentVolumeClaim::default();
        c.metadata.owner_references = Some(refs);
        c
    }

    fn uids(refs: &[OwnerReference]) -> Vec<&str> {
        refs.iter().map(|r| r.uid.as_str()).collect()
    }

    #[test]
    fn refs_follow_the_policy_table() {
        let (inside, outside) = (pod("web-0"), pod("web-5"));
        let none = claim_with(vec![]);
        let s = with_policy("Retain", "Retain");
        assert!(up_to_date(&none, &s, &inside));
        assert!(owner_refs(&none, &s, &outside).is_empty());

        let s = with_policy("Delete", "Retain");
        assert!(!up_to_date(&none, &s, &inside));
        let refs = owner_refs(&none, &s, &inside);
        assert_eq!(uids(&refs), ["set-uid"]);
        assert_eq!(refs[0].controller, Some(true));
        assert!(up_to_date(&claim_with(refs), &s, &inside));

        let s = with_policy("Retain", "Delete");
        assert!(up_to_date(&none, &s, &inside));
        assert_eq!(uids(&owner_refs(&none, &s, &outside)), ["web-5-uid"]);

        let s = with_policy("Delete", "Delete");
        assert_eq!(uids(&owner_refs(&none, &s, &inside)), ["set-uid"]);
        let scaled = owner_refs(&claim_with(owner_refs(&none, &s, &inside)), &s, &outside);
        assert_eq!(
            uids(&scaled),
            ["web-5-uid"],
            "the set's reference moves to the pod"
        );
    }

    #[test]
    fn other_controllers_and_stale_refs_are_left_alone() {
        let s = with_policy("Delete", "Retain");
        let p = pod("web-0");
        let mut foreign = controller_ref(&p);
        foreign.uid = "someone-else".into();
        foreign.kind = "Other".into();
        foreign.name = "x".into();
        let c = claim_with(vec![foreign.clone()]);
        assert!(up_to_date(&c, &s, &p));
        assert_eq!(uids(&owner_refs(&c, &s, &p)), ["someone-else"]);

        let mut stale = controller_ref(&s);
        stale.uid = "old-set".into();
        assert!(up_to_date(&claim_with(vec![stale]), &s, &p));
    }

    #[test]
    fn claims_owned_by_an_earlier_pod_are_stale() {
        let p = pod("web-1");
        let c = claim_with(vec![controller_ref(&p)]);
        assert!(is_stale_for_new_pod(&c, "web-1"));
        assert!(!is_stale_for_new_pod(&claim_with(vec![]), "web-1"));
    }
}
