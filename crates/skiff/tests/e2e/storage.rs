//! PersistentVolumeClaims bind through the default local-path StorageClass once a pod uses
//! them, keep their data across pods, and take their volume and its directory with them
//! when deleted (as on k3s).

use crate::harness::Cluster;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn wait_node_ready(c: &Cluster) -> String {
    c.wait_node_ready()
}

/// Poll until `check` holds (about 60 s), else fail with `what` and the server log tail.
fn eventually(c: &Cluster, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = c.log();
    let tail: String = log
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    panic!("timed out waiting for {what}\nserver log tail:\n{tail}");
}

fn pod(name: &str, script: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "{script}"]
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: data
"#
    )
}

const CLAIM: &str = r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"#;

#[test]
fn pvc_binds_on_first_consumer_keeps_data_and_cleans_up() {
    let c = Cluster::start_with_agent();
    let node = wait_node_ready(&c);

    // The default class exists, as on k3s.
    c.wait_for(
        "default StorageClass",
        &[
            "get",
            "storageclass",
            "local-path",
            "-o",
            "jsonpath={.provisioner} {.volumeBindingMode} {.reclaimPolicy}",
        ],
        "rancher.io/local-path WaitForFirstConsumer Delete",
    );
    let classes = c.ok(&["get", "storageclass"]);
    assert!(classes.contains("local-path (default)"), "{classes}");

    // A claim without a class gets the default one and waits for a consumer.
    c.apply(CLAIM);
    assert_eq!(
        c.ok(&[
            "get",
            "pvc",
            "data",
            "-o",
            "jsonpath={.spec.storageClassName}"
        ]),
        "local-path"
    );
    let reasons = || {
        c.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=data",
            "-o",
            "jsonpath={.items[*].reason}",
        ])
    };
    eventually(&c, "WaitForFirstConsumer event", || {
        reasons().contains("WaitForFirstConsumer")
    });
    assert_eq!(
        c.ok(&["get", "pvc", "data", "-o", "jsonpath={.status.phase}"]),
        "Pending"
    );
    let described = c.ok(&["describe", "pvc", "data"]);
    assert!(
        described.contains("waiting for first consumer to be created before binding"),
        "{described}"
    );

    // A pod that uses it binds it on the node it is scheduled to, and writes a file.
    c.apply(&pod("writer", "echo kept-across-pods > /data/out.txt"));
    c.wait_for(
        "writer done",
        &["get", "pod", "writer", "-o", "jsonpath={.status.phase}"],
        "Succeeded",
    );
    c.wait_for(
        "claim bound",
        &["get", "pvc", "data", "-o", "jsonpath={.status.phase}"],
        "Bound",
    );
    let uid = c.ok(&["get", "pvc", "data", "-o", "jsonpath={.metadata.uid}"]);
    let pv = format!("pvc-{uid}");
    let claim = c.get_json(&["pvc", "data"]);
    assert_eq!(claim["spec"]["volumeName"], pv.as_str());
    assert_eq!(
        claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"],
        node.as_str()
    );
    assert_eq!(
        claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"],
        "yes"
    );
    assert_eq!(claim["status"]["capacity"]["storage"], "1Gi");
    assert_eq!(claim["status"]["accessModes"][0], "ReadWriteOnce");
    assert!(
        claim["metadata"]["finalizers"]
            .to_string()
            .contains("kubernetes.io/pvc-protection"),
        "{claim}"
    );
    let reasons = reasons();
    assert!(reasons.contains("ProvisioningSucceeded"), "{reasons}");

    // Upstream's columns for claims and volumes.
    let table = c.ok(&["get", "pvc", "data"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..6],
        &["data", "Bound", pv.as_str(), "1Gi", "RWO", "local-path"],
        "{table}"
    );
    let volume = c.get_json(&["pv", &pv]);
    assert_eq!(volume["status"]["phase"], "Bound");
    assert_eq!(volume["spec"]["claimRef"]["uid"], uid.as_str());
    assert_eq!(volume["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(
        volume["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"],
        "rancher.io/local-path"
    );
    assert_eq!(
        volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
            ["values"][0],
        node.as_str()
    );
    let dir = PathBuf::from(
        volume["spec"]["hostPath"]["path"]
            .as_str()
            .unwrap_or_default(),
    );
    assert_eq!(
        dir,
        c.data_dir()
            .join("agent/storage")
            .join(format!("{pv}_default_data"))
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap_or_default(),
        "kept-across-pods\n"
    );

    // The data outlives the pod.
    c.ok(&["delete", "pod", "writer"]);
    c.apply(&pod("reader", "cat /data/out.txt"));
    c.wait_for(
        "reader done",
        &["get", "pod", "reader", "-o", "jsonpath={.status.phase}"],
        "Succeeded",
    );
    assert_eq!(c.ok(&["logs", "reader"]), "kept-across-pods\n");

    // In use by a running pod, a deleted claim stays Terminating.
    c.apply(&pod("holder", "trap 'exit 0' TERM; sleep 3600 & wait"));
    c.wait_for(
        "holder running",
        &["get", "pod", "holder", "-o", "jsonpath={.status.phase}"],
        "Running",
    );
    c.ok(&["delete", "pvc", "data", "--wait=false"]);
    std::thread::sleep(Duration::from_secs(2));
    let claim = c.get_json(&["pvc", "data"]);
    assert!(
        claim["metadata"]["deletionTimestamp"].is_string(),
        "{claim}"
    );
    assert_eq!(claim["status"]["phase"], "Bound");
    assert!(dir.exists());

    // Once the pod is gone, the claim, its volume and the directory go.
    c.ok(&["delete", "pod", "holder", "reader"]);
    eventually(&c, "claim deleted", || {
        !c.kubectl(&["get", "pvc", "data"]).ok
    });
    eventually(&c, "volume deleted", || !c.kubectl(&["get", "pv", &pv]).ok);
    eventually(&c, "directory removed", || !dir.exists());
}

