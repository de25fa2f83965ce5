#!/usr/bin/env bash
# Builds the cargo-fuzz targets (fuzz/) and runs each briefly on its committed corpus: the CI smoke
# test of the fuzzers (the long runs are recorded in docs/robustness.md).
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 20; 0 = only replay the corpus)
# Needs: cargo-fuzz (installed from crates.io when missing); the stable toolchain is enough
# (RUSTC_BOOTSTRAP=1 unlocks the nightly flags cargo-fuzz passes).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
# -O release, -a debug assertions (overflow checks on), no sanitizer (safe Rust; 2-3x faster).
# CKPTFS_FUZZ_TARGET_DIR: a build dir kept between runs (a fresh clone otherwise builds from
# scratch: a few minutes on 2 cores).
tdir="${CKPTFS_FUZZ_TARGET_DIR:-fuzz/target}"
cargo fuzz build -O -a -s none --target-dir "$tdir"
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin="$tdir/$triple/release"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for t in $(cargo fuzz list); do
  mkdir -p "$work/$t"
  if [ "$secs" = 0 ]; then
    args=(-runs=0)
  else
    args=(-max_total_time="$secs")
  fi
  # New inputs go to the first (scratch) directory; the committed corpus stays as it is.
  if "$bin/$t" "$work/$t" "fuzz/corpus/$t" "${args[@]}" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$work/$t-" -print_final_stats=1 \
      >"$work/$t.log" 2>&1; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")"
    echo "fuzz-smoke: $t: ok, ${runs:-?} runs in ${secs} s"
  else
    tail -60 "$work/$t.log"
    for a in "$work/$t"-*; do
      [ -e "$a" ] && echo "fuzz-smoke: $t: crash input (base64): $(base64 -w0 "$a" | head -c 4000)"
    done
    echo "fuzz-smoke: $t: FAILED"
    status=1
  fi
done
exit $status
