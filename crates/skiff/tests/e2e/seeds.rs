//! Every seed manifest applies as it would on a real cluster with no controllers.

use crate::harness::{seed, Cluster};

fn apply_seed(c: &Cluster, name: &str) -> crate::harness::Run {
    c.kubectl(&["apply", "-f", seed(name).to_str().unwrap_or_default()])
}

#[test]
fn seed_manifests_apply_like_upstream() {
    let c = Cluster::start();
    let r = apply_seed(&c, "tutorial.yaml");
    assert!(r.ok, "{}\n{}", r.stdout, r.stderr);
    // brownbear's LimitRange lists type Container twice, which kube-apiserver refuses
    // (spec.limits[1].type: Duplicate value); everything else in it applies.
    let r = apply_seed(&c, "brownbear.yaml");
    assert!(
        !r.ok
            && r.stderr
                .contains("spec.limits[1].type: Duplicate value: \"Container\""),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    for obj in [
        "deployment.apps/brownbear-web",
        "networkpolicy.networking.k8s.io/web-to-api",
        "resourcequota/brownbear-production-quota",
    ] {
        assert!(r.stdout.contains(obj), "{obj} applied: {}", r.stdout);
    }
    assert!(
        !c.kubectl(&[
            "get",
            "limitrange",
            "-n",
            "brownbear-production",
            "brownbear-production-limits"
        ])
        .ok
    );
    // b2connect has a ServiceMonitor whose CRD is not installed: everything else applies and
    // the ServiceMonitor fails exactly like upstream.
    let r = apply_seed(&c, "b2connect.yaml");
    assert!(
        !r.ok && r.stderr.contains("no matches for kind \"ServiceMonitor\""),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stdout.contains("configured") || r.stdout.contains("created"),
        "{}",
        r.stdout
    );
    // Istio kinds without their CRDs: refused as upstream.
    let r = apply_seed(&c, "brownbear-mesh.yaml");
    assert!(
        !r.ok && r.stderr.contains("no matches for kind"),
        "{}",
        r.stderr
    );
    let r = apply_seed(&c, "b2connect-bad-secret.yaml");
    assert!(!r.ok, "bad secret refused");
    // Re-applying is a no-op.
    let r = apply_seed(&c, "tutorial.yaml");
    assert!(
        r.ok && r.stdout.contains("unchanged"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let svc = c.ok(&["get", "svc", "-A", "-o", "wide"]);
    assert!(svc.contains("LoadBalancer"), "{svc}");
}
