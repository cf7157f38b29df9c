//! Workload controllers: ReplicaSets, ReplicationControllers and Deployments driven with the
//! real kubectl, on the embedded runc node (busybox) or on simulated nodes for counts.

use crate::harness::{ChildGuard, Cluster};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Wait until the embedded agent's Node is Ready.
fn wait_node_ready(c: &Cluster) {
    c.wait_node_ready();
}

/// Names of the non-terminating pods with label `sel`.
fn live_pods(c: &Cluster, sel: &str) -> Vec<String> {
    let v = c.get_json(&["pods", "-l", sel]);
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
        .collect()
}

/// Poll `f` for up to `secs` seconds until it returns true.
fn eventually(what: &str, secs: u64, mut f: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

const RS: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sleep", "3600"]
"#;

#[test]
fn replicaset_keeps_replicas_adopts_and_releases() {
    let c = Cluster::start_with_agent();
    wait_node_ready(&c);
    c.apply(RS);
    c.wait_for(
        "3 ready replicas",
        &["get", "rs", "web", "-o", "jsonpath={.status.readyReplicas}/{.status.availableReplicas}/{.status.fullyLabeledReplicas}/{.status.observedGeneration}"],
        "3/3/3/1",
    );
    let rs = c.get_json(&["rs", "web"]);
    let uid = rs["metadata"]["uid"].as_str().expect("uid").to_string();
    let pods = c.get_json(&["pods", "-l", "app=web"]);
    let items = pods["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{pods}");
    for p in items {
        let name = p["metadata"]["name"].as_str().expect("name");
        let suffix = name.strip_prefix("web-").expect("generateName <rs>-");
        assert_eq!(suffix.len(), 5, "{name}");
        assert_eq!(p["metadata"]["labels"]["tier"], "front", "template labels");
        let r = &p["metadata"]["ownerReferences"][0];
        assert_eq!(r["kind"], "ReplicaSet");
        assert_eq!(r["apiVersion"], "apps/v1");
        assert_eq!(r["uid"], uid.as_str());
        assert_eq!(r["controller"], true);
        assert_eq!(r["blockOwnerDeletion"], true);
    }

    // A deleted pod is replaced.
    let victim = live_pods(&c, "app=web")[0].clone();
    c.ok(&["delete", "pod", &victim, "--wait=false"]);
    eventually("deleted pod replaced", 60, || {
        let now = live_pods(&c, "app=web");
        if now.len() == 3 && !now.contains(&victim) {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    });

    // An orphan matching the selector is adopted, and one pod too many is deleted.
    c.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: orphan, labels: {app: web}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: busybox:1.36, imagePullPolicy: IfNotPresent, command: [sleep, \"3600\"]}\n",
    );
    eventually("orphan adopted, back to 3", 60, || {
        let now = live_pods(&c, "app=web");
        let r = c.kubectl(&["get", "pod", "orphan", "-o", "json", "--ignore-not-found"]);
        let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let owner = o["metadata"]["ownerReferences"][0]["uid"].clone();
        // The orphan is unscheduled or pending at first: it is the first choice to delete,
        // so it may be adopted and then deleted.
        let adopted_or_gone = owner == uid.as_str()
            || !o["metadata"]["deletionTimestamp"].is_null()
            || (r.ok && r.stdout.trim().is_empty());
        if now.len() == 3 && adopted_or_gone {
            Ok(())
        } else {
            Err(format!("{now:?} {o}"))
        }
    });

    // A pod relabelled out of the selector is released and replaced.
    let released = live_pods(&c, "app=web")[0].clone();
    c.ok(&["label", "pod", &released, "app=other", "--overwrite"]);
    eventually("relabelled pod released and replaced", 60, || {
        let p = c.get_json(&["pod", &released]);
        let refs = p["metadata"]["ownerReferences"]
            .as_array()
            .map_or(0, Vec::len);
        let now = live_pods(&c, "app=web");
        if refs == 0 && now.len() == 3 {
            Ok(())
        } else {
            Err(format!("refs {refs} pods {now:?}"))
        }
    });

    // Scaling down through the scale subresource.
    c.ok(&["scale", "rs", "web", "--replicas=1"]);
    c.wait_for(
        "scaled to 1",
        &[
            "get",
            "rs",
            "web",
            "-o",
            "jsonpath={.status.replicas}/{.status.readyReplicas}",
        ],
        "1/1",
    );
    eventually("one live pod", 30, || {
        let now = live_pods(&c, "app=web");
        (now.len() == 1).then_some(()).ok_or(format!("{now:?}"))
    });
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=ReplicaSet,involvedObject.name=web",
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ]);
    assert!(
        events.contains("SuccessfulCreate: Created pod: web-"),
        "{events}"
    );
    assert!(
        events.contains("SuccessfulDelete: Deleted pod: web-"),
        "{events}"
    );
    c.ok(&["delete", "pod", &released, "--wait=false"]);
}

