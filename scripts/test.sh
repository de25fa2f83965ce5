#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, the benchmark harness on a small size (it must keep
# running; its numbers are not checked here, see docs/performance.md), then unit + integration
# tests (real FUSE mounts against ../shared/fixtures).
# Usage: scripts/test.sh   (as root on a fresh Debian machine; installs what is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
bash scripts/bench.sh 64M
cargo test --all-targets --no-fail-fast
