#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, the benchmark harness on a small size (it must keep
# running; its numbers are not checked here, see docs/performance.md), a short fuzz smoke run,
# then unit + integration tests (real FUSE mounts against ../shared/fixtures).
# Usage: scripts/test.sh   (as root on a fresh Debian machine; installs what is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
bash scripts/bench.sh 64M
# The fuzz targets must build and run (10 s each on the committed corpus; long runs: docs/robustness.md).
bash scripts/fuzz-smoke.sh 10
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets --no-fail-fast 2>&1 | tee "$log" || status=$?
# One closing line for the whole run (cargo prints one summary per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "all test binaries: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