#[test]
fn replica_controllers_scale_on_simulated_nodes() {
    let c = Cluster::start_scheduler_only();
    let _nodes = c.simulated_nodes(4);
    c.apply(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: big}\nspec:\n  replicas: 60\n  minReadySeconds: 1\n  selector: {matchLabels: {app: big}}\n  template:\n    metadata: {labels: {app: big}}\n    spec:\n      containers: [{name: c, image: busybox:1.36}]\n",
    );
    c.apply(
        "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec:\n  replicas: 5\n  selector: {app: rc}\n  template:\n    metadata: {labels: {app: rc}}\n    spec:\n      containers: [{name: c, image: busybox:1.36}]\n",
    );
    c.wait_for(
        "60 available",
        &[
            "get",
            "rs",
            "big",
            "-o",
            "jsonpath={.status.replicas}/{.status.availableReplicas}",
        ],
        "60/60",
    );
    c.wait_for(
        "rc ready",
        &[
            "get",
            "rc",
            "rc",
            "-o",
            "jsonpath={.status.replicas}/{.status.readyReplicas}",
        ],
        "5/5",
    );
    let pods = c.get_json(&["pods", "-l", "app=rc"]);
    assert_eq!(
        pods["items"][0]["metadata"]["ownerReferences"][0]["kind"],
        "ReplicationController"
    );
    // Never more pods than asked for, even while caches lag behind the creations.
    assert_eq!(live_pods(&c, "app=big").len(), 60);
    c.ok(&["scale", "rs", "big", "--replicas=7"]);
    c.wait_for(
        "scaled down",
        &["get", "rs", "big", "-o", "jsonpath={.status.replicas}"],
        "7",
    );
    let names: BTreeSet<String> = live_pods(&c, "app=big").into_iter().collect();
    assert_eq!(names.len(), 7, "{names:?}");
}

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {kubernetes.io/change-cause: "first"}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sleep", "3600"]
"#;

/// Watches pods with `kubectl get -w` and records the most live pods and the fewest ready
/// ones seen at any moment.
struct PodWatch {
    _child: ChildGuard,
    seen: std::sync::Arc<std::sync::Mutex<(usize, usize, usize)>>,
}

impl PodWatch {
    /// `initial`: pods the watch's first list holds (the bounds count from then on).
    fn start(c: &Cluster, sel: &str, initial: usize) -> PodWatch {
        let mut child = std::process::Command::new("kubectl")
            .args([
                "get",
                "pods",
                "-l",
                sel,
                "-w",
                "--output-watch-events",
                "-o",
                "json",
            ])
            .env("KUBECONFIG", c.data_dir().join("kubeconfig.yaml"))
            .env("HOME", c.scratch())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kubectl get -w");
        let out = child.stdout.take().expect("stdout");
        // (max live, min ready once the first list is in, events)
        let seen = std::sync::Arc::new(std::sync::Mutex::new((0usize, usize::MAX, 0usize)));
        let s = seen.clone();
        std::thread::spawn(move || {
            let mut pods = std::collections::BTreeMap::<String, (bool, bool)>::new();
            let stream =
                serde_json::Deserializer::from_reader(out).into_iter::<serde_json::Value>();
            for ev in stream.flatten() {
                let o = &ev["object"];
                let name = o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if ev["type"] == "DELETED" {
                    pods.remove(&name);
                } else {
                    let live = o["metadata"]["deletionTimestamp"].is_null();
                    let ready = o["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True");
                    pods.insert(name, (live, live && ready));
                }
                let live = pods.values().filter(|p| p.0).count();
                let ready = pods.values().filter(|p| p.1).count();
                let mut g = s.lock().unwrap_or_else(|p| p.into_inner());
                g.0 = g.0.max(live);
                g.2 += 1;
                if g.2 >= initial {
                    g.1 = g.1.min(ready);
                }
            }
        });
        PodWatch {
            _child: ChildGuard(child),
            seen,
        }
    }

