//! StatefulSets on the embedded runc node, driven with the real kubectl: ordered start,
//! stable names, hostnames and claims across pod deletion, ordered scale-down that keeps
//! claims, rolling updates through ControllerRevisions and `kubectl rollout undo`.

use crate::harness::Cluster;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Poll `f` for up to `secs` seconds until it returns Ok.
fn eventually(c: &Cluster, what: &str, secs: u64, mut f: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => {
                let log = c.log();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!("{what}: {e}\nserver log tail:\n{}", tail.join("\n"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

fn manifest(name: &str, replicas: u32, claims: bool, policy: &str) -> String {
    let (mounts, templates) = if claims {
        (
            "        volumeMounts:\n        - {name: data, mountPath: /data}\n",
            "  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources: {requests: {storage: 10Mi}}\n",
        )
    } else {
        ("", "")
    };
    format!(
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  serviceName: {name}
  podManagementPolicy: {policy}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        imagePullPolicy: IfNotPresent
        command: ["sleep", "3600"]
        readinessProbe:
          exec: {{command: ["true"]}}
          periodSeconds: 1
{mounts}{templates}"#
    )
}

/// The live (not terminating) pods of set `app`, by name.
fn pods(c: &Cluster, app: &str) -> Vec<Value> {
    let v = c.get_json(&["pods", "-l", &format!("app={app}")]);
    v["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

fn name(p: &Value) -> &str {
    p["metadata"]["name"].as_str().unwrap_or("")
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn names(ps: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = ps.iter().map(|p| name(p).to_string()).collect();
    n.sort();
    n
}

fn events(c: &Cluster, set: &str) -> String {
    c.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.kind=StatefulSet,involvedObject.name={set}"),
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ])
}

#[test]
fn statefulset_keeps_order_names_and_claims() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&manifest("web", 3, true, "OrderedReady"));
    // OrderedReady: whenever web-N exists, web-(N-1) is already Running and Ready.
    eventually(&c, "web-0..2 ready, in order", 60, || {
        let ps = pods(&c, "web");
        for p in &ps {
            let n = name(p);
            let ord: u32 = n
                .trim_start_matches("web-")
                .parse()
                .map_err(|_| n.to_string())?;
            if ord > 0 {
                let prev = format!("web-{}", ord - 1);
                let ok = ps.iter().any(|q| name(q) == prev && ready(q));
                assert!(ok, "{n} exists before {prev} is ready: {:?}", names(&ps));
            }
        }
        let all_ready = ps.len() == 3 && ps.iter().all(ready);
        all_ready.then_some(()).ok_or(format!("{:?}", names(&ps)))
    });
    assert_eq!(names(&pods(&c, "web")), ["web-0", "web-1", "web-2"]);
    c.wait_for(
        "status",
        &["get", "sts", "web", "-o", "jsonpath={.status.replicas}/{.status.readyReplicas}/{.status.availableReplicas}/{.status.currentReplicas}/{.status.updatedReplicas}/{.status.observedGeneration}"],
        "3/3/3/3/3/1",
    );
    let set = c.get_json(&["sts", "web"]);
    let rev = set["status"]["updateRevision"]
        .as_str()
        .expect("updateRevision");
    assert_eq!(set["status"]["currentRevision"], rev);
    assert!(rev.starts_with("web-"), "{rev}");
    let uid = set["metadata"]["uid"].as_str().expect("uid");

    let p1 = c.get_json(&["pod", "web-1"]);
    let labels = &p1["metadata"]["labels"];
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-1");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "1");
    assert_eq!(labels["controller-revision-hash"], rev);
    assert_eq!(p1["spec"]["hostname"], "web-1");
    assert_eq!(p1["spec"]["subdomain"], "web");
    let owner = &p1["metadata"]["ownerReferences"][0];
    assert_eq!(
        (&owner["kind"], &owner["uid"], &owner["controller"]),
        (
            &Value::from("StatefulSet"),
            &Value::from(uid),
            &Value::from(true)
        )
    );
    let vol = p1["spec"]["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == "data"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        vol["persistentVolumeClaim"]["claimName"], "data-web-1",
        "{p1}"
    );
    let rev_obj = c.get_json(&["controllerrevision", rev]);
    assert_eq!(rev_obj["revision"], 1);
    assert_eq!(rev_obj["metadata"]["ownerReferences"][0]["uid"], uid);

    // Each pod has its own bound claim, labelled with the selector.
    for i in 0..3 {
        let claim = format!("data-web-{i}");
        c.wait_for(
            "claim bound",
            &[
                "get",
                "pvc",
                &claim,
                "-o",
                "jsonpath={.status.phase}/{.metadata.labels.app}",
            ],
            "Bound/web",
        );
        c.ok(&[
            "exec",
            &format!("web-{i}"),
            "--",
            "sh",
            "-c",
            &format!("echo id-{i} > /data/id"),
        ]);
    }
    assert_eq!(c.ok(&["exec", "web-1", "--", "hostname"]).trim(), "web-1");

    // A deleted pod comes back under its name, with its claim and data.
    let old_uid = p1["metadata"]["uid"].as_str().unwrap_or("").to_string();
    c.ok(&["delete", "pod", "web-1", "--wait=false"]);
    eventually(&c, "web-1 recreated and ready", 60, || {
        let r = c.kubectl(&["get", "pod", "web-1", "-o", "json"]);
        let p: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let fresh = p["metadata"]["uid"].as_str().is_some_and(|u| u != old_uid);
        (fresh && p["metadata"]["deletionTimestamp"].is_null() && ready(&p))
            .then_some(())
            .ok_or(format!("{}", p["metadata"]))
    });
    assert_eq!(
        c.ok(&["exec", "web-1", "--", "cat", "/data/id"]).trim(),
        "id-1"
    );
    assert_eq!(c.ok(&["exec", "web-1", "--", "hostname"]).trim(), "web-1");

    // Scaling down removes web-2 before web-1, and keeps their claims (Retain).
    c.ok(&["scale", "sts", "web", "--replicas=1"]);
    eventually(&c, "scaled to web-0", 60, || {
        let ps = pods(&c, "web");
        let n = names(&ps);
        let has = |x: &str| n.iter().any(|m| m == x);
        assert!(
            !has("web-2") || has("web-1"),
            "web-1 went before web-2: {n:?}"
        );
        (n == ["web-0"]).then_some(()).ok_or(format!("{n:?}"))
    });
    let claims = c.ok(&["get", "pvc", "-o", "jsonpath={.items[*].metadata.name}"]);
    assert_eq!(claims.trim(), "data-web-0 data-web-1 data-web-2");
    c.wait_for(
        "status after scale-down",
        &[
            "get",
            "sts",
            "web",
            "-o",
            "jsonpath={.status.replicas}/{.status.readyReplicas}",
        ],
        "1/1",
    );

    // Scaling up again hands web-1 its old claim.
    c.ok(&["scale", "sts", "web", "--replicas=2"]);
    eventually(&c, "web-1 back", 60, || {
        let ps = pods(&c, "web");
        (ps.len() == 2 && ps.iter().all(ready))
            .then_some(())
            .ok_or(format!("{:?}", names(&ps)))
    });
    assert_eq!(
        c.ok(&["exec", "web-1", "--", "cat", "/data/id"]).trim(),
        "id-1"
    );

    let ev = events(&c, "web");
    for want in [
        "SuccessfulCreate: create Pod web-0 in StatefulSet web successful",
        "SuccessfulCreate: create Claim data-web-0 Pod web-0 in StatefulSet web success",
        "SuccessfulDelete: delete Pod web-2 in StatefulSet web successful",
        "SuccessfulDelete: delete Pod web-1 in StatefulSet web successful",
    ] {
        assert!(ev.contains(want), "missing {want:?} in\n{ev}");
    }
}

#[test]
fn statefulset_rolls_out_and_undoes() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    c.apply(&manifest("db", 2, false, "OrderedReady"));
    c.wait_for(
        "2 ready",
        &[
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.readyReplicas}/{.status.updatedReplicas}",
        ],
        "2/2",
    );
    let first = c.get_json(&["sts", "db"])["status"]["updateRevision"]
        .as_str()
        .expect("revision")
        .to_string();
    let out = c.ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(
        out.contains("partitioned roll out complete: 2 new pods have been updated"),
        "{out}"
    );

    // A template change rolls from the highest ordinal down to a new revision.
    c.ok(&["set", "env", "sts/db", "V=2"]);
    let out = c.ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(out.contains("partitioned roll out complete"), "{out}");
    c.wait_for(
        "rolled",
        &[
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.updatedReplicas}/{.status.currentReplicas}/{.status.readyReplicas}",
        ],
        "2/2/2",
    );
    let set = c.get_json(&["sts", "db"]);
    let second = set["status"]["updateRevision"]
        .as_str()
        .expect("revision")
        .to_string();
    assert_ne!(second, first);
    assert_eq!(set["status"]["currentRevision"], second.as_str());
    for p in ["db-0", "db-1"] {
        let pod = c.get_json(&["pod", p]);
        assert_eq!(
            pod["metadata"]["labels"]["controller-revision-hash"],
            second.as_str()
        );
        assert_eq!(pod["spec"]["containers"][0]["env"][0]["value"], "2", "{p}");
    }
    let hist = c.ok(&["rollout", "history", "sts/db"]);
    let numbers: Vec<&str> = hist
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(numbers, ["1", "2"], "{hist}");
    let rev2 = c.ok(&["rollout", "history", "sts/db", "--revision=2"]);
    assert!(
        rev2.contains("V:") || rev2.contains("V=") || rev2.contains("\tV"),
        "{rev2}"
    );

    // Undo brings the first template back under its old revision, renumbered to 3; every
    // request kubectl makes for it succeeds (kubectl 1.33 logs `"Response" status="200 OK"`).
    let r = c.kubectl(&["rollout", "undo", "sts/db", "-v=8"]);
    assert!(
        r.ok && r.stdout.contains("rolled back"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let responses: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("\"Response\" status="))
        .collect();
    assert!(!responses.is_empty(), "no responses logged: {}", r.stderr);
    let failed: Vec<&&str> = responses
        .iter()
        .filter(|l| !l.contains("\"Response\" status=\"2"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        r.stderr.contains("PATCH"),
        "undo patches the set: {}",
        r.stderr
    );
    c.ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    c.wait_for(
        "rolled back",
        &["get", "sts", "db", "-o", "jsonpath={.status.updateRevision}/{.status.currentRevision}/{.status.updatedReplicas}/{.status.readyReplicas}"],
        &format!("{first}/{first}/2/2"),
    );
    let rev = c.get_json(&["controllerrevision", &first]);
    assert_eq!(rev["revision"], 3);
    for p in ["db-0", "db-1"] {
        let pod = c.get_json(&["pod", p]);
        assert!(pod["spec"]["containers"][0]["env"].is_null(), "{p}: {pod}");
    }

    // A partition keeps the pods below it at the current revision.
    c.ok(&[
        "patch",
        "sts",
        "db",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}}}}"#,
    ]);
    c.ok(&["set", "env", "sts/db", "V=3"]);
    c.wait_for(
        "partitioned rollout",
        &[
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.updatedReplicas}/{.status.readyReplicas}",
        ],
        "1/2",
    );
    let set = c.get_json(&["sts", "db"]);
    assert_eq!(set["status"]["currentRevision"], first.as_str());
    let p0 = c.get_json(&["pod", "db-0"]);
    assert_eq!(
        p0["metadata"]["labels"]["controller-revision-hash"],
        first.as_str()
    );
}

