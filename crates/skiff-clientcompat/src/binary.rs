//! Finding the `skiff` binary to test.

use crate::error::HarnessError;
use std::path::{Path, PathBuf};

/// Locate the `skiff` binary: `$SKIFF_BIN` if set, else the target directory this test
/// executable was built into, else `<workspace>/target/{debug,release}`.
///
/// A test binary lives in `<target>/<profile>/deps/`, and `cargo test`/`nextest` over the
/// workspace builds `skiff` into `<target>/<profile>/`, whatever `CARGO_TARGET_DIR` says;
/// that is why the executable's own location is consulted before the default `target/`.
pub fn locate_skiff_binary() -> Result<PathBuf, HarnessError> {
    if let Some(explicit) = std::env::var_os("SKIFF_BIN") {
        let path = PathBuf::from(explicit);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HarnessError::BadSkiffBin(path))
        };
    }
    let exe = std::env::current_exe().ok();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tried = candidates(exe.as_deref(), &workspace);
    match tried.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(HarnessError::BinaryNotFound { tried }),
    }
}

/// The places to look, best first.
fn candidates(exe: Option<&Path>, workspace: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    // <target>/<profile>/deps/<test-exe> → <target>/<profile>/skiff
    if let Some(profile_dir) = exe.and_then(Path::parent).and_then(|deps| {
        if deps.ends_with("deps") {
            deps.parent()
        } else {
            Some(deps)
        }
    }) {
        out.push(profile_dir.join("skiff"));
    }
    for profile in ["debug", "release"] {
        let p = workspace.join("target").join(profile).join("skiff");
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_prefer_the_test_executables_profile_dir() {
        let ws = Path::new("/ws");
        let cases: [(Option<&str>, &[&str]); 3] = [
            (
                Some("/t/debug/deps/kube_rs-abc"),
                &[
                    "/t/debug/skiff",
                    "/ws/target/debug/skiff",
                    "/ws/target/release/skiff",
                ],
            ),
            // nextest archives and `cargo run --example` put executables outside deps/.
            (
                Some("/t/release/kube_rs"),
                &[
                    "/t/release/skiff",
                    "/ws/target/debug/skiff",
                    "/ws/target/release/skiff",
                ],
            ),
            (
                None,
                &["/ws/target/debug/skiff", "/ws/target/release/skiff"],
            ),
        ];
        for (exe, want) in cases {
            let got = candidates(exe.map(Path::new), ws);
            let want: Vec<PathBuf> = want.iter().map(PathBuf::from).collect();
            assert_eq!(got, want, "exe = {exe:?}");
        }
    }

    #[test]
    fn candidates_do_not_repeat_the_workspace_target() {
        let got = candidates(Some(Path::new("/ws/target/debug/deps/x")), Path::new("/ws"));
        assert_eq!(
            got,
            vec![
                PathBuf::from("/ws/target/debug/skiff"),
                PathBuf::from("/ws/target/release/skiff")
            ]
        );
    }
}
