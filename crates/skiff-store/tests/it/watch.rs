//! Watch replay, live delivery, filtering, Gone and shutdown.

use std::time::Duration;

use skiff_store::{EventType, Store, StoreError};

use crate::{assert_quiet, cm, next_event, open, rv_of};

#[tokio::test]
async fn watch_replays_after_revision_then_streams_live() {
    let store = skiff_store::memory_store().expect("store");
    store.create("/r/a".into(), cm("a", "1")).await.expect("a"); // 2
    store.create("/r/b".into(), cm("b", "1")).await.expect("b"); // 3
    store
        .update("/r/a".into(), Some(2), cm("a", "2"))
        .await
        .expect("a2"); // 4

    let mut w = store.watch("/r/", 2).expect("watch");
    let e = next_event(&mut w).await;
    assert_eq!(
        (e.rev, e.kind, e.object.key.as_str()),
        (3, EventType::Added, "/r/b")
    );
    assert!(e.prev.is_none());
    let e = next_event(&mut w).await;
    assert_eq!((e.rev, e.kind), (4, EventType::Modified));
    assert_eq!(e.prev.as_ref().map(|p| p.mod_rev), Some(2));
    assert_eq!(rv_of(&e.object.value()), "4");
    assert_quiet(&mut w).await;

    // Live: a write made while the watcher waits wakes it.
    let waiter = tokio::spawn(async move {
        let e = next_event(&mut w).await;
        (e.rev, e.kind, e.object.key.clone())
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.create("/r/c".into(), cm("c", "1")).await.expect("c");
    let got = waiter.await.expect("join");
    assert_eq!(got, (5, EventType::Added, "/r/c".to_string()));
    store.close().await;
}

#[tokio::test]
async fn watch_filters_by_prefix() {
    let store = skiff_store::memory_store().expect("store");
    let start = store.current_revision();
    let mut pods = store.watch("/registry/pods/ns1/", start).expect("watch");
    let mut all = store.watch("/registry/", start).expect("watch");
    let keys = [
        "/registry/pods/ns1/a",
        "/registry/pods/ns10/a",
        "/registry/configmaps/ns1/a",
        "/registry/pods/ns1/b",
    ];
    for key in keys {
        store
            .create(key.into(), cm(key, "v"))
            .await
            .expect("create");
    }
    for want in ["/registry/pods/ns1/a", "/registry/pods/ns1/b"] {
        assert_eq!(next_event(&mut pods).await.object.key, want);
    }
    assert_quiet(&mut pods).await;
    for want in keys {
        assert_eq!(next_event(&mut all).await.object.key, want);
    }
    store.close().await;
}

#[tokio::test]
async fn deleted_event_carries_delete_revision() {
    let store = skiff_store::memory_store().expect("store");
    store
        .create("/r/a".into(), cm("a", "1"))
        .await
        .expect("create"); // 2
    store
        .update("/r/a".into(), None, cm("a", "2"))
        .await
        .expect("update"); // 3
    let mut w = store.watch("/r/", 3).expect("watch");
    let deleted = store.delete("/r/a".into(), Some(3)).await.expect("delete"); // 4
    let e = next_event(&mut w).await;
    assert_eq!((e.rev, e.kind), (4, EventType::Deleted));
    assert_eq!((e.object.mod_rev, e.object.create_rev), (4, 2));
    assert_eq!(rv_of(&e.object.value()), "4");
    assert_eq!(e.object.value()["data"]["k"], "2", "last state is kept");
    let prev = e.prev.expect("prev");
    assert_eq!(
        (prev.mod_rev, rv_of(&prev.value()).to_string()),
        (3, "3".to_string())
    );
    assert_eq!(*deleted, *e.object);
    store.close().await;
}

#[tokio::test]
async fn watch_from_compacted_revision_is_gone() {
    let store = skiff_store::memory_store().expect("store");
    for i in 0..5 {
        store
            .create(format!("/r/{i}"), cm("x", "1"))
            .await
            .expect("create"); // 2..=6
    }
    // Nothing is compacted yet: from the initial revision everything replays; 0 is before it.
    assert_eq!(store.compacted_revision(), 1);
    assert!(matches!(
        store.watch("/r/", 0),
        Err(StoreError::Gone {
            requested: 0,
            compacted: 1
        })
    ));
    let mut old = store.watch("/r/", 1).expect("watch before compaction");
    assert_eq!(store.compact(4).await.expect("compact"), 4);
    assert_eq!(store.compacted_revision(), 4);
    let cases = [(1, false), (3, false), (4, true), (6, true), (50, true)];
    for (from, ok) in cases {
        match store.watch("/r/", from) {
            Ok(_) => assert!(ok, "from {from} should be Gone"),
            Err(StoreError::Gone {
                requested,
                compacted,
            }) => {
                assert!(!ok, "from {from} should work");
                assert_eq!((requested, compacted), (from, 4));
            }
            Err(other) => panic!("from {from}: {other}"),
        }
    }
    // A watcher that had not consumed the compacted events learns it lost them.
    match tokio::time::timeout(Duration::from_secs(5), old.next()).await {
        Ok(Some(Err(StoreError::Gone {
            requested: 1,
            compacted: 4,
        }))) => {}
        other => panic!("expected Gone, got {other:?}"),
    }
    assert!(old.next().await.is_none(), "a Gone watch ends");
    // Compaction never goes past the current revision.
    assert_eq!(store.compact(1000).await.expect("compact"), 6);
    store.close().await;
}

#[tokio::test]
async fn slow_watcher_gets_gone_when_ring_overflows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 10);
    let mut slow = store.watch("/r/", 1).expect("watch");
    let mut fast = store.watch("/r/", 1).expect("watch");
    for i in 0..5 {
        store
            .create(format!("/r/{i}"), cm("x", "1"))
            .await
            .expect("create");
    }
    // The slow one reads some events, then falls behind.
    assert_eq!(next_event(&mut slow).await.rev, 2);
    for i in 0..5 {
        assert_eq!(next_event(&mut fast).await.rev, 2 + i);
    }
    for i in 5..25 {
        store
            .create(format!("/r/{i}"), cm("x", "1"))
            .await
            .expect("create");
        let e = next_event(&mut fast).await;
        assert_eq!(e.rev, 2 + i);
    }
    assert_eq!(store.compacted_revision(), 26 - 10);
    // Buffered events come first, then the loss is reported.
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), slow.next()).await {
            Ok(Some(Ok(e))) => seen.push(e.rev),
            Ok(Some(Err(StoreError::Gone { compacted, .. }))) => {
                assert_eq!(compacted, 16);
                break;
            }
            other => panic!("expected Gone, got {other:?}"),
        }
    }
    assert!(
        seen.iter().all(|r| *r <= 6),
        "only pre-overflow events: {seen:?}"
    );
    store.close().await;
}

