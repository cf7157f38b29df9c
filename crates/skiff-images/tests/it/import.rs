//! Import of docker and OCI archives, layer unpacking, whiteouts, removal.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use skiff_cri::ImageService;
use skiff_images::{ImageStore, RegistryConfig};

use crate::fixtures::*;

fn open(dir: &Path) -> ImageStore {
    ImageStore::open(&dir.join("store"), RegistryConfig::default()).unwrap()
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|r| r.count()).unwrap_or(0)
}

#[test]
fn import_docker_archive_unpacks_layers_and_whiteouts() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("img.tar");
    standard_archive(&tar, "busybox:t");
    let store = open(dir.path());
    let imgs = store.import(&tar).unwrap();
    assert_eq!(imgs.len(), 1);
    let img = &imgs[0];
    assert!(img
        .references
        .contains(&"docker.io/library/busybox:t".to_string()));
    assert_eq!(img.config.cmd, vec!["sh"]);
    assert!(img.id.starts_with("sha256:") && img.digest.starts_with("sha256:"));

    let got = store.get("busybox:t").expect("found by short name");
    assert_eq!(got.digest, img.digest);
    assert_eq!(store.get(&img.id).unwrap().digest, img.digest);
    assert_eq!(store.get(&img.digest).unwrap().id, img.id);
    assert!(store.get("busybox:other").is_none());

    let layers = ImageService::layers(&store, img).unwrap();
    assert_eq!(layers.len(), 2);
    // No ':' in layer paths: overlayfs separates lowerdirs with it.
    assert!(layers.iter().all(|l| !l.to_string_lossy().contains(':')));
    let (l1, l2) = (&layers[0], &layers[1]);

    let bb = std::fs::metadata(l1.join("bin/busybox")).unwrap();
    assert_eq!(bb.permissions().mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read(l1.join("bin/busybox")).unwrap(),
        busybox_bytes()
    );
    assert_eq!(
        std::fs::read_link(l1.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        std::fs::read_link(l1.join("bin/ls")).unwrap(),
        Path::new("/bin/busybox")
    );
    let hard = std::fs::metadata(l1.join("bin/bb-hard")).unwrap();
    assert_eq!(hard.ino(), bb.ino(), "hard link shares the inode");
    let owned = std::fs::metadata(l1.join("etc/owned")).unwrap();
    assert_eq!(owned.permissions().mode() & 0o7777, 0o640);
    if rustix::process::geteuid().is_root() {
        assert_eq!((owned.uid(), owned.gid()), (1000, 1000));
    }
    let keep = std::fs::metadata(l1.join("opt/keep")).unwrap();
    assert_eq!(keep.permissions().mode() & 0o7777, 0o750);

    // Whiteout → 0:0 character device; opaque marker → xattr.
    use std::os::unix::fs::FileTypeExt;
    let wh = std::fs::symlink_metadata(l2.join("etc/gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!l2.join("etc/.wh.gone").exists());
    let mut buf = [0u8; 8];
    let n = rustix::fs::lgetxattr(l2.join("opt/keep"), "trusted.overlay.opaque", &mut buf)
        .expect("opaque xattr set");
    assert_eq!(&buf[..n], b"y");
    assert!(!l2.join("opt/keep/.wh..wh..opq").exists());
    assert!(l2.join("opt/keep/b").is_file());

    // Reopening the store keeps the image.
    let again = open(dir.path());
    assert_eq!(again.list().len(), 1);

    // Importing again unpacks nothing new and yields the same image.
    let before = std::fs::metadata(l1).unwrap().ino();
    let imgs2 = store.import(&tar).unwrap();
    assert_eq!(imgs2[0].digest, img.digest);
    assert_eq!(std::fs::metadata(l1).unwrap().ino(), before);
    assert_eq!(store.list().len(), 1);

    // Removal deletes every blob and layer.
    store.remove("busybox:t").unwrap();
    assert!(store.list().is_empty());
    assert_eq!(count(&dir.path().join("store/blobs/sha256")), 0);
    assert_eq!(count(&dir.path().join("store/layers/sha256")), 0);
    assert!(matches!(
        store.remove("busybox:t"),
        Err(skiff_cri::ImageError::NotFound(_))
    ));
}

#[test]
fn shared_layers_survive_removal_of_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let l1 = busybox_layer();
    let a = dir.path().join("a.tar");
    docker_archive(
        &a,
        &["reg:5000/a:1"],
        std::slice::from_ref(&l1),
        &config(&[&l1]),
    );
    let l2 = whiteout_layer();
    let b = dir.path().join("b.tar");
    docker_archive(
        &b,
        &["reg:5000/b:1"],
        &[l1.clone(), l2.clone()],
        &config(&[&l1, &l2]),
    );
    let store = open(dir.path());
    let ia = store.import(&a).unwrap().remove(0);
    let ib = store.import(&b).unwrap().remove(0);
    let la = store.layers(&ia).unwrap();
    let lb = store.layers(&ib).unwrap();
    assert_eq!(la[0], lb[0], "a layer is unpacked once");
    // Removal by a 12-character ID prefix (as `skiff image ls` shows it).
    let short = &ia.id.trim_start_matches("sha256:")[..12];
    store.remove(short).unwrap();
    assert!(store.get(&ia.digest).is_none());
    assert!(lb[0].join("bin/busybox").is_file());
    assert_eq!(store.list().len(), 1);
}

#[test]
fn zstd_and_uncompressed_layers() {
    let dir = tempfile::tempdir().unwrap();
    let l1 = busybox_layer();
    let l2 = whiteout_layer();
    let tar = dir.path().join("z.tar");
    docker_archive(
        &tar,
        &["z:1"],
        &[zstd(&l1), l2.clone()],
        &config(&[&l1, &l2]),
    );
    let store = open(dir.path());
    let img = store.import(&tar).unwrap().remove(0);
    let layers = store.layers(&img).unwrap();
    assert_eq!(
        std::fs::read(layers[0].join("bin/busybox")).unwrap(),
        busybox_bytes()
    );
    assert!(layers[1].join("etc/new").is_file());
}

#[test]
fn path_traversal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let store = open(dir.path());

    let dotdot = Layer::new().raw_file("../../evil", b"x").tar();
    let t1 = dir.path().join("t1.tar");
    docker_archive(
        &t1,
        &["evil:1"],
        std::slice::from_ref(&dotdot),
        &config(&[&dotdot]),
    );
    let err = store.import(&t1).unwrap_err();
    assert!(err.to_string().contains("escapes"), "{err}");

    let abs = Layer::new().raw_file("/etc/evil", b"x").tar();
    let t2 = dir.path().join("t2.tar");
    docker_archive(
        &t2,
        &["evil:2"],
        std::slice::from_ref(&abs),
        &config(&[&abs]),
    );
    assert!(store.import(&t2).is_err());

    // A symlink to a directory outside, then a file written through it.
    let target = outside.path().to_string_lossy().into_owned();
    let via_link = Layer::new()
        .symlink("escape", &target)
        .file("escape/pwned", 0o644, 0, b"x")
        .tar();
    let t3 = dir.path().join("t3.tar");
    docker_archive(
        &t3,
        &["evil:3"],
        std::slice::from_ref(&via_link),
        &config(&[&via_link]),
    );
    assert!(store.import(&t3).is_err());
    assert!(!outside.path().join("pwned").exists());

    // A whiteout through the same link must not delete outside files either.
    std::fs::write(outside.path().join("victim"), b"keep").unwrap();
    let wh = Layer::new()
        .symlink("escape", &target)
        .file("escape/.wh.victim", 0o644, 0, b"")
        .tar();
    let t4 = dir.path().join("t4.tar");
    docker_archive(&t4, &["evil:4"], std::slice::from_ref(&wh), &config(&[&wh]));
    assert!(store.import(&t4).is_err());
    assert!(outside.path().join("victim").is_file());

    assert!(store.list().is_empty());
    // Failed unpacks leave no layer behind.
    assert_eq!(count(&dir.path().join("store/layers/sha256")), 0);
}

