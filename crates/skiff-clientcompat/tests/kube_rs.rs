//! kube-rs (the Rust client most controllers use) against a real `skiff server`.
//!
//! Each test starts its own server (free port, temp data dir, killed on drop even when the
//! test panics) and talks to it only through kube's typed `Api`s, as a controller would.
//! The expectations are kube-apiserver v1.33's observable behaviour: status codes, Status
//! reasons and messages, resourceVersion/uid semantics, patch semantics.

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Client, Config, ResourceExt};
use serde_json::{json, Value};
use skiff_clientcompat::SkiffServer;
use std::collections::BTreeMap;
use std::time::Duration;

/// Generous bound for any single wait on the server; the tests never sleep blindly.
const WAIT: Duration = Duration::from_secs(20);

/// A started server plus a kube client built from the kubeconfig it wrote.
struct Fixture {
    server: SkiffServer,
    client: Client,
}

impl Fixture {
    async fn start() -> Fixture {
        let server =
            SkiffServer::start().unwrap_or_else(|e| panic!("cannot start skiff server: {e}"));
        let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path())
            .unwrap_or_else(|e| panic!("reading kubeconfig: {e}"));
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("kubeconfig not usable by kube-rs: {e}"));
        let client =
            Client::try_from(config).unwrap_or_else(|e| panic!("building the kube client: {e}"));
        let fixture = Fixture { server, client };
        fixture.wait_ready().await;
        fixture
    }

    /// Poll `GET /readyz` (the same request kubectl and probes use) until it answers.
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            let req = http::Request::get("/readyz")
                .body(Vec::new())
                .expect("a static request is well-formed");
            match self.client.request_text(req).await {
                Ok(_) => return,
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "server never became ready: {last}\n{}",
            self.server.log_tail(30)
        );
    }

    fn configmaps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), "default")
    }
}

fn configmap(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    let obj = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        },
        "data": data.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    serde_json::from_value(obj).unwrap_or_else(|e| panic!("test configmap: {e}"))
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    let obj = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
            }
        }
    });
    serde_json::from_value(obj).unwrap_or_else(|e| panic!("test deployment: {e}"))
}

fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The Status of an API error; panics (with the error) on anything else.
fn api_status<T: std::fmt::Debug>(result: kube::Result<T>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error Status, got {other:?}"),
    }
}

