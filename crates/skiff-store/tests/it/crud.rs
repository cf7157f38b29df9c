//! Create/update/delete preconditions, revisions and lists.

use serde_json::json;
use skiff_store::{Rev, Store, StoreError};

use crate::{cm, open, rv_of};

/// One step of a scripted scenario and what upstream (etcd3 + kube-apiserver) would answer.
enum Step {
    Create(&'static str),
    Update(&'static str, Option<Rev>),
    Delete(&'static str, Option<Rev>),
}

/// Expected outcome: Ok(mod_rev, create_rev) or an error shape.
#[derive(Debug, PartialEq)]
enum Want {
    Ok(Rev, Rev),
    NotFound,
    AlreadyExists,
    Conflict(Rev),
}

fn shape(result: Result<std::sync::Arc<skiff_store::StoredObject>, StoreError>) -> Want {
    match result {
        Ok(obj) => Want::Ok(obj.mod_rev, obj.create_rev),
        Err(StoreError::NotFound) => Want::NotFound,
        Err(StoreError::AlreadyExists) => Want::AlreadyExists,
        Err(StoreError::Conflict { current }) => Want::Conflict(current.mod_rev),
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[tokio::test]
async fn preconditions_follow_etcd_semantics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 100);
    assert_eq!(
        store.current_revision(),
        1,
        "fresh store starts at 1 like etcd"
    );
    let steps = [
        (Step::Create("/r/a"), Want::Ok(2, 2)),
        (Step::Create("/r/a"), Want::AlreadyExists),
        (Step::Update("/r/a", Some(99)), Want::Conflict(2)),
        (Step::Update("/r/a", Some(2)), Want::Ok(3, 2)),
        (Step::Update("/r/a", None), Want::Ok(4, 2)),
        (Step::Update("/r/b", None), Want::NotFound),
        (Step::Update("/r/b", Some(4)), Want::NotFound),
        (Step::Delete("/r/a", Some(3)), Want::Conflict(4)),
        (Step::Delete("/r/b", None), Want::NotFound),
        (Step::Delete("/r/a", Some(4)), Want::Ok(5, 2)),
        (Step::Delete("/r/a", None), Want::NotFound),
        (Step::Update("/r/a", None), Want::NotFound),
        (Step::Create("/r/a"), Want::Ok(6, 6)),
        (Step::Delete("/r/a", None), Want::Ok(7, 6)),
    ];
    for (i, (step, want)) in steps.into_iter().enumerate() {
        let before = store.current_revision();
        let got = match step {
            Step::Create(k) => shape(store.create(k.into(), cm(k, "c")).await),
            Step::Update(k, exp) => shape(store.update(k.into(), exp, cm(k, "u")).await),
            Step::Delete(k, exp) => shape(store.delete(k.into(), exp).await),
        };
        let consumed = matches!(got, Want::Ok(..));
        assert_eq!(got, want, "step {i}");
        // Failed writes consume no revision.
        assert_eq!(
            store.current_revision(),
            before + Rev::from(consumed),
            "step {i}"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn stored_value_carries_resource_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 100);
    // A stale resourceVersion from the client is overwritten, not trusted.
    let mut value = cm("x", "1");
    value["metadata"]["resourceVersion"] = json!("12345");
    let created = store.create("/r/x".into(), value).await.expect("create");
    assert_eq!(rv_of(&created.value()), "2");
    assert_eq!(created.resource_version(), "2");

    let updated = store
        .update(
            "/r/x".into(),
            Some(2),
            json!({"kind":"ConfigMap","data":{"k":"2"}}),
        )
        .await
        .expect("update");
    let v = updated.value();
    assert_eq!(rv_of(&v), "3", "metadata is created when absent");
    assert_eq!(v["data"]["k"], "2");
    assert_eq!(store.get("/r/x").expect("get").value(), v);

    let deleted = store.delete("/r/x".into(), None).await.expect("delete");
    assert_eq!((deleted.mod_rev, deleted.create_rev), (4, 2));
    assert_eq!(
        rv_of(&deleted.value()),
        "4",
        "deleted object carries the delete revision"
    );
    assert_eq!(deleted.value()["data"]["k"], "2");
    assert!(store.get("/r/x").is_none());
    store.close().await;
}

#[tokio::test]
async fn invalid_values_are_rejected_without_a_revision() {
    let store = skiff_store::memory_store().expect("memory store");
    let cases = [
        ("/r/a", json!([1, 2])),
        ("/r/a", json!("text")),
        ("/r/a", json!({"metadata": 5})),
        ("", json!({})),
    ];
    for (key, value) in cases {
        let got = store.create(key.into(), value.clone()).await;
        assert!(
            matches!(got, Err(StoreError::Invalid(_))),
            "{key} {value}: {got:?}"
        );
    }
    store
        .create("/r/a".into(), json!({}))
        .await
        .expect("create");
    let got = store.update("/r/a".into(), None, json!(null)).await;
    assert!(matches!(got, Err(StoreError::Invalid(_))), "{got:?}");
    assert_eq!(store.current_revision(), 2);
    store.close().await;
}

#[tokio::test]
async fn list_returns_prefix_sorted_with_snapshot_revision() {
    let store = skiff_store::memory_store().expect("memory store");
    let keys = [
        "/registry/pods/ns1/b",
        "/registry/pods/ns10/c",
        "/registry/pods/ns1/a",
        "/registry/podsx/ns1/z",
        "/registry/configmaps/ns1/a",
    ];
    for key in keys {
        store
            .create(key.into(), cm(key, "v"))
            .await
            .expect("create");
    }
    let cases: [(&str, &[&str]); 5] = [
        (
            "/registry/pods/ns1/",
            &["/registry/pods/ns1/a", "/registry/pods/ns1/b"],
        ),
        (
            "/registry/pods/",
            &[
                "/registry/pods/ns1/a",
                "/registry/pods/ns1/b",
                "/registry/pods/ns10/c",
            ],
        ),
        ("/registry/configmaps/", &["/registry/configmaps/ns1/a"]),
        ("/registry/secrets/", &[]),
        ("/registry/podsx/ns1/z", &["/registry/podsx/ns1/z"]),
    ];
    for (prefix, want) in cases {
        let (items, rev) = store.list(prefix);
        let got: Vec<&str> = items.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(got, want, "{prefix}");
        assert_eq!(rev, 6, "{prefix}");
    }
    let (all, _) = store.list("");
    assert_eq!(all.len(), keys.len());
    store.close().await;
}

#[tokio::test]
async fn writes_after_close_fail_closed_and_close_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 100);
    store
        .create("/r/a".into(), cm("a", "1"))
        .await
        .expect("create");
    store.close().await;
    store.close().await;
    let cases = [
        store.create("/r/b".into(), cm("b", "1")).await,
        store.update("/r/a".into(), None, cm("a", "2")).await,
        store.delete("/r/a".into(), None).await,
    ];
    for got in cases {
        assert!(matches!(got, Err(StoreError::Closed)), "{got:?}");
    }
    assert!(matches!(store.compact(2).await, Err(StoreError::Closed)));
    // Reads keep working from memory.
    assert_eq!(store.get("/r/a").expect("get").mod_rev, 2);
}
