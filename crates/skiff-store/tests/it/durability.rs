//! Data and revisions survive reopen and kill -9; the file is locked against a second server.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_store::{EventType, SqliteStore, Store, StoreError};

use crate::{cm, next_event, open, opts, rv_of};

#[tokio::test]
async fn data_and_revisions_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 1000);
    store.create("/r/a".into(), cm("a", "1")).await.expect("a"); // 2
    store.create("/r/b".into(), cm("b", "1")).await.expect("b"); // 3
    store
        .update("/r/a".into(), Some(2), cm("a", "2"))
        .await
        .expect("a2"); // 4
    store.delete("/r/b".into(), None).await.expect("del b"); // 5
    let before: Vec<_> = store.list("/").0;
    store.close().await;

    let store = open(dir.path(), 1000);
    assert_eq!(store.current_revision(), 5);
    assert_eq!(store.list("/").0, before);
    let a = store.get("/r/a").expect("a");
    assert_eq!(
        (a.create_rev, a.mod_rev, rv_of(&a.value()).to_string()),
        (2, 4, "4".into())
    );
    assert!(store.get("/r/b").is_none());

    // History replays after reopen, with previous states.
    let mut w = store.watch("/r/", 1).expect("watch");
    let want = [
        (2, EventType::Added, "/r/a", None),
        (3, EventType::Added, "/r/b", None),
        (4, EventType::Modified, "/r/a", Some(2)),
        (5, EventType::Deleted, "/r/b", Some(3)),
    ];
    for (rev, kind, key, prev) in want {
        let e = next_event(&mut w).await;
        assert_eq!((e.rev, e.kind, e.object.key.as_str()), (rev, kind, key));
        assert_eq!(e.prev.as_ref().map(|p| p.mod_rev), prev);
        assert_eq!(rv_of(&e.object.value()), rev.to_string());
    }
    // Revisions continue, never reused.
    let c = store.create("/r/c".into(), cm("c", "1")).await.expect("c");
    assert_eq!(c.mod_rev, 6);
    assert_eq!(next_event(&mut w).await.rev, 6);
    store.close().await;
}

#[tokio::test]
async fn compaction_and_ring_bound_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), 5);
    for i in 0..20 {
        store
            .create(format!("/r/{i}"), cm("x", "1"))
            .await
            .expect("create"); // 2..=21
    }
    assert_eq!(store.compacted_revision(), 16);
    store.close().await;

    let store = open(dir.path(), 5);
    assert_eq!(store.compacted_revision(), 16);
    assert!(matches!(
        store.watch("/r/", 15),
        Err(StoreError::Gone { compacted: 16, .. })
    ));
    let mut w = store.watch("/r/", 16).expect("watch");
    assert_eq!(next_event(&mut w).await.rev, 17);
    assert_eq!(store.compact(19).await.expect("compact"), 19);
    store.close().await;

    // With a larger history the explicitly compacted events stay gone.
    let store = open(dir.path(), 1000);
    assert_eq!(store.compacted_revision(), 19);
    let mut w = store.watch("/r/", 19).expect("watch");
    assert_eq!(next_event(&mut w).await.rev, 20);
    store.close().await;
}

#[tokio::test]
async fn second_open_of_same_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let first = SqliteStore::open(&path, opts(100)).expect("first open");
    first
        .create("/r/a".into(), cm("a", "1"))
        .await
        .expect("create");
    let second = SqliteStore::open(&path, opts(100));
    assert!(matches!(second, Err(StoreError::Backend(_))), "{second:?}");
    first.close().await;
    let again = SqliteStore::open(&path, opts(100)).expect("open after close");
    assert!(again.get("/r/a").is_some());
    again.close().await;
}

/// Set in the child process: the directory of the store it writes to until killed.
const CHILD_ENV: &str = "SKIFF_STORE_CRASH_CHILD_DIR";

/// Not a test on its own: the child half of `acknowledged_writes_survive_kill_9`. Without the
/// environment variable it does nothing.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = open(std::path::Path::new(&dir), 100_000);
        let mut tasks = Vec::new();
        for t in 0..8 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("/r/{t}/{i}");
                    let obj = store
                        .create(key.clone(), cm(&key, "v"))
                        .await
                        .expect("create");
                    ack(&key, obj.mod_rev);
                    if i % 4 == 0 {
                        let obj = store
                            .update(key.clone(), Some(obj.mod_rev), cm(&key, "updated"))
                            .await
                            .expect("update");
                        ack(&key, obj.mod_rev);
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
}

/// Reports an acknowledged write to the parent, bypassing test output capture.
fn ack(key: &str, rev: i64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ack {key} {rev}");
    let _ = out.flush();
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "durability::crash_child_writer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut record = |line: &str| {
        let mut parts = line.split_whitespace();
        if let (Some("ack"), Some(key), Some(rev)) = (parts.next(), parts.next(), parts.next()) {
            let rev: i64 = rev.parse().expect("rev");
            let slot = acked.entry(key.to_string()).or_insert(rev);
            *slot = (*slot).max(rev);
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut count = 0;
    while count < 3000 && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) => {
                count += usize::from(line.starts_with("ack "));
                record(&line);
            }
            _ => break,
        }
    }
    // SIGKILL mid-stream: no chance to flush or close anything.
    child.kill().expect("kill -9");
    let _ = child.wait();
    // Acks already in the pipe were acknowledged before the kill too; a torn last line is not.
    for line in lines.map_while(Result::ok) {
        record(&line);
    }
    assert!(
        acked.len() > 100,
        "child acknowledged only {} keys",
        acked.len()
    );

    let store = open(dir.path(), 100_000);
    let max_acked = acked.values().copied().max().unwrap_or(0);
    for (key, rev) in &acked {
        let obj = store
            .get(key)
            .unwrap_or_else(|| panic!("acknowledged {key} lost"));
        assert!(
            obj.mod_rev >= *rev,
            "{key}: stored {} < acked {rev}",
            obj.mod_rev
        );
    }
    assert!(store.current_revision() >= max_acked);
    let next = store
        .create("/r/after".into(), cm("after", "1"))
        .await
        .expect("create");
    assert_eq!(next.mod_rev, store.current_revision());
    assert!(
        next.mod_rev > max_acked,
        "revisions must not be reused after a crash"
    );
    store.close().await;
}
