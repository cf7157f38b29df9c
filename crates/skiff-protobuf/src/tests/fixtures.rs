//! Upstream round-trip fixtures: the Go protobuf and JSON encodings of one object.

use crate::{decode, supports};

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../testdata/", $name, ".pb")).as_slice(),
            include_str!(concat!("../../testdata/", $name, ".json")),
        )
    };
}

const FIXTURES: &[(&str, &[u8], &str)] = &[
    fixture!("core.v1.ConfigMap"),
    fixture!("core.v1.Secret"),
    fixture!("core.v1.Namespace"),
    fixture!("apps.v1.Deployment"),
    fixture!("core.v1.Service"),
    fixture!("core.v1.ResourceQuota"),
    fixture!("scheduling.k8s.io.v1.PriorityClass"),
    fixture!("policy.v1.PodDisruptionBudget"),
    fixture!("rbac.authorization.k8s.io.v1.ClusterRole"),
    fixture!("rbac.authorization.k8s.io.v1.ClusterRoleBinding"),
    fixture!("rbac.authorization.k8s.io.v1.Role"),
    fixture!("rbac.authorization.k8s.io.v1.RoleBinding"),
    fixture!("networking.k8s.io.v1.Ingress"),
    fixture!("core.v1.ServiceAccount"),
    fixture!("authentication.k8s.io.v1.TokenRequest"),
    fixture!("authorization.k8s.io.v1.SelfSubjectAccessReview"),
    fixture!("authorization.k8s.io.v1.SelfSubjectRulesReview"),
    fixture!("policy.v1.Eviction"),
    fixture!("autoscaling.v1.Scale"),
    fixture!("core.v1.DeleteOptions"),
    fixture!("core.v1.Status"),
    fixture!("coordination.k8s.io.v1.Lease"),
    fixture!("apps.v1.ControllerRevision"),
    fixture!("certificates.k8s.io.v1.CertificateSigningRequest"),
];

#[test]
fn decode_matches_upstream_json_fixtures() {
    for (name, pb, json) in FIXTURES {
        let want: serde_json::Value = serde_json::from_str(json).expect("fixture JSON parses");
        let got = decode(pb).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}: decoded value differs");
        // Member order too: Go writes struct fields in declaration order, and so must we.
        assert_eq!(
            serde_json::to_string(&got).ok(),
            serde_json::to_string(&want).ok(),
            "{name}: member order differs"
        );
    }
}

#[test]
fn fixture_kinds_are_supported() {
    for (name, _, json) in FIXTURES {
        let want: serde_json::Value = serde_json::from_str(json).expect("fixture JSON parses");
        let api_version = want["apiVersion"].as_str().unwrap_or_default();
        let kind = want["kind"].as_str().unwrap_or_default();
        assert!(supports(api_version, kind), "{name}: {api_version} {kind}");
    }
}

#[test]
fn truncated_fixture_is_an_error_not_a_panic() {
    // Every prefix of a real body must either decode or fail cleanly.
    let (_, pb, _) = FIXTURES[0];
    for len in 0..pb.len() {
        let _ = decode(&pb[..len]);
    }
    assert!(decode(&pb[..pb.len() - 1]).is_err());
}