    fn bounds(&self) -> (usize, usize, usize) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn replica_sets(c: &Cluster) -> Vec<serde_json::Value> {
    let v = c.get_json(&["rs", "-l", "app=web"]);
    v["items"].as_array().cloned().unwrap_or_default()
}

fn rollout_ok(c: &Cluster) {
    let out = c.ok(&["rollout", "status", "deploy/web", "--timeout=90s"]);
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );
}

#[test]
fn deployment_rolls_out_undoes_scales_and_reports_stalls() {
    let c = Cluster::start_with_agent();
    wait_node_ready(&c);
    c.apply(DEPLOY);
    rollout_ok(&c);
    let d = c.get_json(&["deploy", "web"]);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1",
        "{d}"
    );
    assert_eq!(d["status"]["availableReplicas"], 3, "{d}");
    assert_eq!(d["status"]["updatedReplicas"], 3, "{d}");
    let conds = d["status"]["conditions"].to_string();
    assert!(
        conds.contains("MinimumReplicasAvailable") && conds.contains("NewReplicaSetAvailable"),
        "{conds}"
    );
    let rs = replica_sets(&c);
    assert_eq!(rs.len(), 1);
    let first = rs[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let hash = rs[0]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .expect("hash")
        .to_string();
    assert_eq!(first, format!("web-{hash}"));
    assert_eq!(
        rs[0]["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash.as_str()
    );
    let ann = &rs[0]["metadata"]["annotations"];
    assert_eq!(ann["deployment.kubernetes.io/revision"], "1");
    assert_eq!(ann["deployment.kubernetes.io/desired-replicas"], "3");
    assert_eq!(ann["deployment.kubernetes.io/max-replicas"], "4");
    assert_eq!(ann["kubernetes.io/change-cause"], "first");
    assert_eq!(
        rs[0]["metadata"]["ownerReferences"][0]["kind"],
        "Deployment"
    );

    // A template change rolls within maxSurge 1 / maxUnavailable 1, as a watch sees it.
    let watch = PodWatch::start(&c, "app=web", 3);
    std::thread::sleep(Duration::from_secs(1));
    // As upstream, change-cause is copied to the current new ReplicaSet: annotate after
    // the template change.
    c.ok(&["set", "env", "deploy/web", "VERSION=2"]);
    c.ok(&[
        "annotate",
        "deploy/web",
        "kubernetes.io/change-cause=second",
        "--overwrite",
    ]);
    rollout_ok(&c);
    let (max_live, min_ready, events) = watch.bounds();
    assert!(events > 3, "the watch saw the rollout");
    assert!(
        max_live <= 4,
        "more than replicas + maxSurge pods: {max_live}"
    );
    assert!(
        min_ready >= 2,
        "fewer than replicas - maxUnavailable ready: {min_ready}"
    );
    let rs = replica_sets(&c);
    assert_eq!(rs.len(), 2);
    let old = rs
        .iter()
        .find(|r| r["metadata"]["name"] == first.as_str())
        .expect("first rs");
    assert_eq!(old["spec"]["replicas"], 0);
    let history = c.ok(&["rollout", "history", "deploy/web"]);
    let rows: Vec<Vec<&str>> = history
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        rows.contains(&vec!["1", "first"]) && rows.contains(&vec!["2", "second"]),
        "{history}"
    );

    // Undo re-uses the first ReplicaSet as revision 3.
    c.ok(&["rollout", "undo", "deploy/web"]);
    rollout_ok(&c);
    let rs = replica_sets(&c);
    assert_eq!(rs.len(), 2, "undo re-uses the old ReplicaSet");
    let back = rs
        .iter()
        .find(|r| r["metadata"]["name"] == first.as_str())
        .expect("first rs");
    assert_eq!(back["spec"]["replicas"], 3);
    assert_eq!(
        back["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    let env = c.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env}",
    ]);
    assert_eq!(env.trim(), "", "template back to revision 1");

    // Scaling, and a deleted pod is replaced.
    c.ok(&["scale", "deploy/web", "--replicas=5"]);
    rollout_ok(&c);
    c.wait_for(
        "5 available",
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.status.availableReplicas}",
        ],
        "5",
    );
    c.ok(&["scale", "deploy/web", "--replicas=2"]);
    c.wait_for(
        "2 replicas",
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.status.replicas}/{.status.availableReplicas}",
        ],
        "2/2",
    );
    let victim = live_pods(&c, "app=web")[0].clone();
    c.ok(&["delete", "pod", &victim, "--wait=false"]);
    eventually("deleted pod replaced", 60, || {
        let now = live_pods(&c, "app=web");
        (now.len() == 2 && !now.contains(&victim))
            .then_some(())
            .ok_or(format!("{now:?}"))
    });

    // Paused: a template change makes no new ReplicaSet until resumed.
    c.ok(&["rollout", "pause", "deploy/web"]);
    c.ok(&["set", "env", "deploy/web", "VERSION=4"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(replica_sets(&c).len(), 2, "no rollout while paused");
    c.ok(&["rollout", "resume", "deploy/web"]);
    rollout_ok(&c);
    assert_eq!(replica_sets(&c).len(), 3);

    // A bad image stalls the rollout past its deadline.
    c.ok(&[
        "patch",
        "deploy/web",
        "-p",
        "{\"spec\":{\"progressDeadlineSeconds\":10}}",
    ]);
    c.ok(&["set", "image", "deploy/web", "c=busybox:does-not-exist"]);
    let r = c.kubectl(&["rollout", "status", "deploy/web", "--timeout=90s"]);
    assert!(!r.ok, "{}", r.stdout);
    assert!(
        r.stderr.contains("exceeded its progress deadline"),
        "{}",
        r.stderr
    );
    let d = c.get_json(&["deploy", "web"]);
    assert!(
        d["status"]["conditions"]
            .to_string()
            .contains("ProgressDeadlineExceeded"),
        "{d}"
    );

    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=Deployment,involvedObject.name=web",
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ]);
    assert!(
        events.contains(&format!(
            "ScalingReplicaSet: Scaled up replica set {first} from 0 to 3"
        )),
        "{events}"
    );
    assert!(
        events.contains("ScalingReplicaSet: Scaled down replica set"),
        "{events}"
    );
}