#[tokio::test]
async fn watch_drains_then_ends_when_store_closes() {
    let store = skiff_store::memory_store().expect("store");
    let mut w = store.watch("/r/", 1).expect("watch");
    store
        .create("/r/a".into(), cm("a", "1"))
        .await
        .expect("create");
    store.close().await;
    assert_eq!(next_event(&mut w).await.rev, 2);
    let end = tokio::time::timeout(Duration::from_secs(5), w.next()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
    assert!(matches!(store.watch("/r/", 2), Err(StoreError::Closed)));

    // A watcher blocked in next() is woken by close.
    let store = skiff_store::memory_store().expect("store");
    let mut w = store.watch("/r/", 1).expect("watch");
    let waiter = tokio::spawn(async move { w.next().await.is_none() });
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.close().await;
    let ended = tokio::time::timeout(Duration::from_secs(5), waiter).await;
    assert!(matches!(ended, Ok(Ok(true))), "{ended:?}");
}

#[tokio::test]
async fn progress_reports_bookmark_revision() {
    let store = skiff_store::memory_store().expect("store");
    let mut w = store.watch("/r/pods/", 1).expect("watch");
    assert_eq!(w.progress(), 1);
    store
        .create("/r/pods/a".into(), cm("a", "1"))
        .await
        .expect("create"); // 2
    store
        .create("/r/other/b".into(), cm("b", "1"))
        .await
        .expect("create"); // 3
    store
        .create("/r/pods/c".into(), cm("c", "1"))
        .await
        .expect("create"); // 4
    assert_eq!(next_event(&mut w).await.rev, 2);
    // Event 4 is buffered but not yet yielded: progress stops before it.
    assert_eq!(w.progress(), 3);
    assert_eq!(next_event(&mut w).await.rev, 4);
    assert_eq!(w.progress(), 4);
    store
        .create("/r/other/d".into(), cm("d", "1"))
        .await
        .expect("create"); // 5
    assert_quiet(&mut w).await;
    assert_eq!(
        w.progress(),
        5,
        "non-matching events still advance the bookmark"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_watchers_each_see_every_event_in_order() {
    let store = skiff_store::memory_store().expect("store");
    let start = store.current_revision();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let mut w = store.watch("/r/", start).expect("watch");
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            while revs.len() < 300 {
                revs.push(next_event(&mut w).await.rev);
            }
            revs
        }));
    }
    for i in 0..300 {
        store
            .create(format!("/r/{i:04}"), cm("x", "1"))
            .await
            .expect("create");
    }
    let want: Vec<i64> = (2..302).collect();
    for task in tasks {
        assert_eq!(task.await.expect("join"), want);
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_watch_finds_event_behind_many_unrelated_ones() {
    // The watcher scans the ring in bounded chunks; a match after more than one chunk of
    // unrelated events must still arrive, and a wide watcher gets more than one fill's worth.
    let store = skiff_store::memory_store().expect("store");
    let start = store.current_revision();
    let mut narrow = store.watch("/r/wanted/", start).expect("watch");
    let mut wide = store.watch("/r/", start).expect("watch");
    let mut tasks = Vec::new();
    for t in 0..10 {
        let store = std::sync::Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in 0..600 {
                let key = format!("/r/noise/{t}/{i}");
                store.create(key, cm("n", "1")).await.expect("create");
            }
        }));
    }
    for task in tasks {
        task.await.expect("join");
    }
    let wanted = store
        .create("/r/wanted/x".into(), cm("x", "1"))
        .await
        .expect("create");
    let e = next_event(&mut narrow).await;
    assert_eq!(
        (e.rev, e.object.key.as_str()),
        (wanted.mod_rev, "/r/wanted/x")
    );
    for rev in start + 1..=wanted.mod_rev {
        assert_eq!(next_event(&mut wide).await.rev, rev);
    }
    store.close().await;
}
