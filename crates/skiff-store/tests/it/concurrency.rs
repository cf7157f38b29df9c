//! Group commit under many concurrent writers.

use std::collections::BTreeSet;
use std::sync::Arc;

use skiff_store::{EventType, Store, StoreError};

use crate::{cm, next_event, open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_get_unique_consecutive_revisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 100_000);
    let mut watch = store.watch("/r/", store.current_revision()).expect("watch");
    let (writers, per) = (16, 150);
    let mut tasks = Vec::new();
    for t in 0..writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..per {
                let key = format!("/r/{t:02}/{i:04}");
                let obj = store
                    .create(key.clone(), cm(&key, "v"))
                    .await
                    .expect("create");
                // Read-your-writes: the acknowledged write is visible at once.
                assert_eq!(store.get(&key).map(|o| o.mod_rev), Some(obj.mod_rev));
                revs.push(obj.mod_rev);
            }
            revs
        }));
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        for rev in task.await.expect("join") {
            assert!(all.insert(rev), "revision {rev} handed out twice");
        }
    }
    let total = writers * per;
    let want: BTreeSet<i64> = (2..2 + total as i64).collect();
    assert_eq!(all, want);
    assert_eq!(store.list("/r/").0.len(), total);
    for rev in 2..2 + total as i64 {
        let e = next_event(&mut watch).await;
        assert_eq!((e.rev, e.kind), (rev, EventType::Added));
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_compare_and_swap_loses_no_increment() {
    // Writers in one batch must see earlier writes of the same batch when checking
    // preconditions, or two increments based on the same revision would both succeed.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 100_000);
    store
        .create("/r/counter".into(), serde_json::json!({"n": 0}))
        .await
        .expect("create");
    let (writers, per) = (16, 40);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..per {
                loop {
                    let cur = store.get("/r/counter").expect("counter");
                    let n = cur.value()["n"].as_i64().expect("n");
                    let next = serde_json::json!({"n": n + 1});
                    match store
                        .update("/r/counter".into(), Some(cur.mod_rev), next)
                        .await
                    {
                        Ok(_) => break,
                        Err(StoreError::Conflict { current }) => {
                            assert!(current.mod_rev > cur.mod_rev);
                            conflicts += 1;
                        }
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            conflicts
        }));
    }
    for task in tasks {
        task.await.expect("join");
    }
    let total = (writers * per) as i64;
    let counter = store.get("/r/counter").expect("counter");
    assert_eq!(counter.value()["n"], total);
    assert_eq!(counter.mod_rev, 2 + total);
    assert_eq!(
        store.current_revision(),
        2 + total,
        "conflicts consume no revision"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_key_ops_in_one_batch_apply_in_order() {
    // Fire create, update, delete, create for one key without awaiting in between, so they
    // are likely to share a batch; the outcome must be the sequential one.
    let store = skiff_store::memory_store().expect("store");
    let key = "/r/k".to_string();
    let (a, b, c, d) = tokio::join!(
        store.create(key.clone(), cm("k", "1")),
        store.update(key.clone(), Some(2), cm("k", "2")),
        store.delete(key.clone(), Some(3)),
        store.create(key.clone(), cm("k", "3")),
    );
    let revs = [a, b, c, d].map(|r| r.expect("op").mod_rev);
    assert_eq!(revs, [2, 3, 4, 5]);
    let obj = store.get(&key).expect("present");
    assert_eq!((obj.create_rev, obj.mod_rev), (5, 5));
    store.close().await;
}