/// ../shared/fixtures/seeds/brownbear.yaml's Deployment with a working image: busybox httpd
/// answers the readiness and liveness paths on 8080 (probe periods shortened).
const BROWNBEAR: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: brownbear-web}
spec:
  replicas: 6
  selector: {matchLabels: {app: brownbear-web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 2, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: brownbear-web, version: v1.0.0}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /w && echo ok > /w/ready && echo ok > /w/health && exec httpd -f -p 8080 -h /w"]
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          initialDelaySeconds: 1
          periodSeconds: 1
        livenessProbe:
          httpGet: {path: /health, port: 8080}
          initialDelaySeconds: 30
          periodSeconds: 10
        resources:
          limits: {cpu: 500m, memory: 512Mi}
          requests: {cpu: 200m, memory: 256Mi}
"#;

#[test]
fn brownbear_pattern_rolls_within_its_bounds() {
    let c = Cluster::start_with_agent();
    wait_node_ready(&c);
    c.apply(BROWNBEAR);
    let status = |c: &Cluster| {
        let out = c.ok(&[
            "rollout",
            "status",
            "deploy/brownbear-web",
            "--timeout=120s",
        ]);
        assert!(out.contains("successfully rolled out"), "{out}");
    };
    status(&c);
    let watch = PodWatch::start(&c, "app=brownbear-web", 6);
    std::thread::sleep(Duration::from_secs(1));
    c.ok(&[
        "patch",
        "deploy/brownbear-web",
        "-p",
        r#"{"spec":{"template":{"metadata":{"labels":{"version":"v2.0.0"}}}}}"#,
    ]);
    status(&c);
    let (max_live, min_ready, events) = watch.bounds();
    assert!(events > 6, "the watch saw the rollout ({events} events)");
    assert!(max_live <= 8, "more than 6 + maxSurge 2 pods: {max_live}");
    assert!(
        min_ready >= 5,
        "fewer than 6 - maxUnavailable 1 ready: {min_ready}"
    );
    let pods = c.get_json(&["pods", "-l", "app=brownbear-web"]);
    let versions: Vec<&str> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| p["metadata"]["labels"]["version"].as_str())
        .collect();
    assert_eq!(versions, vec!["v2.0.0"; 6]);
    // Undo goes back to the previous template.
    c.ok(&["rollout", "undo", "deploy/brownbear-web"]);
    status(&c);
    let v = c.ok(&[
        "get",
        "deploy",
        "brownbear-web",
        "-o",
        "jsonpath={.spec.template.metadata.labels.version}",
    ]);
    assert_eq!(v.trim(), "v1.0.0");
}

