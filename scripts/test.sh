#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the pinned Python tools
# the end-to-end tests need (the moto emulator, cargo-lambda), checks format
# and lints, then runs every test. The tests start their own emulators.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
# The tools pip just installed (cargo-lambda, checkov) are found on PATH even
# where a version manager's shims have not been refreshed.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked --no-fail-fast
