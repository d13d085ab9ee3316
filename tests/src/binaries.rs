//! Binaries of the workspace the tests run: the handler binaries the
//! emulator runs under its Lambda Runtime API (and the zips that deploy
//! them), and the `sjob` CLI.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// Path of a freshly built binary of package `handlers` (`success-handler`
/// or `error-handler`).
pub fn handler_binary(name: &str) -> PathBuf {
    workspace_binary(name)
}

/// Zips `binary` as `bootstrap`, the layout `cargo lambda build
/// --output-format zip` ships: a handler package for `[base.handlers]`.
pub fn zip_bootstrap(binary: &Path, zip: &Path) {
    std::fs::create_dir_all(zip.parent().expect("a zip path has a parent")).unwrap();
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[1], 'bootstrap')",
        ])
        .arg(binary)
        .arg(zip)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "zipping {}", binary.display());
}

/// Both handler packages, built from the real binaries, where
/// `[base.handlers]` finds them under `dir`: `dist/<binary>/bootstrap.zip`.
pub fn write_handler_packages(dir: &Path) {
    for binary in ["success-handler", "error-handler"] {
        zip_bootstrap(
            &handler_binary(binary),
            &dir.join(format!("dist/{binary}/bootstrap.zip")),
        );
    }
}

/// Path of a freshly built `sjob` (package `sjob`).
pub fn sjob_binary() -> PathBuf {
    workspace_binary("sjob")
}

/// `cargo test -p sjob-e2e` builds no other package's binaries, not even
/// those of a dependency, so the first call runs `cargo build --workspace
/// --bins` and takes the paths from Cargo's own artifact messages, which
/// respect `CARGO_TARGET_DIR` and `build.target-dir`.
///
/// The whole workspace, not `-p handlers`: Cargo unifies features over the
/// packages it selects, and the handlers alone select fewer features of 34
/// shared crates (the SDKs' event streams, `regex`'s Unicode tables) than
/// the workspace, so `-p handlers` compiled them all again, two minutes of
/// CPU in CI. The workspace's binaries are what `cargo test --workspace`
/// (the README's test command) has just built: this build finds them fresh.
fn workspace_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(build_binaries)
        .get(name)
        .unwrap_or_else(|| panic!("the workspace has no binary named {name}"))
        .clone()
}

fn build_binaries() -> HashMap<String, PathBuf> {
    let output = crate::cargo_command()
        .args(["build", "--workspace", "--bins", "--message-format=json"])
        .current_dir(crate::workspace_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(
        output.status.success(),
        "cargo build --workspace --bins failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter_map(|artifact| {
            let name = artifact["target"]["name"].as_str()?.to_string();
            let path = artifact["executable"].as_str()?.into();
            Some((name, path))
        })
        .collect()
}