/// What is left of `app=<name>`: (ReplicaSets with their owner kinds, live pods).
fn remains(c: &Cluster, name: &str) -> (Vec<String>, usize) {
    let sel = format!("app={name}");
    let rs = c.get_json(&["rs", "-l", &sel]);
    let owners = rs["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["metadata"]["deletionTimestamp"].is_null())
        .map(|r| {
            r["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["kind"].as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    (owners, live_pods(c, &sel).len())
}

#[test]
fn deleting_a_deployment_cascades_like_upstream() {
    let c = Cluster::start_scheduler_only();
    let _nodes = c.simulated_nodes(2);
    for name in ["bg", "fg", "orphan"] {
        c.apply(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 3\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: c, image: busybox:1.36}}]\n"
        ));
    }
    for name in ["bg", "fg", "orphan"] {
        c.wait_for(
            "available",
            &[
                "get",
                "deploy",
                name,
                "-o",
                "jsonpath={.status.availableReplicas}",
            ],
            "3",
        );
    }
    // Background: the Deployment goes at once, its ReplicaSet and pods after it.
    c.ok(&["delete", "deploy", "bg", "--cascade=background"]);
    eventually("background cascade", 30, || {
        let left = remains(&c, "bg");
        (left == (vec![], 0))
            .then_some(())
            .ok_or(format!("{left:?}"))
    });
    // Foreground: kubectl waits until the Deployment is gone, which is only after its
    // ReplicaSet and pods are.
    c.ok(&[
        "delete",
        "deploy",
        "fg",
        "--cascade=foreground",
        "--timeout=60s",
    ]);
    assert_eq!(remains(&c, "fg"), (vec![], 0));
    // Orphan: the ReplicaSet stays, no longer owned; its pods stay, still owned by it.
    c.ok(&["delete", "deploy", "orphan", "--cascade=orphan"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(remains(&c, "orphan"), (vec![String::new()], 3));
    let pods = c.get_json(&["pods", "-l", "app=orphan"]);
    for p in pods["items"].as_array().into_iter().flatten() {
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet",
            "{p}"
        );
    }
    // The controllers' work queue metrics are on the API server's /metrics.
    let metrics = c.ok(&["get", "--raw", "/metrics"]);
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in /metrics"))
    };
    assert!(value("workqueue_adds_total{name=\"deployment-controller\"}") >= 3.0);
    assert!(value("workqueue_work_duration_seconds_count{name=\"replicaset-controller\"}") >= 3.0);
    assert!(value("workqueue_depth{name=\"deployment-controller\"}") >= 0.0);
    assert!(
        value("controller_reconcile_errors_total{controller=\"deployment-controller\"}") >= 0.0
    );
}