#[tokio::test]
async fn configmap_create_get_replace_delete() {
    let f = Fixture::start().await;
    let api = f.configmaps();

    let created = api
        .create(
            &PostParams::default(),
            &configmap("crud", &[("app", "a")], &[("k", "v1")]),
        )
        .await
        .expect("create");
    let uid = created.uid().expect("server sets metadata.uid");
    let rv1 = created
        .resource_version()
        .expect("server sets metadata.resourceVersion");
    assert!(
        created.creation_timestamp().is_some(),
        "server sets creationTimestamp"
    );
    assert_eq!(created.namespace().as_deref(), Some("default"));

    let got = api.get("crud").await.expect("get");
    assert_eq!(got.uid().as_deref(), Some(uid.as_str()));
    assert_eq!(data(&got), map(&[("k", "v1")]));

    let mut changed = got.clone();
    changed.data = Some(map(&[("k", "v2"), ("extra", "x")]));
    let replaced = api
        .replace("crud", &PostParams::default(), &changed)
        .await
        .expect("replace");
    assert_eq!(data(&replaced), map(&[("k", "v2"), ("extra", "x")]));
    assert_eq!(
        replaced.uid().as_deref(),
        Some(uid.as_str()),
        "replace keeps the uid"
    );
    assert_ne!(
        replaced.resource_version().as_deref(),
        Some(rv1.as_str()),
        "replace bumps resourceVersion"
    );

    // get_opt maps 404 to None: a client-side convenience that relies on a proper 404 Status.
    assert!(api.get_opt("crud").await.expect("get_opt").is_some());
    api.delete("crud", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(api
        .get_opt("crud")
        .await
        .expect("get_opt after delete")
        .is_none());

    let status = api_status(api.get("crud").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, r#"configmaps "crud" not found"#);
    let details = status.details.expect("404 Status carries details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("crud", "configmaps")
    );
}

#[tokio::test]
async fn create_of_an_existing_name_is_409_already_exists() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    api.create(&PostParams::default(), &configmap("dup", &[], &[]))
        .await
        .expect("first create");
    let status = api_status(
        api.create(&PostParams::default(), &configmap("dup", &[], &[]))
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );
    assert_eq!(status.message, r#"configmaps "dup" already exists"#);
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_is_409_conflict() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    let original = api
        .create(
            &PostParams::default(),
            &configmap("stale", &[], &[("k", "1")]),
        )
        .await
        .expect("create");
    api.patch(
        "stale",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .expect("concurrent writer");

    let mut stale = original.clone();
    stale.data = Some(map(&[("k", "3")]));
    let status = api_status(api.replace("stale", &PostParams::default(), &stale).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        r#"Operation cannot be fulfilled on configmaps "stale": the object has been modified; please apply your changes to the latest version and try again"#
    );
    // The losing write changed nothing.
    assert_eq!(
        data(&api.get("stale").await.expect("get")),
        map(&[("k", "2")])
    );
}

#[tokio::test]
async fn list_filters_by_label_and_field_selectors() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    for (name, tier) in [("a", "web"), ("b", "web"), ("c", "db")] {
        api.create(
            &PostParams::default(),
            &configmap(name, &[("tier", tier), ("suite", "list")], &[]),
        )
        .await
        .expect("create");
    }
    let cases: [(ListParams, &[&str]); 6] = [
        (ListParams::default().labels("suite=list"), &["a", "b", "c"]),
        (ListParams::default().labels("tier=web"), &["a", "b"]),
        (ListParams::default().labels("tier!=web,suite=list"), &["c"]),
        (ListParams::default().labels("tier in (db,cache)"), &["c"]),
        (ListParams::default().fields("metadata.name=b"), &["b"]),
        (
            ListParams::default()
                .labels("tier=web")
                .fields("metadata.name!=a"),
            &["b"],
        ),
    ];
    for (params, want) in cases {
        let list = api
            .list(&params)
            .await
            .unwrap_or_else(|e| panic!("list {params:?}: {e}"));
        assert!(
            list.metadata.resource_version.is_some(),
            "lists carry metadata.resourceVersion"
        );
        let mut names: Vec<String> = list.items.iter().map(ResourceExt::name_any).collect();
        names.sort();
        assert_eq!(
            names, want,
            "selectors {:?} / {:?}",
            params.label_selector, params.field_selector
        );
    }
}

#[tokio::test]
async fn list_paginates_with_limit_and_continue() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    for i in 0..5 {
        api.create(
            &PostParams::default(),
            &configmap(&format!("page-{i}"), &[("suite", "page")], &[]),
        )
        .await
        .expect("create");
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().labels("suite=page").limit(2);
    for _ in 0..5 {
        let page = api.list(&params).await.expect("list page");
        assert!(
            page.items.len() <= 2,
            "limit=2 returned {}",
            page.items.len()
        );
        seen.extend(page.items.iter().map(ResourceExt::name_any));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["page-0", "page-1", "page-2", "page-3", "page-4"]);
}

#[tokio::test]
async fn raw_watch_reports_added_modified_deleted() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    let rv = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("list resourceVersion");
    let params = WatchParams::default().labels("suite=watch").timeout(30);
    let mut stream = api.watch(&params, &rv).await.expect("watch").boxed();

    api.create(
        &PostParams::default(),
        &configmap("w", &[("suite", "watch")], &[("k", "1")]),
    )
    .await
    .expect("create");
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .expect("patch");
    api.delete("w", &DeleteParams::default())
        .await
        .expect("delete");
    // Not matching the selector: must not show up.
    api.create(
        &PostParams::default(),
        &configmap("other", &[("suite", "nope")], &[]),
    )
    .await
    .expect("create other");

    let mut got = Vec::new();
    while got.len() < 3 {
        let event = tokio::time::timeout(WAIT, stream.try_next())
            .await
            .unwrap_or_else(|_| panic!("no watch event in {WAIT:?}; so far {got:?}"))
            .expect("watch stream error")
            .unwrap_or_else(|| panic!("watch ended early; so far {got:?}"));
        match event {
            WatchEvent::Added(cm) => {
                got.push(("ADDED", cm.name_any(), data(&cm).get("k").cloned()))
            }
            WatchEvent::Modified(cm) => {
                got.push(("MODIFIED", cm.name_any(), data(&cm).get("k").cloned()))
            }
            WatchEvent::Deleted(cm) => {
                got.push(("DELETED", cm.name_any(), data(&cm).get("k").cloned()))
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(status) => panic!("watch ERROR event: {status:?}"),
        }
    }
    let want = [
        ("ADDED", "w".to_string(), Some("1".to_string())),
        ("MODIFIED", "w".to_string(), Some("2".to_string())),
        ("DELETED", "w".to_string(), Some("2".to_string())),
    ];
    assert_eq!(got, want);
}

#[tokio::test]
async fn runtime_watcher_sees_create_and_delete() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    api.create(
        &PostParams::default(),
        &configmap("before", &[("suite", "watcher")], &[]),
    )
    .await
    .expect("create before");

    let mut events = watcher(
        api.clone(),
        watcher::Config::default().labels("suite=watcher"),
    )
    .boxed();
    // Initial list: Init, InitApply(before), InitDone.
    let mut initial = Vec::new();
    loop {
        match next_event(&mut events).await {
            watcher::Event::Init => {}
            watcher::Event::InitApply(cm) => initial.push(cm.name_any()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected event during the initial list: {other:?}"),
        }
    }
    assert_eq!(initial, ["before"]);

    api.create(
        &PostParams::default(),
        &configmap("after", &[("suite", "watcher")], &[]),
    )
    .await
    .expect("create after");
    match next_event(&mut events).await {
        watcher::Event::Apply(cm) => assert_eq!(cm.name_any(), "after"),
        other => panic!("expected Apply(after), got {other:?}"),
    }
    api.delete("before", &DeleteParams::default())
        .await
        .expect("delete before");
    match next_event(&mut events).await {
        watcher::Event::Delete(cm) => assert_eq!(cm.name_any(), "before"),
        other => panic!("expected Delete(before), got {other:?}"),
    }
}

#[tokio::test]
async fn merge_patch_merges_maps_and_null_deletes() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    api.create(
        &PostParams::default(),
        &configmap(
            "mp",
            &[("keep", "1"), ("drop", "1")],
            &[("a", "1"), ("b", "1")],
        ),
    )
    .await
    .expect("create");
    let patch =
        json!({"metadata": {"labels": {"drop": null, "new": "2"}}, "data": {"b": null, "c": "3"}});
    let patched = api
        .patch("mp", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("merge patch");
    assert_eq!(data(&patched), map(&[("a", "1"), ("c", "3")]));
    assert_eq!(patched.labels(), &map(&[("keep", "1"), ("new", "2")]));
}

#[tokio::test]
async fn json_patch_applies_operations_and_test_failure_is_rejected() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    api.create(&PostParams::default(), &configmap("jp", &[], &[("a", "1")]))
        .await
        .expect("create");
    let ops: Value = json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "add", "path": "/data/b", "value": "3"}
    ]);
    let ops: json_patch::Patch = serde_json::from_value(ops).expect("json patch");
    let patched = api
        .patch("jp", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .expect("json patch");
    assert_eq!(data(&patched), map(&[("a", "2"), ("b", "3")]));

    // A failing "test" op makes the whole patch fail and writes nothing (upstream: 422).
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/a", "value": "nope"}, {"op": "remove", "path": "/data/b"}]))
            .expect("json patch");
    let status = api_status(
        api.patch("jp", &PatchParams::default(), &Patch::<()>::Json(failing))
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (422, "Invalid"),
        "status: {status:?}"
    );
    assert_eq!(
        data(&api.get("jp").await.expect("get")),
        map(&[("a", "2"), ("b", "3")])
    );
}

