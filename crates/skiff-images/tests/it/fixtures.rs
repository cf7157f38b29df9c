//! Builds small test images (a busybox layer and a layer with whiteouts) as tarballs.

use std::io::Write;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// sha256 of bytes, as `sha256:<hex>`.
pub fn sha(data: &[u8]) -> String {
    let h = Sha256::digest(data);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The bytes of the busybox binary (a stand-in when the machine has none).
pub fn busybox_bytes() -> Vec<u8> {
    std::fs::read("/usr/bin/busybox").unwrap_or_else(|_| b"#!/bin/false\n".to_vec())
}

fn header(kind: tar::EntryType, mode: u32, uid: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_mtime(1_700_000_000);
    h.set_size(0);
    h
}

/// A tar builder with helpers for each entry kind.
pub struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    /// An empty layer.
    pub fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }
    /// Adds a directory.
    pub fn dir(mut self, path: &str, mode: u32) -> Layer {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        self.0.append_data(&mut h, path, &[][..]).unwrap();
        self
    }
    /// Adds a regular file.
    pub fn file(mut self, path: &str, mode: u32, uid: u64, data: &[u8]) -> Layer {
        let mut h = header(tar::EntryType::Regular, mode, uid);
        h.set_size(data.len() as u64);
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }
    /// Adds a symlink.
    pub fn symlink(mut self, path: &str, target: &str) -> Layer {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }
    /// Adds a hard link.
    pub fn hardlink(mut self, path: &str, target: &str) -> Layer {
        let mut h = header(tar::EntryType::Link, 0o755, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }
    /// Adds an entry with a raw path (bypassing the builder's `..` check).
    pub fn raw_file(mut self, path: &str, data: &[u8]) -> Layer {
        let mut h = header(tar::EntryType::Regular, 0o644, 0);
        h.set_size(data.len() as u64);
        let name = path.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    /// The uncompressed tar.
    pub fn tar(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// The busybox base layer.
pub fn busybox_layer() -> Vec<u8> {
    Layer::new()
        .dir("bin", 0o755)
        .file("bin/busybox", 0o755, 0, &busybox_bytes())
        .symlink("bin/sh", "busybox")
        .symlink("bin/ls", "/bin/busybox")
        .hardlink("bin/bb-hard", "bin/busybox")
        .dir("etc", 0o755)
        .file("etc/gone", 0o644, 0, b"deleted by layer 2\n")
        .file("etc/owned", 0o640, 1000, b"uid 1000\n")
        .dir("opt", 0o755)
        .dir("opt/keep", 0o750)
        .file("opt/keep/a", 0o644, 0, b"a\n")
        .tar()
}

/// A layer deleting etc/gone and making opt/keep opaque.
pub fn whiteout_layer() -> Vec<u8> {
    Layer::new()
        .dir("etc", 0o755)
        .file("etc/.wh.gone", 0o644, 0, b"")
        .file("etc/new", 0o644, 0, b"new\n")
        .dir("opt", 0o755)
        .dir("opt/keep", 0o750)
        .file("opt/keep/.wh..wh..opq", 0o644, 0, b"")
        .file("opt/keep/b", 0o644, 0, b"b\n")
        .tar()
}

/// gzip-compresses bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// zstd-compresses bytes.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// An image config for the given uncompressed layers.
pub fn config(uncompressed: &[&[u8]]) -> Vec<u8> {
    let diff_ids: Vec<String> = uncompressed.iter().map(|l| sha(l)).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": skiff_images::manifest::host_arch(),
        "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// Writes a docker-archive tarball (as `docker save` does) with the given layer blobs.
pub fn docker_archive(path: &Path, tags: &[&str], layers: &[Vec<u8>], config: &[u8]) {
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = header(tar::EntryType::Regular, 0o644, 0);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    let config_name = format!("{}.json", sha(config).trim_start_matches("sha256:"));
    add(&mut b, &config_name, config);
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("l{i}/layer.tar");
        add(&mut b, &name, l);
        add(&mut b, &format!("l{i}/VERSION"), b"1.0");
        names.push(name);
    }
    let manifest = serde_json::json!([{
        "Config": config_name, "RepoTags": tags, "Layers": names,
    }]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    std::fs::write(path, b.into_inner().unwrap()).unwrap();
}

/// The standard two-layer test image as a docker archive tagged `tag`.
pub fn standard_archive(path: &Path, tag: &str) {
    let l1 = busybox_layer();
    let l2 = whiteout_layer();
    let cfg = config(&[&l1, &l2]);
    docker_archive(path, &[tag], &[gzip(&l1), l2], &cfg);
}
