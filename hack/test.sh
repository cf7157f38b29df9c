#!/usr/bin/env bash
# Run the whole test suite: formatting, lints, unit, integration and e2e tests (the e2e
# tests start the real binary and drive it with the real kubectl).
set -euo pipefail
cd "$(dirname "$0")/.."
hack/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo nextest run --workspace --no-fail-fast --test-threads "${SKIFF_TEST_THREADS:-2}"
# Client-library compatibility (official Python client; kube-rs runs under nextest above).
SKIFF_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/skiff" hack/test-clients.sh