#[tokio::test]
async fn strategic_patch_merges_containers_by_name_where_merge_patch_replaces() {
    let f = Fixture::start().await;
    let api = f.deployments();
    api.create(&PostParams::default(), &deployment("smp", 1))
        .await
        .expect("create deployment");

    let sidecar = json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:1.36"}]}}}});
    let patched = api
        .patch("smp", &PatchParams::default(), &Patch::Strategic(&sidecar))
        .await
        .expect("strategic patch");
    // Merge key `name`: `web` is kept. Without `$setElementOrder` upstream puts patch
    // elements before server-only ones (apimachinery's mergeSortedSlice).
    assert_eq!(container_names(&patched), ["side", "web"]);

    // Same key, new image: the matching element is updated in place, order kept.
    let bump = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}});
    let patched = api
        .patch("smp", &PatchParams::default(), &Patch::Strategic(&bump))
        .await
        .expect("strategic patch");
    assert_eq!(container_names(&patched), ["side", "web"]);
    assert_eq!(
        container_image(&patched, "web").as_deref(),
        Some("nginx:1.28")
    );
    assert_eq!(
        container_image(&patched, "side").as_deref(),
        Some("busybox:1.36")
    );

    // `$setElementOrder` fixes the order explicitly.
    let reorder = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
        "containers": [{"name": "side", "image": "busybox:1.37"}]
    }}}});
    let patched = api
        .patch("smp", &PatchParams::default(), &Patch::Strategic(&reorder))
        .await
        .expect("strategic reorder");
    assert_eq!(container_names(&patched), ["web", "side"]);
    assert_eq!(
        container_image(&patched, "side").as_deref(),
        Some("busybox:1.37")
    );

    // `$patch: delete` removes one element by its merge key.
    let remove = json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}});
    let patched = api
        .patch("smp", &PatchParams::default(), &Patch::Strategic(&remove))
        .await
        .expect("strategic delete");
    assert_eq!(container_names(&patched), ["web"]);

    // A JSON merge patch has no merge keys: the list is replaced wholesale.
    let replace = json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox:1.36"}]}}}});
    let patched = api
        .patch("smp", &PatchParams::default(), &Patch::Merge(&replace))
        .await
        .expect("merge patch");
    assert_eq!(container_names(&patched), ["only"]);
}

