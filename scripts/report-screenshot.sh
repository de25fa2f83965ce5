#!/usr/bin/env bash
# Regenerates docs/report-podman-implant.png, the screenshot of a case report shown in README.md:
# `ckptfs report` of the shared fixture podman-implant (../shared/fixtures, or FIXTURES=DIR),
# opened by headless Chromium (scripts/deps.sh installs it) and captured from its top.
#
# Usage: scripts/report-screenshot.sh [OUT.png]
# Environment: WINDOW (Chromium's window in CSS pixels, default 1280,2600), SCALE (device scale
# factor, default 0.75: the PNG is WINDOW x SCALE pixels), NOBUILD=1 to use target/debug/ckptfs
# as it is. Fails if the PNG is 600 KB or more (it is committed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FX=${FIXTURES:-$ROOT/../shared/fixtures}
OUT=${1:-$ROOT/docs/report-podman-implant.png}
WINDOW=${WINDOW:-1280,2600}
SCALE=${SCALE:-0.75}
INPUT=$FX/podman-implant/checkpoint.tar.gz
[[ -f $INPUT ]] || { echo "report-screenshot.sh: $INPUT is missing (FIXTURES=DIR)" >&2; exit 1; }
command -v chromium >/dev/null || { echo "report-screenshot.sh: chromium is missing (scripts/deps.sh)" >&2; exit 1; }
if [[ ${NOBUILD:-0} != 1 ]]; then
    (cd "$ROOT" && cargo build --quiet --no-default-features --bin ckptfs)
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The page shows its input and command as given: run as `ckptfs report checkpoint.tar.gz -o
# case.html` from a directory holding a link to the fixture, with a private cache.
mkdir -p "$WORK/bin"
ln -s "$ROOT/target/debug/ckptfs" "$WORK/bin/ckptfs"
ln -s "$INPUT" "$WORK/checkpoint.tar.gz"
(cd "$WORK" && XDG_CACHE_HOME=$WORK/cache PATH=$WORK/bin:$PATH ckptfs report checkpoint.tar.gz -o case.html)
timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$WORK/profile" --window-size="$WINDOW" --force-device-scale-factor="$SCALE" \
    --screenshot="$WORK/shot.png" "file://$WORK/case.html" >/dev/null 2>&1
size=$(stat -c %s "$WORK/shot.png")
if (( size >= 600 * 1024 )); then
    echo "report-screenshot.sh: the PNG is $size bytes (>= 600 KB): use a smaller WINDOW or SCALE" >&2
    exit 1
fi
cp "$WORK/shot.png" "$OUT"
echo "wrote $OUT ($size bytes)"
