#!/usr/bin/env bash
# Builds the cargo-fuzz targets (fuzz/) and runs each briefly on its committed corpus: the CI smoke
# test of the fuzzers (the long runs are recorded in docs/robustness.md).
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 20; 0 = only replay the corpus)
# Needs only the stable toolchain: the targets are built with plain cargo and the flags
# `cargo fuzz build -O -a -s none` passes (libFuzzer comes with libfuzzer-sys), so CI does not have
# to install cargo-fuzz. For long runs, `cargo fuzz run TARGET` works as usual (docs/robustness.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
# CKPTFS_FUZZ_TARGET_DIR: a build dir kept between runs (a fresh clone otherwise builds from
# scratch: a few minutes on 2 cores).
tdir="${CKPTFS_FUZZ_TARGET_DIR:-fuzz/target}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
# SanitizerCoverage as libFuzzer expects it, debug assertions (overflow checks) on, no sanitizer
# (safe Rust; 2-3x faster). --target keeps these flags off build scripts and proc macros.
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 --cfg fuzzing -Cdebug-assertions" \
  cargo build --manifest-path fuzz/Cargo.toml --release --bins --target "$triple" --target-dir "$tdir"
bin="$tdir/$triple/release"
targets=$(for f in fuzz/fuzz_targets/*.rs; do basename "$f" .rs; done)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for t in $targets; do
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
