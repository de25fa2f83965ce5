#!/usr/bin/env bash
# Runs checkpointctl's own test suite (bats, ../shared/peer-checkpointctl) against a ckptfs
# binary, through a wrapper that only maps ckptfs's exit status 2 (bad input) to checkpointctl's
# 1. The tests ckptfs fails on purpose are listed below and, each with its reason, in
# docs/views.md ("Where ckptfs differs from checkpointctl"); any other failure fails this script.
# Prints one line: `peer-checkpointctl: N passed, N failed (N accepted differences)`.
# Usage: scripts/peer-checkpointctl.sh [BINARY]   (default target/debug/ckptfs; needs bats, jq,
#        sudo, tar, gzip, zstd; run as root: one test runs the wrapper as `nobody`)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/debug/ckptfs}")
suite=${CKPTFS_PEER_SUITE:-../shared/peer-checkpointctl}
# The suite's tests ckptfs fails on purpose (docs/views.md says why, test by test).
accepted=" 1 2 3 4 5 6 7 8 11 14 15 18 19 20 21 22 23 27 30 32 34 36 40 52 55 62 63 64 65 67 68 69 70 83 84 85 86 87 88 89 90 "
if [ ! -f "$suite/test/checkpointctl.bats" ]; then
  if [ "${CI:-}" = true ]; then
    echo "peer-checkpointctl: $suite/test/checkpointctl.bats not found" >&2
    exit 1
  fi
  echo "SKIPPED: peer-checkpointctl: $suite/test/checkpointctl.bats not found" >&2
  exit 0
fi
for t in bats jq sudo; do
  command -v "$t" >/dev/null || { echo "peer-checkpointctl: $t is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
# A copy anyone can read: the suite writes beside test/, and runs the wrapper as `nobody`.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp -r "$suite/." "$work/peer"
install -m 755 "$bin" "$work/ckptfs"
printf '#!/bin/sh\n"%s" "$@"\ns=$?\n[ "$s" -eq 2 ] && exit 1\nexit "$s"\n' "$work/ckptfs" >"$work/peer/checkpointctl"
chmod -R a+rX "$work/peer"
chmod 755 "$work/peer/checkpointctl"
tap="$work/peer.tap"
(cd "$work/peer/test" && bats --tap checkpointctl.bats >"$tap" 2>&1) || true
passed=0 failed=0 unexpected=()
while read -r status n; do
  if [ "$status" = ok ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    [[ $accepted == *" $n "* ]] || unexpected+=("$n")
  fi
done < <(sed -n -E 's/^(ok|not ok) ([0-9]+) .*/\1 \2/p' "$tap" | sed 's/^not ok/notok/')
total=$(sed -n -E 's/^1\.\.([0-9]+)$/\1/p' "$tap")
if [ -z "$total" ] || [ $((passed + failed)) -ne "$total" ]; then
  cat "$tap" >&2
  echo "peer-checkpointctl: the suite did not run to its end (${total:-?} tests announced)" >&2
  exit 1
fi
echo "peer-checkpointctl: $passed passed, $failed failed ($((failed - ${#unexpected[@]})) accepted differences, docs/views.md)"
if [ ${#unexpected[@]} -gt 0 ]; then
  for n in "${unexpected[@]}"; do
    sed -n "/^not ok $n /,/^\(ok\|not ok\) /p" "$tap" | sed '$d' >&2
  done
  echo "peer-checkpointctl: unexpected failures: ${unexpected[*]}" >&2
  exit 1
fi
