#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the pinned Python tools
# the end-to-end tests need (the moto emulator, cargo-lambda), checks format
# and lints, then runs every test. The tests start their own emulators.
set -euo pipefail
cd "$(dirname "$0")/.."

# pip downloads while cargo compiles: only the tests need what it installs.
python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt &
pip_install=$!
# The tools pip installs (cargo-lambda, checkov) are found on PATH even
# where a version manager's shims have not been refreshed.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH
cargo fmt --all --check

# The lints run while the tests build: clippy-driver compiles the workspace's
# own crates (what `cargo clippy --workspace --all-targets -- -D warnings`
# checks, in the same way), plain rustc their dependencies. `cargo clippy`
# would check every dependency again, in check mode, for two minutes on 2
# cores (docs/build.md). The tests' own cargo builds inherit both variables,
# so they reuse this build.
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
# How cargo-clippy hands `-- -D warnings` to clippy-driver.
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
# CLIPPY_ARGS is how cargo-clippy talks to clippy-driver, not a promise: make
# sure a lint still fails a build before trusting a green one.
probe="$(mktemp -d)"
mkdir -p "$probe/src"
printf '[package]\nname = "lint-probe"\nversion = "0.1.0"\nedition = "2021"\n[workspace]\n' > "$probe/Cargo.toml"
printf 'fn main() {\n    let v = vec![1];\n    println!("{}", v.len() == 0);\n}\n' > "$probe/src/main.rs"
if probe_output="$(cargo build --quiet --manifest-path "$probe/Cargo.toml" --target-dir "$probe/target" 2>&1)"; then
    echo "clippy-driver did not fail a build on a lint: CI would not enforce clippy" >&2
    exit 1
fi
case "$probe_output" in
    *"clippy::"*) ;;
    *) echo "the lint probe failed for another reason:" >&2; echo "$probe_output" >&2; exit 1 ;;
esac
rm -rf "$probe"
cargo test --workspace --all-targets --locked --no-run
wait "$pip_install"
cargo test --workspace --all-targets --locked --no-fail-fast
