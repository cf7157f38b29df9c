//! Table-driven tests: realistic objects in, the exact cells kube-apiserver
//! (pkg/printers/internalversion, wide mode) sends out.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::registry::{cells, columns, row_conditions};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-01-10T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The RFC 3339 timestamp `secs` seconds before `now()`.
fn ago(secs: i64) -> String {
    (now() - Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Metadata created 51 hours ago (Age "2d3h").
fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": ago(51 * 3600)})
}

const AGE: &str = "2d3h";

fn check(cases: Vec<(&str, &str, &str, Value, Value)>) {
    for (label, group, resource, obj, want) in cases {
        let got = cells(group, resource, &obj, now());
        assert_eq!(Value::Array(got.clone()), want, "{label}");
        assert_eq!(
            got.len(),
            columns(group, resource).len(),
            "{label}: cells align with columns"
        );
    }
}

#[test]
fn pod_cells_follow_print_pod() {
    let web = json!({"name": "web", "image": "nginx:1.27"});
    check(vec![
        (
            "running, one of two ready, restarted 5m ago",
            "",
            "pods",
            json!({"metadata": meta("web-1"),
            "spec": {"nodeName": "node-a", "containers": [web, {"name": "side", "image": "envoy"}]},
            "status": {"phase": "Running", "podIP": "10.42.0.5", "podIPs": [{"ip": "10.42.0.5"}],
                "containerStatuses": [
                    {"name": "web", "ready": true, "restartCount": 3, "state": {"running": {"startedAt": ago(300)}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(300)}}},
                    {"name": "side", "ready": false, "restartCount": 0, "state": {"running": {}}}
                ]}}),
            json!([
                "web-1",
                "1/2",
                "Running",
                "3 (5m ago)",
                AGE,
                "10.42.0.5",
                "node-a",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "crash loop",
            "",
            "pods",
            json!({"metadata": meta("crash"), "spec": {"containers": [web]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "web", "ready": false, "restartCount": 4,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                     "lastState": {"terminated": {"exitCode": 2, "finishedAt": ago(30)}}}]}}),
            json!([
                "crash",
                "0/1",
                "CrashLoopBackOff",
                "4 (30s ago)",
                AGE,
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "second init container running",
            "",
            "pods",
            json!({"metadata": meta("init"), "spec": {"containers": [web],
                    "initContainers": [{"name": "a"}, {"name": "b"}]},
                "status": {"phase": "Pending", "initContainerStatuses": [
                    {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "b", "state": {"running": {}}}],
                  "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "PodInitializing"}}}]}}),
            json!(["init", "0/1", "Init:1/2", "0", AGE, "<none>", "<none>", "<none>", "<none>"]),
        ),
        (
            "init container failed without reason",
            "",
            "pods",
            json!({"metadata": meta("init-fail"), "spec": {"containers": [web], "initContainers": [{"name": "a"}]},
                "status": {"phase": "Pending", "initContainerStatuses": [
                    {"name": "a", "restartCount": 2, "state": {"terminated": {"exitCode": 1}}}]}}),
            json!([
                "init-fail",
                "0/1",
                "Init:ExitCode:1",
                "2",
                AGE,
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "init container back-off",
            "",
            "pods",
            json!({"metadata": meta("init-wait"), "spec": {"containers": [web], "initContainers": [{"name": "a"}]},
                "status": {"phase": "Pending", "initContainerStatuses": [
                    {"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
            json!([
                "init-wait",
                "0/1",
                "Init:CrashLoopBackOff",
                "0",
                AGE,
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "sidecar counts as a container",
            "",
            "pods",
            json!({"metadata": meta("sidecar"), "spec": {"containers": [web],
                    "initContainers": [{"name": "proxy", "restartPolicy": "Always"}]},
                "status": {"phase": "Running",
                  "conditions": [{"type": "Initialized", "status": "True"}],
                  "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1,
                      "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(3 * 3600)}}}],
                  "containerStatuses": [{"name": "web", "ready": true, "state": {"running": {}}}]}}),
            json!([
                "sidecar",
                "2/2",
                "Running",
                "1 (3h ago)",
                AGE,
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "deleting running pod",
            "",
            "pods",
            json!({"metadata": {"name": "bye", "creationTimestamp": ago(51 * 3600), "deletionTimestamp": ago(1)},
                "spec": {"containers": [web]},
                "status": {"phase": "Running", "containerStatuses": [{"name": "web", "ready": true, "state": {"running": {}}}]}}),
            json!([
                "bye",
                "1/1",
                "Terminating",
                "0",
                AGE,
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "deleting pod on a lost node",
            "",
            "pods",
            json!({"metadata": {"name": "lost", "creationTimestamp": ago(51 * 3600), "deletionTimestamp": ago(1)},
                "spec": {"containers": [web]}, "status": {"phase": "Running", "reason": "NodeLost"}}),
            json!(["lost", "0/1", "Unknown", "0", AGE, "<none>", "<none>", "<none>", "<none>"]),
        ),
        (
            "succeeded",
            "",
            "pods",
            json!({"metadata": meta("done"), "spec": {"containers": [web]},
                "status": {"phase": "Succeeded", "containerStatuses": [
                    {"name": "web", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}),
            json!([
                "done",
                "0/1",
                "Completed",
                "0",
                AGE,
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "completed container beside a running one, pod not ready",
            "",
            "pods",
            json!({"metadata": meta("mixed"), "spec": {"containers": [web, {"name": "b"}]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "web", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "b", "ready": true, "state": {"running": {}}}]}}),
            json!(["mixed", "1/2", "NotReady", "0", AGE, "<none>", "<none>", "<none>", "<none>"]),
        ),
        (
            "killed by signal",
            "",
            "pods",
            json!({"metadata": meta("sig"), "spec": {"containers": [web]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "web", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}}),
            json!(["sig", "0/1", "Signal:9", "0", AGE, "<none>", "<none>", "<none>", "<none>"]),
        ),
        (
            "scheduling gated, nominated, readiness gates",
            "",
            "pods",
            json!({"metadata": meta("gated"),
                "spec": {"containers": [web], "readinessGates": [{"conditionType": "x/a"}, {"conditionType": "x/b"}]},
                "status": {"phase": "Pending", "nominatedNodeName": "node-b", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                    {"type": "x/a", "status": "True"}, {"type": "x/b", "status": "False"}]}}),
            json!([
                "gated",
                "0/1",
                "SchedulingGated",
                "0",
                AGE,
                "<none>",
                "<none>",
                "node-b",
                "1/2"
            ]),
        ),
        (
            "template",
            "",
            "podtemplates",
            json!({"metadata": meta("tmpl"), "template": {"metadata": {"labels": {"tier": "fe", "app": "web"}},
                "spec": {"containers": [web, {"name": "log", "image": "busybox"}]}}}),
            json!(["tmpl", "web,log", "nginx:1.27,busybox", "app=web,tier=fe"]),
        ),
    ]);
}

#[test]
fn pod_row_conditions_mark_completed_pods() {
    let done = json!({"status": {"phase": "Failed"}});
    assert_eq!(
        row_conditions("", "pods", &done),
        vec![
            json!({"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."})
        ]
    );
    assert!(row_conditions("", "pods", &json!({"status": {"phase": "Running"}})).is_empty());
    assert!(row_conditions("apps", "deployments", &done).is_empty());
}

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}},
           "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}})
}

#[test]
fn workload_cells() {
    check(vec![
        (
            "deployment",
            "apps",
            "deployments",
            json!({"metadata": meta("web"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": template()},
                "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
            json!([
                "web",
                "2/3",
                3,
                2,
                AGE,
                "nginx,log",
                "nginx:1.27,busybox",
                "app=web"
            ]),
        ),
        (
            "fresh deployment with defaulted replicas",
            "apps",
            "deployments",
            json!({"metadata": meta("new"), "spec": {"template": template()}}),
            json!([
                "new",
                "0/1",
                0,
                0,
                AGE,
                "nginx,log",
                "nginx:1.27,busybox",
                ""
            ]),
        ),
        (
            "replicaset",
            "apps",
            "replicasets",
            json!({"metadata": meta("web-5d4f"), "spec": {"replicas": 3,
                "selector": {"matchLabels": {"pod-template-hash": "5d4f", "app": "web"}}, "template": template()},
                "status": {"replicas": 3, "readyReplicas": 1}}),
            json!([
                "web-5d4f",
                3,
                3,
                1,
                AGE,
                "nginx,log",
                "nginx:1.27,busybox",
                "app=web,pod-template-hash=5d4f"
            ]),
        ),
        (
            "statefulset",
            "apps",
            "statefulsets",
            json!({"metadata": meta("db"), "spec": {"replicas": 3, "template": template()},
                "status": {"readyReplicas": 1}}),
            json!(["db", "1/3", AGE, "nginx,log", "nginx:1.27,busybox"]),
        ),
        (
            "daemonset",
            "apps",
            "daemonsets",
            json!({"metadata": meta("agent"), "spec": {"selector": {"matchLabels": {"app": "agent"}},
                    "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                        "containers": [{"name": "a", "image": "agent:1"}]}}},
                "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                    "updatedNumberScheduled": 3, "numberAvailable": 2}}),
            json!([
                "agent",
                3,
                3,
                2,
                3,
                2,
                "kubernetes.io/os=linux",
                AGE,
                "a",
                "agent:1",
                "app=agent"
            ]),
        ),
        (
            "replicationcontroller",
            "",
            "replicationcontrollers",
            json!({"metadata": meta("nginx"), "spec": {"replicas": 2, "selector": {"app": "nginx"}, "template": template()},
                "status": {"replicas": 2, "readyReplicas": 2}}),
            json!([
                "nginx",
                2,
                2,
                2,
                AGE,
                "nginx,log",
                "nginx:1.27,busybox",
                "app=nginx"
            ]),
        ),
        (
            "controllerrevision owned by a statefulset",
            "apps",
            "controllerrevisions",
            json!({"metadata": {"name": "db-7c9f", "creationTimestamp": ago(51 * 3600), "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true, "uid": "u"}]},
                "revision": 2}),
            json!(["db-7c9f", "statefulset.apps/db", 2, AGE]),
        ),
        (
            "controllerrevision without controller",
            "apps",
            "controllerrevisions",
            json!({"metadata": meta("orphan"), "revision": 1}),
            json!(["orphan", "<none>", 1, AGE]),
        ),
        (
            "completed job",
            "batch",
            "jobs",
            json!({"metadata": meta("pi"), "spec": {"completions": 3, "parallelism": 1,
                    "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
                    "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}}},
                "status": {"succeeded": 3, "startTime": ago(600), "completionTime": ago(420),
                    "conditions": [{"type": "Complete", "status": "True"}]}}),
            json!([
                "pi",
                "Complete",
                "3/3",
                "3m",
                AGE,
                "pi",
                "perl:5.34",
                "batch.kubernetes.io/controller-uid=abc"
            ]),
        ),
        (
            "running work-queue job",
            "batch",
            "jobs",
            json!({"metadata": meta("queue"), "spec": {"parallelism": 4,
                    "template": {"spec": {"containers": [{"name": "w", "image": "worker"}]}}},
                "status": {"startTime": ago(90)}}),
            json!(["queue", "Running", "0/1 of 4", "90s", AGE, "w", "worker", "<none>"]),
        ),
        (
            "failed job",
            "batch",
            "jobs",
            json!({"metadata": meta("bad"), "spec": {"completions": 1},
                "status": {"failed": 1, "conditions": [{"type": "FailureTarget", "status": "True"},
                    {"type": "Failed", "status": "True"}]}}),
            json!(["bad", "Failed", "0/1", "", AGE, "", "", "<none>"]),
        ),
        (
            "cronjob",
            "batch",
            "cronjobs",
            json!({"metadata": meta("backup"), "spec": {"schedule": "*/5 * * * *", "suspend": false,
                    "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "backup:2"}]}}}}},
                "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": ago(120)}}),
            json!([
                "backup",
                "*/5 * * * *",
                "<none>",
                "False",
                1,
                "2m",
                AGE,
                "b",
                "backup:2",
                "<none>"
            ]),
        ),
        (
            "never scheduled cronjob with time zone",
            "batch",
            "cronjobs",
            json!({"metadata": meta("tz"), "spec": {"schedule": "@daily", "timeZone": "Europe/Paris"}}),
            json!([
                "tz",
                "@daily",
                "Europe/Paris",
                "<unset>",
                0,
                "<none>",
                AGE,
                "",
                "",
                "<none>"
            ]),
        ),
    ]);
}

#[test]
fn service_and_endpoint_cells() {
    check(vec![
        (
            "cluster ip",
            "",
            "services",
            json!({"metadata": meta("web"), "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.20",
                "clusterIPs": ["10.43.0.20"], "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}),
            json!([
                "web",
                "ClusterIP",
                "10.43.0.20",
                "<none>",
                "80/TCP,53/UDP",
                AGE,
                "app=web"
            ]),
        ),
        (
            "node port with external ips",
            "",
            "services",
            json!({"metadata": meta("np"), "spec": {"type": "NodePort", "clusterIP": "10.43.0.21",
                "externalIPs": ["1.2.3.4", "5.6.7.8"],
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}}),
            json!([
                "np",
                "NodePort",
                "10.43.0.21",
                "1.2.3.4,5.6.7.8",
                "80:30080/TCP",
                AGE,
                "<none>"
            ]),
        ),
        (
            "pending load balancer",
            "",
            "services",
            json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.43.0.22"],
                "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}, "status": {"loadBalancer": {}}}),
            json!([
                "lb",
                "LoadBalancer",
                "10.43.0.22",
                "<pending>",
                "443:31443/TCP",
                AGE,
                "<none>"
            ]),
        ),
        (
            "load balancer with ingress and external ips",
            "",
            "services",
            json!({"metadata": meta("lb2"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.43.0.23"],
                "externalIPs": ["9.9.9.9"], "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.20"}, {"hostname": "lb.example.com"},
                    {"ip": "192.168.1.20"}]}}}),
            json!([
                "lb2",
                "LoadBalancer",
                "10.43.0.23",
                "192.168.1.20,lb.example.com,9.9.9.9",
                "80:30001/TCP",
                AGE,
                "<none>"
            ]),
        ),
        (
            "external name, headless",
            "",
            "services",
            json!({"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
            json!([
                "ext",
                "ExternalName",
                "<none>",
                "db.example.com",
                "<none>",
                AGE,
                "<none>"
            ]),
        ),
        (
            "endpoints truncated after three",
            "",
            "endpoints",
            json!({"metadata": meta("web"), "subsets": [{"addresses": [{"ip": "10.42.0.1"}, {"ip": "10.42.0.2"}],
                "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}]}),
            json!([
                "web",
                "10.42.0.1:80,10.42.0.2:80,10.42.0.1:443 + 1 more...",
                AGE
            ]),
        ),
        (
            "endpoints without ports, ipv6",
            "",
            "endpoints",
            json!({"metadata": meta("headless"), "subsets": [{"addresses": [{"ip": "fd00::1"}]}]}),
            json!(["headless", "fd00::1", AGE]),
        ),
        (
            "endpoints ipv6 with port",
            "",
            "endpoints",
            json!({"metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}),
            json!(["v6", "[fd00::1]:80", AGE]),
        ),
        (
            "no endpoints",
            "",
            "endpoints",
            json!({"metadata": meta("none")}),
            json!(["none", "<none>", AGE]),
        ),
        (
            "endpointslice",
            "discovery.k8s.io",
            "endpointslices",
            json!({"metadata": meta("web-abc"), "addressType": "IPv4",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "metrics"}],
                "endpoints": [{"addresses": ["10.42.0.1"]}, {"addresses": ["10.42.0.2"]},
                    {"addresses": ["10.42.0.3"]}, {"addresses": ["10.42.0.4"]}]}),
            json!([
                "web-abc",
                "IPv4",
                "80,metrics",
                "10.42.0.1,10.42.0.2,10.42.0.3 + 1 more...",
                AGE
            ]),
        ),
        (
            "empty endpointslice",
            "discovery.k8s.io",
            "endpointslices",
            json!({"metadata": meta("empty"), "addressType": "IPv6", "endpoints": []}),
            json!(["empty", "IPv6", "<unset>", "<unset>", AGE]),
        ),
    ]);
}

#[test]
fn cluster_object_cells() {
    check(vec![
        (
            "cordoned control-plane node",
            "",
            "nodes",
            json!({"metadata": {"name": "node-a", "creationTimestamp": ago(51 * 3600), "labels": {
                    "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master",
                    "node-role.kubernetes.io/": "x", "kubernetes.io/hostname": "node-a"}},
                "spec": {"unschedulable": true},
                "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                    "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "node-a"}],
                    "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                        "kernelVersion": "6.1.0-28-amd64", "containerRuntimeVersion": "skiff://0.1.0"}}}),
            json!([
                "node-a",
                "Ready,SchedulingDisabled",
                "control-plane,master",
                AGE,
                "v1.33.1",
                "192.168.1.10",
                "<none>",
                "Debian GNU/Linux 12 (bookworm)",
                "6.1.0-28-amd64",
                "skiff://0.1.0"
            ]),
        ),
        (
            "node that never reported",
            "",
            "nodes",
            json!({"metadata": meta("node-b")}),
            json!([
                "node-b",
                "Unknown",
                "<none>",
                AGE,
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]),
        ),
        (
            "not ready node",
            "",
            "nodes",
            json!({"metadata": meta("node-c"), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
            json!([
                "node-c",
                "NotReady",
                "<none>",
                AGE,
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]),
        ),
        (
            "namespace",
            "",
            "namespaces",
            json!({"metadata": meta("dev"), "status": {"phase": "Active"}}),
            json!(["dev", "Active", AGE]),
        ),
        (
            "lease",
            "coordination.k8s.io",
            "leases",
            json!({"metadata": meta("node-a"), "spec": {"holderIdentity": "node-a", "leaseDurationSeconds": 40}}),
            json!(["node-a", "node-a", AGE]),
        ),
        (
            "priority class",
            "scheduling.k8s.io",
            "priorityclasses",
            json!({"metadata": meta("high"), "value": 1000000, "preemptionPolicy": "PreemptLowerPriority"}),
            json!(["high", 1000000, false, AGE, "PreemptLowerPriority"]),
        ),
        (
            "role binding",
            "rbac.authorization.k8s.io",
            "rolebindings",
            json!({"metadata": meta("read-pods"), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                "subjects": [{"kind": "User", "name": "jane"}, {"kind": "Group", "name": "devs"},
                    {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}]}),
            json!([
                "read-pods",
                "Role/pod-reader",
                AGE,
                "jane",
                "devs",
                "kube-system/default"
            ]),
        ),
        (
            "cluster role binding",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            json!({"metadata": meta("admins"), "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"}]}),
            json!([
                "admins",
                "ClusterRole/cluster-admin",
                AGE,
                "alice, bob",
                "",
                ""
            ]),
        ),
    ]);
}

#[test]
fn config_and_storage_cells() {
    check(vec![
        (
            "configmap",
            "",
            "configmaps",
            json!({"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
            json!(["cfg", 3, AGE]),
        ),
        (
            "secret",
            "",
            "secrets",
            json!({"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
            json!(["tls", "kubernetes.io/tls", 2, AGE]),
        ),
        (
            "service account",
            "",
            "serviceaccounts",
            json!({"metadata": meta("default"), "secrets": [{"name": "default-token"}]}),
            json!(["default", 1, AGE]),
        ),
        (
            "bound volume",
            "",
            "persistentvolumes",
            json!({"metadata": meta("pv-1"), "spec": {"capacity": {"storage": "10Gi"},
                    "accessModes": ["ReadOnlyMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                    "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "local-path",
                    "volumeMode": "Filesystem"},
                "status": {"phase": "Bound"}}),
            json!([
                "pv-1",
                "10Gi",
                "RWO,ROX",
                "Retain",
                "Bound",
                "default/data",
                "local-path",
                "<unset>",
                "",
                AGE,
                "Filesystem"
            ]),
        ),
        (
            "released volume being deleted, beta class annotation",
            "",
            "persistentvolumes",
            json!({"metadata": {"name": "pv-2", "creationTimestamp": ago(51 * 3600), "deletionTimestamp": ago(5),
                    "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOncePod"],
                    "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "new", "volumeAttributesClassName": "gold"},
                "status": {"phase": "Released", "reason": "Released"}}),
            json!([
                "pv-2",
                "1Gi",
                "RWOP",
                "Delete",
                "Terminating",
                "",
                "old",
                "gold",
                "Released",
                AGE,
                "<unset>"
            ]),
        ),
        (
            "bound claim",
            "",
            "persistentvolumeclaims",
            json!({"metadata": meta("data"), "spec": {"volumeName": "pv-1", "storageClassName": "local-path",
                    "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}, "volumeMode": "Filesystem"},
                "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}}),
            json!([
                "data",
                "Bound",
                "pv-1",
                "10Gi",
                "RWO",
                "local-path",
                "<unset>",
                AGE,
                "Filesystem"
            ]),
        ),
        (
            "pending claim",
            "",
            "persistentvolumeclaims",
            json!({"metadata": meta("wait"), "spec": {"resources": {"requests": {"storage": "5Gi"}}},
                "status": {"phase": "Pending"}}),
            json!(["wait", "Pending", "", "", "", "", "<unset>", AGE, "<unset>"]),
        ),
        (
            "default storage class",
            "storage.k8s.io",
            "storageclasses",
            json!({"metadata": {"name": "local-path", "creationTimestamp": ago(51 * 3600),
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}),
            json!([
                "local-path (default)",
                "rancher.io/local-path",
                "Delete",
                "WaitForFirstConsumer",
                false,
                AGE
            ]),
        ),
        (
            "expandable storage class",
            "storage.k8s.io",
            "storageclasses",
            json!({"metadata": meta("fast"), "provisioner": "csi.example.com", "reclaimPolicy": "Retain",
                "allowVolumeExpansion": true}),
            json!(["fast", "csi.example.com", "Retain", "Immediate", true, AGE]),
        ),
        (
            "pdb with min available",
            "policy",
            "poddisruptionbudgets",
            json!({"metadata": meta("web-pdb"), "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}}),
            json!(["web-pdb", "2", "N/A", 1, AGE]),
        ),
        (
            "pdb with percentage",
            "policy",
            "poddisruptionbudgets",
            json!({"metadata": meta("pct"), "spec": {"maxUnavailable": "25%"}}),
            json!(["pct", "N/A", "25%", 0, AGE]),
        ),
        (
            "resource quota",
            "",
            "resourcequotas",
            json!({"metadata": meta("quota"), "spec": {"hard": {"pods": "10"}},
                "status": {"hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "2",
                        "limits": "5"},
                    "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1"}}}),
            json!([
                "quota",
                "limits: 0/5, pods: 3/10, requests.cpu: 500m/1",
                "limits.cpu: 1/2, limits.memory: 0/2Gi",
                AGE
            ]),
        ),
    ]);
}

#[test]
fn event_cells_for_both_event_apis() {
    check(vec![
        (
            "core event",
            "",
            "events",
            json!({"metadata": meta("web-1.17a"), "type": "Normal", "reason": "Pulled",
                "message": " Successfully pulled image \"nginx\"\n", "count": 5,
                "firstTimestamp": ago(600), "lastTimestamp": ago(60),
                "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
                "source": {"component": "kubelet", "host": "node-a"}}),
            json!([
                "60s",
                "Normal",
                "Pulled",
                "pod/web-1",
                "spec.containers{web}",
                "kubelet, node-a",
                "Successfully pulled image \"nginx\"",
                "10m",
                5,
                "web-1.17a"
            ]),
        ),
        (
            "core event written through the new API",
            "",
            "events",
            json!({"metadata": meta("ev2"), "type": "Warning", "reason": "FailedScheduling", "message": "0/1 nodes",
                "eventTime": "2025-01-10T11:59:30.123456Z", "reportingComponent": "default-scheduler",
                "reportingInstance": "sched-1", "involvedObject": {"kind": "Pod", "name": "p"}}),
            // 29.88s ago: Go truncates to whole seconds.
            json!([
                "29s",
                "Warning",
                "FailedScheduling",
                "pod/p",
                "",
                "default-scheduler, sched-1",
                "0/1 nodes",
                "29s",
                1,
                "ev2"
            ]),
        ),
        (
            "events.k8s.io event with series",
            "events.k8s.io",
            "events",
            json!({"metadata": meta("ev3"), "type": "Normal", "reason": "ScalingReplicaSet", "note": "Scaled up",
                "eventTime": ago(300), "series": {"count": 7, "lastObservedTime": ago(20)},
                "reportingController": "deployment-controller", "regarding": {"kind": "Deployment", "name": "web"}}),
            json!([
                "20s",
                "Normal",
                "ScalingReplicaSet",
                "deployment/web",
                "",
                "deployment-controller",
                "Scaled up",
                "5m",
                7,
                "ev3"
            ]),
        ),
        (
            "events.k8s.io event with deprecated fields and no object name",
            "events.k8s.io",
            "events",
            json!({"metadata": meta("ev4"), "type": "Normal", "reason": "Starting", "note": "",
                "deprecatedFirstTimestamp": ago(7200), "deprecatedLastTimestamp": ago(3600), "deprecatedCount": 2,
                "deprecatedSource": {"component": "kube-proxy"}, "regarding": {"kind": "Node"}}),
            json!([
                "60m",
                "Normal",
                "Starting",
                "node",
                "",
                "kube-proxy",
                "",
                "120m",
                2,
                "ev4"
            ]),
        ),
    ]);
}

#[test]
fn autoscaler_and_networking_cells() {
    check(vec![
        (
            "v2 hpa with utilization and value targets",
            "autoscaling",
            "horizontalpodautoscalers",
            json!({"apiVersion": "autoscaling/v2", "metadata": meta("web"),
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 1, "maxReplicas": 10, "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}}]},
                "status": {"currentReplicas": 2, "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 30, "averageValue": "150m"}}},
                    {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "200Mi"}}}]}}),
            json!([
                "web",
                "Deployment/web",
                "cpu: 30%/80%, memory: 200Mi/500Mi",
                "1",
                10,
                2,
                AGE
            ]),
        ),
        (
            "v1 hpa before the first metrics",
            "autoscaling",
            "horizontalpodautoscalers",
            json!({"apiVersion": "autoscaling/v1", "metadata": meta("api"),
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "maxReplicas": 5,
                    "targetCPUUtilizationPercentage": 50}}),
            json!([
                "api",
                "Deployment/api",
                "cpu: <unknown>/50%",
                "<unset>",
                5,
                0,
                AGE
            ]),
        ),
        (
            "v1 hpa with current utilization",
            "autoscaling",
            "horizontalpodautoscalers",
            json!({"metadata": meta("v1"), "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db"},
                    "minReplicas": 2, "maxReplicas": 4},
                "status": {"currentReplicas": 3, "currentCPUUtilizationPercentage": 41}}),
            json!(["v1", "StatefulSet/db", "cpu: 41%/80%", "2", 4, 3, AGE]),
        ),
        (
            "more than two metrics",
            "autoscaling",
            "horizontalpodautoscalers",
            json!({"metadata": meta("many"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "m"}, "maxReplicas": 3,
                "metrics": [
                    {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "100"}}},
                    {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}},
                    {"type": "Object", "object": {"metric": {"name": "hits"}, "target": {"type": "AverageValue", "averageValue": "5"}}}]},
                "status": {"currentMetrics": [{"type": "Pods", "pods": {"current": {"averageValue": "42"}}}]}}),
            json!([
                "many",
                "Deployment/m",
                "42/100, <unknown>/30 + 1 more...",
                "<unset>",
                3,
                0,
                AGE
            ]),
        ),
        (
            "ingress with tls and many hosts",
            "networking.k8s.io",
            "ingresses",
            json!({"metadata": meta("web"), "spec": {"ingressClassName": "skiff", "tls": [{"hosts": ["a.example.com"]}],
                    "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c.example.com"},
                        {"host": "d.example.com"}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.10"}]}}}),
            json!([
                "web",
                "skiff",
                "a.example.com,b.example.com,c.example.com + 2 more...",
                "192.168.1.10",
                "80, 443",
                AGE
            ]),
        ),
        (
            "default-backend ingress",
            "networking.k8s.io",
            "ingresses",
            json!({"metadata": meta("catch"), "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}),
            json!(["catch", "<none>", "*", "", "80", AGE]),
        ),
        (
            "ingress class with parameters",
            "networking.k8s.io",
            "ingressclasses",
            json!({"metadata": meta("skiff"), "spec": {"controller": "skiff.dev/ingress",
                "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}}),
            json!([
                "skiff",
                "skiff.dev/ingress",
                "IngressParameters.k8s.example.com/external-lb",
                AGE
            ]),
        ),
        (
            "ingress class without parameters",
            "networking.k8s.io",
            "ingressclasses",
            json!({"metadata": meta("plain"), "spec": {"controller": "x/y"}}),
            json!(["plain", "x/y", "<none>", AGE]),
        ),
        (
            "deny-all network policy",
            "networking.k8s.io",
            "networkpolicies",
            json!({"metadata": meta("deny-all"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
            json!(["deny-all", "<none>", AGE]),
        ),
        (
            "network policy with selector",
            "networking.k8s.io",
            "networkpolicies",
            json!({"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"app": "db"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}}}),
            json!(["db", "app=db,env in (dev,prod)", AGE]),
        ),
    ]);
}

#[test]
fn resources_without_printers_use_the_default_table() {
    for (group, resource) in [
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "limitranges"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("example.com", "widgets"),
    ] {
        let cols: Vec<(&str, &str, &str)> = columns(group, resource)
            .iter()
            .map(|c| (c.name, c.type_, c.format))
            .collect();
        assert_eq!(
            cols,
            [("Name", "string", "name"), ("Created At", "date", "")],
            "{resource}"
        );
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2025-01-08T09:00:00Z"}});
        assert_eq!(
            cells(group, resource, &obj, now()),
            vec![json!("x"), json!("2025-01-08T09:00:00Z")]
        );
        assert!(!crate::registry::has_printer(group, resource));
    }
    // A missing timestamp prints Go's zero time.
    assert_eq!(
        cells(
            "",
            "limitranges",
            &json!({"metadata": {"name": "lr"}}),
            now()
        ),
        vec![json!("lr"), json!("0001-01-01T00:00:00Z")]
    );
}

#[test]
fn column_headers_match_kubectl_get() {
    // (group, resource, every column name in order, how many are wide-only)
    let cases: &[(&str, &str, &[&str], usize)] = &[
        (
            "",
            "pods",
            &[
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates",
            ],
            4,
        ),
        (
            "apps",
            "deployments",
            &[
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector",
            ],
            3,
        ),
        (
            "",
            "services",
            &[
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector",
            ],
            1,
        ),
        (
            "batch",
            "jobs",
            &[
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector",
            ],
            3,
        ),
        (
            "",
            "events",
            &[
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name",
            ],
            5,
        ),
        (
            "autoscaling",
            "horizontalpodautoscalers",
            &[
                "Name",
                "Reference",
                "Targets",
                "MinPods",
                "MaxPods",
                "Replicas",
                "Age",
            ],
            0,
        ),
        (
            "",
            "nodes",
            &[
                "Name",
                "Status",
                "Roles",
                "Age",
                "Version",
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime",
            ],
            5,
        ),
        (
            "scheduling.k8s.io",
            "priorityclasses",
            &["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"],
            0,
        ),
    ];
    for (group, resource, names, wide) in cases {
        let cols = columns(group, resource);
        let got: Vec<&str> = cols.iter().map(|c| c.name).collect();
        assert_eq!(&got, names, "{resource}");
        assert_eq!(
            cols.iter().filter(|c| c.priority == 1).count(),
            *wide,
            "{resource}"
        );
        let name_cols: Vec<&str> = cols
            .iter()
            .filter(|c| c.format == "name")
            .map(|c| c.name)
            .collect();
        assert_eq!(
            name_cols,
            ["Name"],
            "{resource}: exactly one name-format column"
        );
    }
    let pod_restarts = columns("", "pods")[3];
    assert_eq!(pod_restarts.type_, "string");
    assert_eq!(columns("batch", "cronjobs")[3].type_, "boolean");
}

#[test]
fn every_printer_tolerates_an_empty_object() {
    let all = [
        ("", "pods"),
        ("", "podtemplates"),
        ("", "replicationcontrollers"),
        ("", "services"),
        ("", "endpoints"),
        ("", "nodes"),
        ("", "namespaces"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "serviceaccounts"),
        ("", "persistentvolumes"),
        ("", "persistentvolumeclaims"),
        ("", "resourcequotas"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "controllerrevisions"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("discovery.k8s.io", "endpointslices"),
        ("storage.k8s.io", "storageclasses"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "ingressclasses"),
        ("networking.k8s.io", "networkpolicies"),
        ("policy", "poddisruptionbudgets"),
        ("coordination.k8s.io", "leases"),
        ("scheduling.k8s.io", "priorityclasses"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ];
    for (group, resource) in all {
        assert!(crate::registry::has_printer(group, resource), "{resource}");
        for obj in [
            json!({}),
            json!(null),
            json!({"metadata": null, "spec": "garbage", "status": 3}),
        ] {
            let got = cells(group, resource, &obj, now());
            assert_eq!(got.len(), columns(group, resource).len(), "{resource}");
        }
    }
}