#[test]
fn statefulset_claims_follow_the_retention_policy() {
    let c = Cluster::start_with_agent();
    c.wait_node_ready();
    let m = manifest("kv", 2, true, "Parallel").replace(
        "  podManagementPolicy: Parallel\n",
        "  podManagementPolicy: Parallel\n  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Delete}\n",
    );
    c.apply(&m);
    c.wait_for(
        "2 ready",
        &["get", "sts", "kv", "-o", "jsonpath={.status.readyReplicas}"],
        "2",
    );
    let uid = c.get_json(&["sts", "kv"])["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    // whenDeleted: Delete — the set controls its claims.
    for claim in ["data-kv-0", "data-kv-1"] {
        let r = &c.get_json(&["pvc", claim])["metadata"]["ownerReferences"][0];
        assert_eq!(
            (r["kind"].as_str(), r["uid"].as_str()),
            (Some("StatefulSet"), Some(uid.as_str())),
            "{claim}"
        );
        assert_eq!(r["controller"], true);
    }
    // whenScaled: Delete — the claim of the pod scaled away goes with it.
    c.ok(&["scale", "sts", "kv", "--replicas=1"]);
    eventually(&c, "data-kv-1 deleted", 60, || {
        let out = c.ok(&["get", "pvc", "-o", "jsonpath={.items[*].metadata.name}"]);
        (out.trim() == "data-kv-0").then_some(()).ok_or(out)
    });
    // Deleting the set takes the remaining claim.
    c.ok(&["delete", "sts", "kv", "--wait=false"]);
    eventually(&c, "claims gone with the set", 60, || {
        let out = c.ok(&["get", "pvc", "-o", "jsonpath={.items[*].metadata.name}"]);
        out.trim().is_empty().then_some(()).ok_or(out)
    });
    let ev = events(&c, "kv");
    assert!(
        ev.contains("SuccessfulCreate: create Claim data-kv-1 Pod kv-1 in StatefulSet kv success"),
        "{ev}"
    );
}
