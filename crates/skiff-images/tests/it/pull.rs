//! Pulls from a real registry (Debian's `docker-registry`) on 127.0.0.1, through a
//! docker.io mirror and as an insecure (HTTP) registry.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use skiff_cri::{ImageError, ImageService, PullAuth};
use skiff_images::{ImageStore, RegistryConfig};

use crate::fixtures::*;
use crate::import::which;

/// A registry process, killed when dropped.
struct Registry {
    child: Child,
    port: u16,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_registry(dir: &Path) -> Registry {
    let port = free_port();
    let storage = dir.join("registry-data");
    std::fs::create_dir_all(&storage).unwrap();
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reg = Registry { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    reg
}

fn push(archive: &Path, dest: &str, extra: &[&str]) {
    let out = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .args(extra)
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{dest}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tools_present() -> bool {
    for t in ["docker-registry", "skopeo"] {
        if which(t).is_none() {
            println!("skipped: {t} is not installed");
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_through_docker_io_mirror_and_insecure_registry() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(dir.path());
    let p = reg.port;
    let archive = dir.path().join("bb.tar");
    standard_archive(&archive, "busybox:t");
    // Layers of their own: skopeo would reuse the gzip blobs of an image it pushed before.
    let zl1 = Layer::new()
        .dir("etc", 0o755)
        .file("etc/zfile", 0o644, 0, b"z\n")
        .tar();
    let zarchive = dir.path().join("z.tar");
    docker_archive(
        &zarchive,
        &["app:z"],
        std::slice::from_ref(&zl1),
        &config(&[&zl1]),
    );
    push(
        &zarchive,
        &format!("127.0.0.1:{p}/team/app:z"),
        &["--format", "oci", "--dest-compress-format", "zstd"],
    );
    push(&archive, &format!("127.0.0.1:{p}/library/busybox:t"), &[]);

    let cfg = RegistryConfig::parse(&format!(
        "mirrors:\n  docker.io:\n    endpoint: [\"http://127.0.0.1:{p}\"]\n  \"127.0.0.1:{p}\":\n    endpoint: [\"http://127.0.0.1:{p}\"]\n"
    ))
    .unwrap();
    let store = ImageStore::open(&dir.path().join("store"), cfg).unwrap();

    let img = store.pull("busybox:t", None).await.unwrap();
    assert!(img
        .references
        .contains(&"docker.io/library/busybox:t".to_string()));
    assert_eq!(img.config.cmd, vec!["sh"]);
    let layers = store.layers(&img).unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(
        std::fs::read(layers[0].join("bin/busybox")).unwrap(),
        busybox_bytes()
    );
    assert!(store.get("docker.io/library/busybox:t").is_some());

    // By digest: served locally, no registry needed.
    let pinned = format!("busybox@{}", img.digest);
    assert_eq!(store.pull(&pinned, None).await.unwrap().digest, img.digest);

    // Unknown tag: the registry's "manifest unknown" becomes NotFound.
    let err = store.pull("busybox:nope", None).await.unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err:?}");
    let err = store.pull("nosuchrepo:1", None).await.unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err:?}");

    // zstd layers from an insecure registry named directly.
    let z = store
        .pull(
            &format!("127.0.0.1:{p}/team/app:z"),
            Some(PullAuth::default()),
        )
        .await
        .unwrap();
    assert_ne!(
        z.digest, img.digest,
        "zstd layers make a different manifest"
    );
    let zl = store.layers(&z).unwrap();
    let zblob = dir
        .path()
        .join("store/blobs/sha256")
        .join(zl[0].parent().unwrap().file_name().unwrap());
    let head = std::fs::read(zblob).unwrap();
    assert_eq!(
        &head[..4],
        &[0x28, 0xb5, 0x2f, 0xfd],
        "layer really is zstd"
    );
    assert!(zl[0].join("etc/zfile").is_file());

    assert_eq!(store.list().len(), 2);
    drop(reg);

    // With the registry gone, an unreachable endpoint is a Network error.
    let err = store
        .pull(&format!("127.0.0.1:{p}/team/app:z"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Network { .. }), "{err:?}");
}