/// The next watcher event, failing the test on silence, errors or the stream's end.
async fn next_event<S>(events: &mut S) -> watcher::Event<ConfigMap>
where
    S: futures_util::Stream<Item = watcher::Result<watcher::Event<ConfigMap>>> + Unpin,
{
    tokio::time::timeout(WAIT, events.try_next())
        .await
        .unwrap_or_else(|_| panic!("watcher silent for {WAIT:?}"))
        .unwrap_or_else(|e| panic!("watcher error: {e}"))
        .unwrap_or_else(|| panic!("watcher stream ended"))
}

fn container_names(d: &Deployment) -> Vec<String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default()
}

fn container_image(d: &Deployment, name: &str) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == name)?
        .image
        .clone()
}

#[tokio::test]
async fn server_side_apply_creates_tracks_managers_and_conflicts_without_force() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    let intent = |value: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"shared": value}});

    // Apply creates an absent object.
    let created = api
        .patch(
            "ssa",
            &PatchParams::apply("alpha"),
            &Patch::Apply(intent("a")),
        )
        .await
        .expect("apply creates");
    assert_eq!(data(&created), map(&[("shared", "a")]));
    let managers: Vec<(String, String)> = created
        .managed_fields()
        .iter()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(managers, [("alpha".to_string(), "Apply".to_string())]);

    // Another manager setting the same field without force: 409 naming the owner.
    let status = api_status(
        api.patch(
            "ssa",
            &PatchParams::apply("beta"),
            &Patch::Apply(intent("b")),
        )
        .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "Conflict"),
        "status: {status:?}"
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "alpha": .data.shared"#
    );
    let causes = status.details.map(|d| d.causes).unwrap_or_default();
    assert!(
        causes
            .iter()
            .any(|c| c.field == ".data.shared" && c.reason == "FieldManagerConflict"),
        "causes: {causes:?}"
    );
    assert_eq!(
        data(&api.get("ssa").await.expect("get")),
        map(&[("shared", "a")]),
        "a conflicting apply writes nothing"
    );

    // With force the field changes hands.
    let forced = api
        .patch(
            "ssa",
            &PatchParams::apply("beta").force(),
            &Patch::Apply(intent("b")),
        )
        .await
        .expect("forced apply");
    assert_eq!(data(&forced), map(&[("shared", "b")]));
    let managers: Vec<String> = forced
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        managers.contains(&"beta".to_string()),
        "managers after force: {managers:?}"
    );

    // Dropping a field from one's own apply removes it (the manager owned it alone).
    let shrink = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"mine": "1"}});
    let shrunk = api
        .patch("ssa", &PatchParams::apply("beta"), &Patch::Apply(shrink))
        .await
        .expect("apply without shared");
    assert_eq!(data(&shrunk), map(&[("mine", "1")]));
}

