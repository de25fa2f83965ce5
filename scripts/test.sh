#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, unit + integration tests (real FUSE mounts).
# Usage: scripts/test.sh   (as root on a fresh Debian machine; installs what is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets --no-fail-fast
# The benchmark harness must keep running (its numbers are not checked here: docs/performance.md).
bash scripts/bench.sh 64M