#[test]
fn pod_with_missing_claim_stays_pending_with_upstream_message() {
    let c = Cluster::start_with_agent();
    wait_node_ready(&c);
    c.apply(&pod("orphan", "true").replace("claimName: data", "claimName: missing"));
    let msg = || {
        c.ok(&[
            "get",
            "pod",
            "orphan",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].message}",
        ])
    };
    eventually(&c, "FailedScheduling", || {
        msg().contains("persistentvolumeclaim \"missing\" not found")
    });
    assert_eq!(
        c.ok(&["get", "pod", "orphan", "-o", "jsonpath={.status.phase}"]),
        "Pending"
    );

    // An Immediate claim that cannot bind keeps the pod unschedulable.
    c.apply(
        r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: manual
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: missing
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"#,
    );
    eventually(&c, "unbound immediate message", || {
        msg().contains("pod has unbound immediate PersistentVolumeClaims")
    });

    // A matching volume appears: the claim binds and the pod runs.
    c.apply(&format!(
        r#"apiVersion: v1
kind: PersistentVolume
metadata:
  name: manual-1
spec:
  storageClassName: manual
  capacity:
    storage: 2Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath:
    path: {}
"#,
        c.scratch().join("manual-1").display()
    ));
    c.wait_for(
        "claim bound",
        &["get", "pvc", "missing", "-o", "jsonpath={.status.phase}"],
        "Bound",
    );
    c.wait_for(
        "orphan done",
        &["get", "pod", "orphan", "-o", "jsonpath={.status.phase}"],
        "Succeeded",
    );
    let pv = c.get_json(&["pv", "manual-1"]);
    assert_eq!(
        pv["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"],
        "yes"
    );

    // Retain: deleting the claim releases the volume and keeps it.
    c.ok(&["delete", "pod", "orphan"]);
    c.ok(&["delete", "pvc", "missing"]);
    c.wait_for(
        "volume released",
        &["get", "pv", "manual-1", "-o", "jsonpath={.status.phase}"],
        "Released",
    );
}
