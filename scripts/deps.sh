#!/usr/bin/env bash
# Installs the system packages ckptfs's tests and demo use, when missing (Debian, as root).
# Usage: scripts/deps.sh          what the tests, the bench and the demo use (idempotent)
#        scripts/deps.sh demo     only what scripts/demo.sh uses
set -euo pipefail
need=()
# scripts/demo.sh: the mount (fusermount3), strings and readelf (binutils), xxd
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v readelf >/dev/null 2>&1 || need+=(binutils)
command -v xxd >/dev/null 2>&1 || need+=(xxd)
if [ "${1:-}" != demo ]; then
  command -v gdb >/dev/null 2>&1 || need+=(gdb)
  # aarch64 / riscv64 cores (tests/it/runtimes.rs)
  command -v gdb-multiarch >/dev/null 2>&1 || need+=(gdb-multiarch)
  command -v zstd >/dev/null 2>&1 || need+=(zstd)
  command -v yara >/dev/null 2>&1 || need+=(yara)
  command -v rg >/dev/null 2>&1 || need+=(ripgrep)
  command -v rsync >/dev/null 2>&1 || need+=(rsync)
  # `ckptfs timeline --format bodyfile` read by mactime (tests/it/timeline.rs)
  command -v mactime >/dev/null 2>&1 || need+=(sleuthkit)
  # checkpointctl's test suite (scripts/peer-checkpointctl.sh): bats, jq, and sudo (one test runs
  # the binary as `nobody`)
  command -v bats >/dev/null 2>&1 || need+=(bats)
  command -v jq >/dev/null 2>&1 || need+=(jq)
  command -v sudo >/dev/null 2>&1 || need+=(sudo)
  # the case report rendered in a real browser (tests/it/report_browser.rs)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # deploy/*.yaml parsed by tests/it/scan.rs
  python3 -c 'import yaml' >/dev/null 2>&1 || need+=(python3-yaml)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/deps.sh: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "installing: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -e /dev/fuse ]; then
  echo "scripts/deps.sh: /dev/fuse is missing: FUSE tests cannot run" >&2
  exit 1
fi