#[tokio::test]
async fn deployment_scale_subresource_round_trips_autoscaling_v1_scale() {
    let f = Fixture::start().await;
    let api = f.deployments();
    api.create(&PostParams::default(), &deployment("scaled", 1))
        .await
        .expect("create deployment");

    let scale = api.get_scale("scaled").await.expect("get scale");
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(1));
    assert_eq!(scale.metadata.name.as_deref(), Some("scaled"));

    let patched = api
        .patch_scale(
            "scaled",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(patched.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let deployment = api.get("scaled").await.expect("get deployment");
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(3));

    // status.selector is the label selector as a string (what HPAs read).
    let scale = api.get_scale("scaled").await.expect("get scale again");
    assert_eq!(
        scale.status.as_ref().and_then(|s| s.selector.as_deref()),
        Some("app=scaled")
    );
}

#[tokio::test]
async fn patch_on_a_missing_object_is_404_and_delete_twice_is_404() {
    let f = Fixture::start().await;
    let api = f.configmaps();
    let status = api_status(
        api.patch(
            "ghost",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": "1"}})),
        )
        .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    api.create(&PostParams::default(), &configmap("once", &[], &[]))
        .await
        .expect("create");
    api.delete("once", &DeleteParams::default())
        .await
        .expect("first delete");
    let status = api_status(api.delete("once", &DeleteParams::default()).await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, r#"configmaps "once" not found"#);
}

#[tokio::test]
async fn custom_resources_through_discovery_and_dynamic_objects() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{DynamicObject, GroupVersionKind};

    let f = Fixture::start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(f.client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.clientcompat.skiff.dev"},
        "spec": {
            "group": "clientcompat.skiff.dev",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}, "color": {"type": "string"}}}
                }}}
            }]
        }
    }))
    .expect("crd json");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create CRD");

    // A controller resolves the kind through discovery; keep asking until the new
    // group is served (upstream: after the Established condition).
    let gvk = GroupVersionKind::gvk("clientcompat.skiff.dev", "v1", "Gadget");
    let deadline = tokio::time::Instant::now() + WAIT;
    let (resource, caps) = loop {
        match kube::discovery::pinned_kind(&f.client, &gvk).await {
            Ok(found) => break found,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("Gadget never showed up in discovery: {e}"),
        }
    };
    assert_eq!(resource.plural, "gadgets");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);

    let gadgets: Api<DynamicObject> = Api::namespaced_with(f.client.clone(), "default", &resource);
    let mut obj = DynamicObject::new("g1", &resource);
    obj.data = json!({"spec": {"size": 1, "color": "red"}});
    let created = gadgets
        .create(&PostParams::default(), &obj)
        .await
        .expect("create gadget");
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.data["spec"], json!({"size": 1, "color": "red"}));

    let patched = gadgets
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2, "color": null}})),
        )
        .await
        .expect("merge patch gadget");
    assert_eq!(patched.data["spec"], json!({"size": 2}));
    assert_eq!(
        patched.metadata.generation,
        Some(2),
        "a spec change bumps generation"
    );

    // Strategic merge has no meaning for custom resources: 415 UnsupportedMediaType.
    let status = api_status(
        gadgets
            .patch(
                "g1",
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {"size": 3}})),
            )
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (415, "UnsupportedMediaType")
    );

    let intent = json!({"apiVersion": "clientcompat.skiff.dev/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 4}});
    let applied = gadgets
        .patch(
            "g1",
            &PatchParams::apply("gadget-ctl").force(),
            &Patch::Apply(intent),
        )
        .await
        .expect("apply gadget");
    assert_eq!(applied.data["spec"]["size"], json!(4));

    let listed = gadgets
        .list(&ListParams::default())
        .await
        .expect("list gadgets");
    assert_eq!(
        listed
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>(),
        ["g1"]
    );

    gadgets
        .delete("g1", &DeleteParams::default())
        .await
        .expect("delete gadget");
    let status = api_status(gadgets.get("g1").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        status.message,
        r#"gadgets.clientcompat.skiff.dev "g1" not found"#
    );
}
