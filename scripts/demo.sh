#!/usr/bin/env bash
# Builds ckptfs, mounts the demo checkpoint (a real Podman export of a busybox container) and walks
# through the tree with the plain tools an analyst uses. Usage: scripts/demo.sh [CHECKPOINT]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh demo
cargo build --release --quiet
bin=target/release/ckptfs
ck=${1:-demo/podman-busybox.tar.gz}
mnt=$(mktemp -d /tmp/ckptfs-demo.XXXXXX)
cleanup() { "$bin" umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT
run() { printf '\n$ %s\n' "$*"; bash -c "$*" || true; }

"$bin" mount "$ck" "$mnt"
cd "$mnt"
run "ls"
run "cat checkpoint/summary"
run "cat pstree"
pid=$(ls -d [0-9]* | head -n 1)
run "cat $pid/cmdline | tr '\\0' ' '; echo"
run "tr '\\0' '\\n' < $pid/environ"
run "cat $pid/maps"
run "head -n 12 $pid/status"
run "ls -l $pid/fd"
run "grep -c -F PODBB-SHELL-VAR-MARKER-77e1 $pid/memory/*"
run "grep -l -F APP_TOKEN */memory/*"
run "strings -n 12 $pid/memory/* | grep -m 3 PODBB"
heap=$(awk '/\[heap\]/ {split($1, a, "-"); print a[1]; exit}' "$pid/maps")
[ -n "$heap" ] && run "xxd -s 0x$heap -l 64 $pid/mem"
run "ls -l $pid/memory | head"
run "readelf -n $pid/core | grep NT_"
cd /
