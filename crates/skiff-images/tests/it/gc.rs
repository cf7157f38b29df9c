//! Garbage collection: least recently used unused images go first, in-use ones stay.

use skiff_images::{ImageStore, RegistryConfig};

use crate::fixtures::*;

#[test]
fn gc_removes_lru_unused_images_until_low_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("s"), RegistryConfig::default()).unwrap();
    for (i, name) in ["old:1", "mid:1", "new:1", "used:1"].iter().enumerate() {
        let l = Layer::new()
            .file(&format!("f{i}"), 0o644, 0, name.as_bytes())
            .tar();
        let tar = dir.path().join(format!("{i}.tar"));
        docker_archive(&tar, &[name], std::slice::from_ref(&l), &config(&[&l]));
        store.import(&tar).unwrap();
        // last_used has one-second resolution; make the order unambiguous.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    store.touch("old:1").unwrap(); // now the most recently used unused image

    // Fake disk: 25% per image present.
    let usage = || Ok(((store.list().len() as u64) * 25, 100));
    let idle = store.gc_with(&[], 100, 50, &|| Ok((80, 100))).unwrap();
    assert!(idle.removed.is_empty(), "80% is under the high threshold");
    assert!(
        store.gc_with(&[], 10, 50, &usage).is_err(),
        "low above high"
    );

    let report = store
        .gc_with(&["used:1".to_string()], 90, 50, &usage)
        .unwrap();
    assert_eq!((report.usage_before, report.usage_after), (100, 50));
    assert_eq!(report.removed.len(), 2);
    let left: Vec<String> = store
        .list()
        .iter()
        .flat_map(|i| i.references.iter().filter(|r| !r.contains('@')).cloned())
        .collect();
    assert_eq!(
        left,
        vec!["docker.io/library/old:1", "docker.io/library/used:1"],
        "least recently used go first; in-use images stay"
    );
}
