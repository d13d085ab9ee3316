#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the pinned Python tools
# the end-to-end tests need (the moto emulator, cargo-lambda), checks format
# and lints, then runs every test. The tests start their own emulators.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
