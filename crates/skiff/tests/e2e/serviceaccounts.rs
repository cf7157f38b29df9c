//! ServiceAccount tokens end to end: `kubectl create token`, bearer JWT authentication and
//! its invalidation, the ServiceAccount admission plugin, and the projected token volume the
//! agent fills in.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::harness::Cluster;

const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A kubeconfig holding only the server, its CA and `token`, so kubectl cannot fall back to
/// the admin client certificate.
fn token_kubeconfig(c: &Cluster, file: &str, token: &str) -> PathBuf {
    let admin = std::fs::read_to_string(c.data_dir().join("kubeconfig.yaml")).expect("kubeconfig");
    let field = |key: &str| {
        admin
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_string())
            .expect("kubeconfig field")
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: sa\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: sa\n    namespace: default\ncurrent-context: c\n",
        field("server:"),
        field("certificate-authority-data:"),
    );
    c.write(file, &text)
}

/// `kubectl auth whoami -o json` with `token`; None when the server refuses it.
fn whoami(c: &Cluster, token: &str) -> Option<serde_json::Value> {
    let cfg = token_kubeconfig(c, "token.kubeconfig", token);
    let cfg = cfg.to_string_lossy().to_string();
    let r = c.kubectl_env(&["auth", "whoami", "-o", "json"], &[("KUBECONFIG", &cfg)]);
    if r.ok {
        return Some(serde_json::from_str(&r.stdout).expect("whoami json"));
    }
    assert!(
        r.stderr.contains("Unauthorized"),
        "whoami failed for another reason: {}",
        r.stderr
    );
    None
}

fn username(v: &serde_json::Value) -> &str {
    v.pointer("/status/userInfo/username")
        .and_then(|u| u.as_str())
        .unwrap_or("")
}

/// Poll until the server refuses `token` (bound objects disappear asynchronously).
fn wait_refused(c: &Cluster, token: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if whoami(c, token).is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{what}: the token is still accepted");
}

#[test]
fn create_token_authenticates_until_its_account_or_pod_is_gone() {
    let mut c = Cluster::start();
    let token = c.ok(&["create", "token", "default"]).trim().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let me = whoami(&c, &token).expect("token accepted");
    assert_eq!(username(&me), "system:serviceaccount:default:default");
    let groups = me["status"]["userInfo"]["groups"].to_string();
    for g in [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ] {
        assert!(groups.contains(&format!("\"{g}\"")), "{g} in {groups}");
    }
    // TokenReview answers for it as well.
    let review = c.kubectl_stdin(
        &["create", "-o", "json", "-f", "-"],
        &format!(
            r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"{token}"}}}}"#
        ),
    );
    assert!(review.ok, "{}", review.stderr);
    let review: serde_json::Value = serde_json::from_str(&review.stdout).expect("review");
    assert_eq!(review["status"]["authenticated"], true);
    assert_eq!(
        review["status"]["user"]["username"],
        "system:serviceaccount:default:default"
    );

    // Wrong audience, too short a lifetime, a missing account.
    let other = c.ok(&["create", "token", "default", "--audience", "vault"]);
    assert!(
        whoami(&c, other.trim()).is_none(),
        "foreign audience refused"
    );
    let err = c.fails(&["create", "token", "default", "--duration", "60s"]);
    assert!(
        err.contains("may not specify a duration less than 10 minutes"),
        "{err}"
    );
    let err = c.fails(&["create", "token", "nope"]);
    assert!(
        err.contains("failed to create token: serviceaccounts \"nope\" not found"),
        "{err}"
    );

    // Deleting the service account invalidates its tokens.
    c.ok(&["create", "serviceaccount", "bot"]);
    let bot = c.ok(&["create", "token", "bot", "--duration", "20m"]);
    let me = whoami(&c, bot.trim()).expect("bot token accepted");
    assert_eq!(username(&me), "system:serviceaccount:default:bot");
    c.ok(&["delete", "serviceaccount", "bot"]);
    assert!(whoami(&c, bot.trim()).is_none(), "deleted account refused");

    // A token bound to a pod dies with the pod (no agent here: the pod never runs).
    c.ok(&[
        "run",
        "holder",
        "--image=busybox:1.36",
        "--image-pull-policy=IfNotPresent",
    ]);
    let bound = c.ok(&[
        "create",
        "token",
        "default",
        "--bound-object-kind",
        "Pod",
        "--bound-object-name",
        "holder",
    ]);
    let me = whoami(&c, bound.trim()).expect("bound token accepted");
    assert_eq!(
        me.pointer("/status/userInfo/extra/authentication.kubernetes.io~1pod-name/0"),
        Some(&serde_json::json!("holder"))
    );
    let err = c.fails(&[
        "create",
        "token",
        "default",
        "--bound-object-kind",
        "Pod",
        "--bound-object-name",
        "ghost",
    ]);
    assert!(err.contains("pods \"ghost\" not found"), "{err}");
    c.ok(&["delete", "pod", "holder", "--grace-period=0", "--force"]);
    wait_refused(&c, bound.trim(), "token of a deleted pod");

    // The signing key survives a restart: tokens issued before it still work.
    c.restart();
    let me = whoami(&c, &token).expect("token accepted after restart");
    assert_eq!(username(&me), "system:serviceaccount:default:default");
}

