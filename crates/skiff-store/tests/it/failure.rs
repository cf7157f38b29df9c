//! A failing transaction fails its whole batch and publishes nothing.

use std::sync::Arc;

use skiff_store::{Store, StoreError};

use crate::{cm, open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_batch_publishes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 1000);
    store
        .create("/r/seed".into(), cm("seed", "1"))
        .await
        .expect("seed"); // 2
    store.close().await;
    // A real SQL failure mid-transaction: a trigger rejecting one key.
    {
        let conn = rusqlite::Connection::open(dir.path().join("state.db")).expect("raw open");
        conn.execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON kv WHEN NEW.key LIKE '%/poison%'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .expect("trigger");
    }
    let store = open(dir.path(), 1000);
    let mut watch = store.watch("/r/", 2).expect("watch");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = Arc::clone(&store);
        let key = if i % 10 == 5 {
            format!("/r/poison{i}")
        } else {
            format!("/r/ok{i}")
        };
        tasks.push(tokio::spawn(async move {
            let result = store.create(key.clone(), cm("x", "1")).await;
            (key, result)
        }));
    }
    let mut ok_revs = Vec::new();
    for task in tasks {
        let (key, result) = task.await.expect("join");
        match result {
            Ok(obj) => {
                assert!(!key.contains("poison"), "{key} must fail");
                assert_eq!(store.get(&key).map(|o| o.mod_rev), Some(obj.mod_rev));
                ok_revs.push(obj.mod_rev);
            }
            Err(StoreError::Backend(_)) => assert!(store.get(&key).is_none(), "{key} visible"),
            Err(other) => panic!("{key}: {other}"),
        }
    }
    // Successful writes hold exactly the revisions after the seed: failed batches left no
    // holes and nothing half-published.
    ok_revs.sort_unstable();
    let want: Vec<i64> = (3..3 + ok_revs.len() as i64).collect();
    assert_eq!(ok_revs, want);
    assert_eq!(store.current_revision(), 2 + ok_revs.len() as i64);
    for rev in &want {
        let e = crate::next_event(&mut watch).await;
        assert_eq!(e.rev, *rev);
        assert!(!e.object.key.contains("poison"));
    }
    crate::assert_quiet(&mut watch).await;
    // The store keeps working: one at a time, good writes succeed with the next revision and
    // poisoned ones fail alone.
    let mut rev = 3 + ok_revs.len() as i64;
    for i in 0..6 {
        let key = if i % 2 == 1 {
            format!("/r/poison-seq{i}")
        } else {
            format!("/r/seq{i}")
        };
        match store.create(key.clone(), cm("x", "1")).await {
            Ok(obj) if i % 2 == 0 => {
                assert_eq!(obj.mod_rev, rev, "{key}");
                rev += 1;
            }
            Err(StoreError::Backend(_)) if i % 2 == 1 => {}
            other => panic!("{key}: {other:?}"),
        }
    }
    assert_eq!(store.current_revision(), rev - 1);
    let listed = store.list("/r/").0;
    store.close().await;
    let store = open(dir.path(), 1000);
    assert_eq!(store.list("/r/").0, listed);
    store.close().await;
}