#[test]
fn oci_archive_from_skopeo() {
    if which("skopeo").is_none() {
        println!("skipped: skopeo is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let docker = dir.path().join("d.tar");
    standard_archive(&docker, "busybox:t");
    let oci = dir.path().join("o.tar");
    let st = std::process::Command::new("skopeo")
        .arg("copy")
        .arg(format!("docker-archive:{}", docker.display()))
        .arg(format!(
            "oci-archive:{}:docker.io/library/busybox:oci",
            oci.display()
        ))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let store = open(dir.path());
    let img = store.import(&oci).unwrap().remove(0);
    assert!(
        img.references
            .contains(&"docker.io/library/busybox:oci".to_string()),
        "{:?}",
        img.references
    );
    let layers = store.layers(&img).unwrap();
    assert_eq!(layers.len(), 2);
    assert!(layers[0].join("bin/busybox").is_file());
}

/// Stacks the layers with a real overlay mount: whiteouts hide, opaque dirs reset.
#[test]
fn layers_stack_as_overlay_lowerdirs() {
    if !rustix::process::geteuid().is_root() {
        println!("skipped: mounting overlayfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("img.tar");
    standard_archive(&tar, "busybox:t");
    let store = open(dir.path());
    let img = store.import(&tar).unwrap().remove(0);
    let mut layers = store.layers(&img).unwrap();
    layers.reverse();
    let lower = layers
        .iter()
        .map(|l| l.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!("lowerdir={lower}"))
        .arg(&mnt)
        .status()
        .unwrap();
    if !st.success() {
        println!("skipped: overlay mount refused here");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    assert!(!mnt.join("etc/gone").exists(), "whiteout hides the file");
    assert!(mnt.join("etc/owned").is_file());
    assert!(mnt.join("etc/new").is_file());
    assert!(
        !mnt.join("opt/keep/a").exists(),
        "opaque dir hides lower entries"
    );
    assert!(mnt.join("opt/keep/b").is_file());
    assert!(mnt.join("bin/sh").exists());
}

/// The path of a program on PATH, if any.
pub fn which(prog: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(prog))
            .find(|c| c.is_file())
    })
}

/// `skiff image import` runs in its own process beside the agent: two stores opened on
/// one root must see each other's changes and not lose them.
#[test]
fn two_stores_on_one_root_share_images() {
    let dir = tempfile::tempdir().unwrap();
    let agent = open(dir.path());
    let cli = open(dir.path());
    let a = dir.path().join("a.tar");
    standard_archive(&a, "a:1");
    let b = dir.path().join("b.tar");
    let l = Layer::new().file("only-b", 0o644, 0, b"b").tar();
    docker_archive(&b, &["b:1"], std::slice::from_ref(&l), &config(&[&l]));
    agent.import(&a).unwrap();
    cli.import(&b).unwrap();
    assert!(
        agent.get("b:1").is_some(),
        "the agent sees the CLI's import"
    );
    assert_eq!(
        cli.list().len(),
        2,
        "the CLI's import kept the agent's image"
    );
    cli.remove("a:1").unwrap();
    assert!(agent.get("a:1").is_none());
    assert_eq!(agent.list().len(), 1);
}