#[test]
fn pods_get_a_projected_token_volume_that_authenticates() {
    let c = Cluster::start_with_agent();
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: sa-user
spec:
  containers:
  - name: main
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
  terminationGracePeriodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: no-token
spec:
  automountServiceAccountToken: false
  containers:
  - name: main
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
  terminationGracePeriodSeconds: 1
"#,
    );
    let pod = c.get_json(&["pod", "sa-user"]);
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    let vol = &pod["spec"]["volumes"][0];
    let vol_name = vol["name"].as_str().expect("volume name");
    assert!(vol_name.starts_with("kube-api-access-"), "{vol}");
    assert_eq!(
        vol["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        3607
    );
    assert_eq!(
        pod["spec"]["containers"][0]["volumeMounts"][0],
        serde_json::json!({"name": vol_name, "readOnly": true, "mountPath": SA_DIR})
    );
    for p in ["sa-user", "no-token"] {
        c.wait_for(
            &format!("{p} running"),
            &["get", "pod", p, "-o", "jsonpath={.status.phase}"],
            "Running",
        );
    }
    let ns = c.ok(&[
        "exec",
        "sa-user",
        "--",
        "cat",
        &format!("{SA_DIR}/namespace"),
    ]);
    assert_eq!(ns, "default");
    let ca = c.ok(&["exec", "sa-user", "--", "cat", &format!("{SA_DIR}/ca.crt")]);
    let want_ca = std::fs::read_to_string(c.data_dir().join("pki/ca.crt")).expect("ca");
    assert_eq!(ca, want_ca);
    let token = c.ok(&["exec", "sa-user", "--", "cat", &format!("{SA_DIR}/token")]);
    let me = whoami(&c, &token).expect("mounted token accepted");
    assert_eq!(username(&me), "system:serviceaccount:default:default");
    assert_eq!(
        me.pointer("/status/userInfo/extra/authentication.kubernetes.io~1pod-name/0"),
        Some(&serde_json::json!("sa-user"))
    );
    // The mount is read-only.
    let r = c.kubectl(&[
        "exec",
        "sa-user",
        "--",
        "sh",
        "-c",
        &format!("echo x > {SA_DIR}/x"),
    ]);
    assert!(!r.ok, "wrote into the token volume");

    // automountServiceAccountToken: false mounts nothing.
    let pod = c.get_json(&["pod", "no-token"]);
    assert!(pod["spec"].get("volumes").is_none(), "{}", pod["spec"]);
    let r = c.kubectl(&["exec", "no-token", "--", "ls", SA_DIR]);
    assert!(!r.ok, "no token directory: {}", r.stdout);

    // A missing service account is refused by admission.
    let r = c.kubectl(&[
        "run",
        "orphan",
        "--image=busybox:1.36",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"missing"}}"#,
    ]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains(
            "pods \"orphan\" is forbidden: error looking up service account default/missing: serviceaccount \"missing\" not found"
        ),
        "{}",
        r.stderr
    );

    // Deleting the pod invalidates its token.
    c.ok(&["delete", "pod", "sa-user"]);
    wait_refused(&c, &token, "token of the deleted pod");
}
