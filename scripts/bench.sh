#!/usr/bin/env bash
# Performance harness (results in docs/performance.md).
#
#   scripts/bench.sh [SIZE]      SIZE of dumped pages: 2G (default), 512M, 64M, ...
#
# Builds release, generates a synthetic checkpoint (examples/gen_checkpoint.rs) as an image dir,
# .tar, .tar.gz and .tar.zst (plus a quarter-size one for the mount-time comparison), then
# measures each row against a baseline measured in the same run and prints ONE table of medians
# over RUNS repetitions (default 3). It prints numbers and ratios; it never fails on them (CI runs
# `scripts/bench.sh 64M` only to check that the harness runs).
#
# Environment: RUNS (repetitions, default 3), NMANY (checkpoints in the directory of row 11,
# default 50), RUNS_SLOW (for the decompression and strings rows;
# default RUNS), FRAG16=1 (the runs-of-16-pages rows below 1 GiB), BENCH_MILLION=1 (the mount of a
# 1,000,000-entry checkpoint: 4 GiB more on disk), BENCH_DIR (work dir; default a fresh
# /var/tmp/ckptfs-bench.XXXXXX, removed at exit unless KEEP=1), DROP_CACHES=0 to never drop the
# page cache (it is dropped, where allowed, for the cold first-read row), NOBUILD=1 to use the
# existing binaries, BENCH_PROFILE=debug to use the debug build, BENCH_CARGO_FLAGS for more cargo
# flags (e.g. --no-default-features), OUT=FILE to also write the report to FILE, SECTIONS="2 10"
# to measure only those groups of rows (1 2 3 4 5 6 8 8b 9 7 10 11 12 13 14 15 16; default all). RUNS12
# (the directory-mount rows of group 12, default 5).
set -euo pipefail
export LC_ALL=C

SIZE=${1:-2G}
RUNS=${RUNS:-3}
RUNS_SLOW=${RUNS_SLOW:-$RUNS} # the decompression and strings rows (the slow ones)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# BENCH_PROFILE=debug uses the debug build (CI's harness check: one build less; numbers are then
# not comparable with docs/performance.md).
PROFILE=${BENCH_PROFILE:-release}
case $PROFILE in
release) BUILD_FLAGS=(--release) ;;
debug) BUILD_FLAGS=() ;;
*) echo "bench.sh: BENCH_PROFILE must be release or debug, not '$PROFILE'" >&2; exit 2 ;;
esac
# BENCH_CARGO_FLAGS: more cargo flags (CI: --no-default-features, a build without YARA-X).
read -r -a EXTRA_FLAGS <<<"${BENCH_CARGO_FLAGS:-}"
BUILD_FLAGS+=("${EXTRA_FLAGS[@]}")
BIN=$ROOT/target/$PROFILE/ckptfs
GEN=$ROOT/target/$PROFILE/examples/gen_checkpoint
if [[ -n ${BENCH_DIR:-} ]]; then
    WORK=$BENCH_DIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /var/tmp/ckptfs-bench.XXXXXX)
fi
WORK=$(cd "$WORK" && pwd)

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

unmount_all() {
    local mp
    # every mount under the work dir, deepest first
    while read -r mp; do
        [[ -n $mp ]] || continue
        "$BIN" umount "$mp" >/dev/null 2>&1 || fusermount3 -u "$mp" >/dev/null 2>&1 || umount -l "$mp" >/dev/null 2>&1 || true
    done < <(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r)
}
BUSY_PIDS=()
# busy_start N: N busy loops (other work competing for the cores); busy_stop ends them
busy_start() {
    local i
    for i in $(seq "$1"); do
        (while :; do :; done) &
        BUSY_PIDS+=("$!")
    done
}
busy_stop() {
    local p
    for p in "${BUSY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${BUSY_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    BUSY_PIDS=()
}
# want SECTION: whether SECTIONS (default: all) selects it
want() { [[ -z ${SECTIONS:-} || " $SECTIONS " == *" $1 "* ]]; }
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    busy_stop
    unmount_all
    if [[ ${KEEP:-0} == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM
trap 'exit 141' PIPE

to_bytes() {
    awk -v s="$1" 'BEGIN {
        m = 1; u = toupper(substr(s, length(s)));
        if (u == "K") m = 2^10; else if (u == "M") m = 2^20; else if (u == "G") m = 2^30; else if (u == "T") m = 2^40;
        if (m > 1) s = substr(s, 1, length(s) - 1);
        printf "%d", s * m }'
}
human() { awk -v b="$1" 'BEGIN { if (b >= 2^30) printf "%.2f GiB", b / 2^30; else printf "%.0f MiB", b / 2^20 }'; }

SIZE_B=$(to_bytes "$SIZE")
SMALL_B=$((SIZE_B / 4))
(( SIZE_B >= 4 * 1024 * 1024 )) || { echo "bench.sh: SIZE too small: $SIZE" >&2; exit 2; }

# ---------------------------------------------------------------- timing helpers
LAST=0
# t CMD...: runs CMD, sets LAST to its wall time in seconds
t() {
    local s=$EPOCHREALTIME
    "$@"
    LAST=$(awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.3f", (s > 0 ? b / s / 1e9 : 0) }'; } # GB/s

CAN_DROP=0
drop_caches() {
    [[ $CAN_DROP == 1 ]] || return 0
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}
if [[ ${DROP_CACHES:-1} == 1 ]] && (echo 1 >/proc/sys/vm/drop_caches) 2>/dev/null; then CAN_DROP=1; fi

MP=$WORK/mnt
mkdir -p "$MP"
mnt() { "$BIN" mount "$@" "$MP" >/dev/null; }
umnt() {
    "$BIN" umount "$MP" >/dev/null 2>&1 || fusermount3 -u "$MP" >/dev/null 2>&1 || umount -l "$MP"
    local i
    for i in $(seq 100); do
        awk -v m="$MP" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts || return 0
        sleep 0.02
    done
}
# the serving daemon(s): ckptfs processes whose argv holds exactly the mount point
daemon_pids() {
    local p
    for p in $(grep -lzxF -- "$MP" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
        [[ $(readlink "/proc/$p/exe" 2>/dev/null) == "$BIN" ]] && echo "$p"
    done
    return 0
}
# daemon_hwm_kb: the peak RSS (VmHWM, KiB) of the daemon serving $MP
daemon_hwm_kb() {
    local pid h m=0
    for pid in $(daemon_pids); do
        h=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        if (( ${h:-0} > m )); then m=$h; fi
    done
    echo "$m"
}
HWM_KB=0
ANON_KB=0
note_rss() {
    local pid h a
    for pid in $(daemon_pids); do
        h=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        a=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        if (( ${h:-0} > HWM_KB )); then HWM_KB=$h; fi
        if (( ${a:-0} > ANON_KB )); then ANON_KB=$a; fi
    done
    return 0
}

# ---------------------------------------------------------------- table
ROWS=()
# row NAME OURS BASE UNIT KIND TARGET BASELINE_NAME
#   KIND: le (ratio ours/base <= TARGET), ge (ratio >= TARGET), abs (ours < TARGET; the ratio
#         too when BASE is not "-"),
#         info (no target)
row() {
    local name=$1 ours=$2 base=$3 unit=$4 kind=$5 target=$6 bname=$7 ratio met tgt
    case $kind in
        le | ge)
            ratio=$(awk -v o="$ours" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", o / b; else print "-" }')
            met=$(awk -v o="$ours" -v b="$base" -v t="$target" -v k="$kind" 'BEGIN { r = (b > 0 ? o / b : 0); print ((k == "le" ? r <= t : r >= t) ? "yes" : "NO") }')
            [[ $kind == le ]] && tgt="<= ${target}x" || tgt=">= ${target}x"
            ;;
        abs)
            # an absolute target; with a baseline, its ratio is printed too
            ratio=$(awk -v o="$ours" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", o / b; else print "-" }')
            met=$(awk -v o="$ours" -v t="$target" 'BEGIN { print (o < t ? "yes" : "NO") }')
            tgt="< $target $unit"
            ;;
        *)
            ratio=$(awk -v o="$ours" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", o / b; else print "-" }')
            met="-"
            tgt="-"
            ;;
    esac
    ROWS+=("$name|$ours $unit|$bname|$base${base:+ }$([[ $base == "-" ]] || echo "$unit")|$ratio|$tgt|$met")
    log "row: $name: $ours $unit (baseline $base) $ratio $met"
}
print_table() {
    {
        echo "metric|ours|baseline (same run)|base value|ratio|target|met"
        echo "---|---|---|---|---|---|---"
        printf '%s\n' "${ROWS[@]}"
    } | awk -F'|' '
        { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NF; r = NR }
        END { for (j = 1; j <= r; j++) { line = "|"; for (i = 1; i <= n; i++) {
                  v = c[j, i]; if (j == 2) { v = ""; for (k = 0; k < w[i]; k++) v = v "-" }
                  line = line sprintf(" %-" w[i] "s |", v) } print line } }'
}

# ---------------------------------------------------------------- build + generate
T_START=$EPOCHREALTIME
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ ${NOBUILD:-0} != 1 ]]; then
    log "building ($PROFILE)"
    (cd "$ROOT" && cargo build "${BUILD_FLAGS[@]}" --quiet --bin ckptfs --example gen_checkpoint)
fi
mkdir -p "$WORK/bin"
cp "$BIN" "$GEN" "$WORK/bin/"
BIN=$WORK/bin/ckptfs
GEN=$WORK/bin/gen_checkpoint
have_memparse=0
"$BIN" memparse --help >/dev/null 2>&1 && have_memparse=1
if ! command -v zstd >/dev/null || ! command -v strings >/dev/null || ! command -v fusermount3 >/dev/null; then
    bash "$ROOT/scripts/deps.sh" # installs zstd, binutils, fuse3 (Debian, as root)
fi
have_python=0
command -v python3 >/dev/null && have_python=1

log "generating $(human "$SIZE_B") checkpoint in $WORK/big"
# the compressed archives only for the rows that mount them (their writers are the slow part)
if want 2 || want 14; then BIG_FORMATS=dir,tar,gz,zst; else BIG_FORMATS=dir,tar; fi
t "$GEN" "$WORK/big" "$SIZE_B" --formats "$BIG_FORMATS" >/dev/null
T_GEN=$LAST
log "generating $(human "$SMALL_B") checkpoint (dir, tar)"
"$GEN" "$WORK/small" "$SMALL_B" --formats dir,tar >/dev/null

BIG=$WORK/big
DIR=$BIG/img/dump
PAGES=("$BIG"/img/dump/pages-*.img "$BIG"/img/predump/pages-*.img)
PAGES_B=$(stat -c %s "${PAGES[@]}" | awk '{ s += $1 } END { print s }')
MARK=$(awk -F= '$1 == "marker_prefix" { print $2 }' "$BIG/manifest.txt")
NMARK=$(awk -F= '$1 == "markers" { print $2 }' "$BIG/manifest.txt")
log "pages files: $(human "$PAGES_B") in ${#PAGES[@]} files; $NMARK markers"

cat >"$WORK/rr.py" <<'EOF'
# Random 4 KiB reads per second (the same N offsets every time; N = RR_N, default 40000):
#   rr.py mem MOUNT RUNS_TXT | rr.py files FILE...
import os, random, sys, time
random.seed(4242)
mode = sys.argv[1]
targets = []
if mode == "mem":
    mp, runs = sys.argv[2], sys.argv[3]
    fds = {}
    for line in open(runs):
        pid, start, n = line.split()
        if pid not in fds:
            fds[pid] = os.open(f"{mp}/{pid}/mem", os.O_RDONLY)
        targets.append((fds[pid], int(start, 16), int(n)))
else:
    for f in sys.argv[2:]:
        n = os.path.getsize(f)
        if n >= 4096:
            targets.append((os.open(f, os.O_RDONLY), 0, n))
picks = random.choices(targets, [t[2] for t in targets], k=int(os.environ.get("RR_N", "40000")))
offs = [(fd, s + random.randrange(n // 4096) * 4096) for fd, s, n in picks]
pread = os.pread
t0 = time.perf_counter()
for fd, off in offs:
    if len(pread(fd, 4096, off)) != 4096:
        sys.exit(f"short read at {off:#x}")
print(f"{len(offs) / (time.perf_counter() - t0):.0f}")
EOF
cat_pages() { cat "${PAGES[@]}" >/dev/null; }
cat_memory() { cat "$MP"/[0-9]*/memory/* >/dev/null; }
# `mem` answers EIO where nothing is mapped, as /proc/PID/mem does (GNU grep reads it from 0 and
# fails): searches by count go over memory/* (a shared mapping's link followed as an argument)
grep_mem() { (cd "$MP" && grep -c -F "$MARK" [0-9]*/memory/*) >"$WORK/grep.out" || true; }
grep_pages() { grep -c -F "$MARK" "${PAGES[@]}" >"$WORK/grepp.out" || true; }
sum_counts() { awk -F: '{ s += $NF } END { print s + 0 }' "$1"; }
MEM_B=0 BASE_MEM_GREP_ROW8=""
P8=()

# ---------------------------------------------------------------- 1. mount time
if want 1; then
log "1. mount time (dir, .tar; $(human "$SIZE_B") and $(human "$SMALL_B"))"
declare -A M=()
for kind in dir tar; do
    for sz in big small; do
        if [[ $kind == dir ]]; then ck=$WORK/$sz/img/dump; else ck=$WORK/$sz/ck.tar; fi
        vals=()
        for i in $(seq "$RUNS"); do
            t mnt "$ck"
            vals+=("$LAST")
            note_rss
            umnt
        done
        M[$kind.$sz]=$(median "${vals[@]}")
    done
done
row "1. mount image dir, $(human "$SIZE_B")" "${M[dir.big]}" "-" s abs 0.3 "-"
row "1. mount .tar, $(human "$SIZE_B")" "${M[tar.big]}" "-" s abs 0.3 "-"
row "1. mount image dir: $(human "$SIZE_B") vs $(human "$SMALL_B")" "${M[dir.big]}" "${M[dir.small]}" s info - "same, $(human "$SMALL_B")"
row "1. mount .tar: $(human "$SIZE_B") vs $(human "$SMALL_B")" "${M[tar.big]}" "${M[tar.small]}" s info - "same, $(human "$SMALL_B")"
fi

# ---------------------------------------------------------------- 2. compressed archives
if want 2; then
log "2. compressed archives"
# waits until no daemon serves $MP any more (a daemon syncs a new cache entry before it exits)
daemons_gone() {
    local i
    for i in $(seq 600); do
        [[ -z $(daemon_pids) ]] && return 0
        sleep 0.1
    done
}
# the zstd rows again with every core but one busy (the busy loops run during both)
NBUSY=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
for kind in gz zst; do
    ours=() base=() again=() synced=() bbase=() bours=() info=() binfo=()
    for i in $(seq "$RUNS_SLOW"); do
        rm -rf "$WORK/cache" "$WORK/out.tar"
        mkdir -p "$WORK/cache"
        if [[ $kind == gz ]]; then
            t sh -c "gzip -dc '$BIG/ck.tar.gz' > '$WORK/out.tar'"
        else
            t sh -c "zstd -q -dc '$BIG/ck.tar.zst' > '$WORK/out.tar'"
        fi
        base+=("$LAST")
        rm -f "$WORK/out.tar"
        if [[ $kind == zst ]]; then
            # the same, made durable as the cache is (fsync of the written file)
            t sh -c "zstd -q -dc '$BIG/ck.tar.zst' > '$WORK/out.tar' && sync '$WORK/out.tar'"
            synced+=("$LAST")
            rm -f "$WORK/out.tar"
        fi
        t mnt "$BIG/ck.tar.$kind" --cache-dir "$WORK/cache"
        ours+=("$LAST")
        # the input's sha256 is computed after the mount is ready: info.json waits for it
        t cat "$MP/checkpoint/info.json" >/dev/null
        info+=("$LAST")
        note_rss
        umnt
        daemons_gone
        t mnt "$BIG/ck.tar.$kind" --cache-dir "$WORK/cache"
        again+=("$LAST")
        umnt
        if [[ $kind == zst ]]; then
            busy_start "$NBUSY"
            t sh -c "zstd -q -dc '$BIG/ck.tar.zst' > '$WORK/out.tar'"
            bbase+=("$LAST")
            rm -rf "$WORK/cache" "$WORK/out.tar"
            mkdir -p "$WORK/cache"
            t mnt "$BIG/ck.tar.zst" --cache-dir "$WORK/cache"
            bours+=("$LAST")
            t cat "$MP/checkpoint/info.json" >/dev/null
            binfo+=("$LAST")
            umnt
            busy_stop
            daemons_gone
        fi
    done
    rm -rf "$WORK/cache"
    if [[ $kind == gz ]]; then
        row "2. mount .tar.gz (cold cache)" "$(median "${ours[@]}")" "$(median "${base[@]}")" s le 0.5 "gzip -dc > file"
        row "2. then cat checkpoint/info.json (waits for the sha256)" "$(median "${info[@]}")" "-" s info - "-"
        row "2. remount .tar.gz from cache" "$(median "${again[@]}")" "-" s abs 0.3 "-"
    else
        row "2. mount .tar.zst (cold cache)" "$(median "${ours[@]}")" "$(median "${base[@]}")" s le 1.2 "zstd -dc > file"
        row "2. mount .tar.zst (cold cache) vs fsynced zstd -dc" "$(median "${ours[@]}")" "$(median "${synced[@]}")" s info - "zstd -dc > file; sync file"
        row "2. then cat checkpoint/info.json (waits for the sha256)" "$(median "${info[@]}")" "-" s info - "-"
        row "2. remount .tar.zst from cache" "$(median "${again[@]}")" "-" s abs 0.3 "-"
        row "2. mount .tar.zst (cold cache), $NBUSY core(s) busy" "$(median "${bours[@]}")" "$(median "${bbase[@]}")" s le 1.2 "zstd -dc > file, same busy"
        row "2. then cat checkpoint/info.json, $NBUSY core(s) busy" "$(median "${binfo[@]}")" "-" s info - "-"
    fi
done
fi

# ---------------------------------------------------------------- 3. sequential reads of memory/*
if want 3; then
log "3. sequential reads of memory/*"
cat_pages # warm
mnt "$DIR"
MEM_B=$(stat -c %s "$MP"/[0-9]*/memory/* | awk '{ s += $1 } END { print s }')
umnt
base=() cold=() fcold=() second=() basecold=()
for i in $(seq "$RUNS"); do
    t cat_pages
    base+=("$(rate "$PAGES_B" "$LAST")")
    # FUSE page cache cold (fresh mount), pages files in the page cache
    mnt "$DIR"
    t cat_memory
    fcold+=("$(rate "$MEM_B" "$LAST")")
    t cat_memory
    second+=("$(rate "$MEM_B" "$LAST")")
    note_rss
    umnt
    if [[ $CAN_DROP == 1 ]]; then
        # everything cold: the page cache dropped, then a fresh mount
        drop_caches
        mnt "$DIR"
        t cat_memory
        cold+=("$(rate "$MEM_B" "$LAST")")
        umnt
        drop_caches
        t cat_pages
        basecold+=("$(rate "$PAGES_B" "$LAST")")
    fi
done
B3=$(median "${base[@]}")
row "3. first read memory/* (FUSE cold, pages in page cache)" "$(median "${fcold[@]}")" "$B3" GB/s ge 0.25 "cat pages-*.img (page cache)"
if [[ $CAN_DROP == 1 ]]; then
    row "3. first read memory/* (page cache dropped)" "$(median "${cold[@]}")" "$B3" GB/s ge 0.25 "cat pages-*.img (page cache)"
    row "3. first read memory/* (page cache dropped) vs cold pages" "$(median "${cold[@]}")" "$(median "${basecold[@]}")" GB/s info - "cat pages-*.img (page cache dropped)"
fi
row "3. second read memory/*" "$(median "${second[@]}")" "$B3" GB/s ge 0.8 "cat pages-*.img (page cache)"
cat_pages # warm again for what follows
fi

# ---------------------------------------------------------------- 4 + 8b. grep -c over */memory/*
if want 4; then
log "4. grep -c over */memory/*"
ours=() base=() both=() warm=()
for i in $(seq "$RUNS"); do
    t grep_pages
    base+=("$LAST")
    t mnt "$DIR"
    m=$LAST
    t grep_mem
    ours+=("$LAST")
    both+=("$(awk -v a="$m" -v b="$LAST" 'BEGIN { printf "%.4f", a + b }')")
    t grep_mem
    warm+=("$LAST")
    note_rss
    umnt
done
GM=$(sum_counts "$WORK/grep.out")
GP=$(sum_counts "$WORK/grepp.out")
[[ $GM == "$GP" ]] || log "WARNING: grep counts differ: */memory/* $GM, pages files $GP"
row "4. grep -c over */memory/* (fresh mount; $GM lines)" "$(median "${ours[@]}")" "$(median "${base[@]}")" s le 1.5 "grep -c over pages-*.img ($GP)"
row "4. grep -c over */memory/* (again, FUSE cache warm)" "$(median "${warm[@]}")" "$(median "${base[@]}")" s le 1.5 "grep -c over pages-*.img"
BASE_MEM_GREP_ROW8=$(median "${both[@]}")
fi

# ---------------------------------------------------------------- 5. strings
if want 5; then
log "5. strings -n 8"
ours=() base=()
for i in $(seq "$RUNS_SLOW"); do
    t sh -c "strings -n 8 $(printf "'%s' " "${PAGES[@]}") > /dev/null"
    base+=("$LAST")
    mnt "$DIR"
    t sh -c "strings -n 8 '$MP'/[0-9]*/memory/* > /dev/null"
    ours+=("$LAST")
    umnt
done
row "5. strings -n 8 over memory/* (fresh mount)" "$(median "${ours[@]}")" "$(median "${base[@]}")" s le 1.5 "strings -n 8 pages-*.img"
fi

# ---------------------------------------------------------------- 6. random reads
if want 6; then
ours=() base=() warm=()
if [[ $have_python == 1 ]]; then
    log "6. random 4 KiB reads"
    RUNS6=$RUNS
else
    log "6. skipped: python3 is not installed"
    RUNS6=0
fi
for i in $(seq "$RUNS6"); do
    base+=("$(python3 "$WORK/rr.py" files "${PAGES[@]}")")
    mnt "$DIR"
    ours+=("$(python3 "$WORK/rr.py" mem "$MP" "$BIG/runs.txt")")
    warm+=("$(python3 "$WORK/rr.py" mem "$MP" "$BIG/runs.txt")")
    note_rss
    umnt
done
if [[ $RUNS6 -gt 0 ]]; then
    B6=$(median "${base[@]}")
    row "6. random 4 KiB preads of */mem (fresh mount)" "$(median "${ours[@]}")" "$B6" reads/s info - "preads of pages-*.img"
    row "6. random 4 KiB preads of */mem (same offsets, FUSE cache warm)" "$(median "${warm[@]}")" "$B6" reads/s info - "preads of pages-*.img"
fi
fi

# ---------------------------------------------------------------- 8. memparse --search
if want 8; then
if [[ $have_memparse == 1 ]]; then
    log "8. memparse --search"
    ours=() base=() rss=()
    for i in $(seq "$RUNS"); do
        t cat_pages
        base+=("$LAST")
        if [[ -x /usr/bin/time ]]; then
            t /usr/bin/time -f '%M' -o "$WORK/mp.rss" "$BIN" memparse -s "$MARK" "$DIR" >"$WORK/mp.out"
            rss+=("$(tail -n 1 "$WORK/mp.rss")")
        else
            t "$BIN" memparse -s "$MARK" "$DIR" >"$WORK/mp.out"
        fi
        ours+=("$LAST")
    done
    B8=$(median "${base[@]}")
    row "8. memparse --search ($(grep -c -F "$MARK" "$WORK/mp.out" || true) hit lines)" "$(median "${ours[@]}")" "$B8" s info - "cat pages-*.img once"
    [[ -z $BASE_MEM_GREP_ROW8 ]] || row "8. mount + grep -c over every memory/*" "$BASE_MEM_GREP_ROW8" "$B8" s info - "cat pages-*.img once"
    [[ ${#rss[@]} -gt 0 ]] && P8=("$(median "${rss[@]}")")
else
    log "8. skipped: ckptfs memparse is not available"
    B8=$(median "$(t cat_pages; echo "$LAST")")
    [[ -z $BASE_MEM_GREP_ROW8 ]] || row "8. mount + grep -c over every memory/*" "$BASE_MEM_GREP_ROW8" "$B8" s info - "cat pages-*.img once"
fi
fi

# ---------------------------------------------------------------- 8b. ckptfs scan vs yara
# A 10-rule file (the marker, and nine rules of the kinds a sweep uses: secrets, keys, miners,
# shells) over every process with `ckptfs scan`, against libyara's `yara` over the pages files
# (dump + pre-dump parent: the same bytes, no addresses, no shared-memory dedupe).
if want 8b; then
RULES=$WORK/rules10.yar
cat >"$RULES" <<EOF
rule marker { strings: \$m = "$MARK" condition: \$m }
rule aws_key { strings: \$a = /AKIA[0-9A-Z]{16}/ condition: \$a }
rule pem_key { strings: \$a = "-----BEGIN RSA PRIVATE KEY-----" \$b = "-----BEGIN OPENSSH PRIVATE KEY-----" condition: any of them }
rule stripe { strings: \$a = /sk_live_[0-9a-zA-Z]{16,}/ condition: \$a }
rule miner { strings: \$a = "stratum+tcp://" \$b = "xmrig" nocase condition: any of them }
rule shell { strings: \$a = "/bin/sh -i" \$b = "bash -i >& /dev/tcp/" condition: any of them }
rule github_token { strings: \$a = /ghp_[0-9A-Za-z]{36}/ condition: \$a }
rule jwt { strings: \$a = /eyJ[0-9A-Za-z_-]{10,}\.eyJ[0-9A-Za-z_-]{10,}/ condition: \$a }
rule slack { strings: \$a = /xox[baprs]-[0-9A-Za-z-]{10,}/ condition: \$a }
rule env_secret { strings: \$a = /(PASSWORD|SECRET)=[!-~]{8,}/ condition: \$a }
EOF
scan_rc=0
"$BIN" scan --rules "$RULES" "$WORK/small/img/dump" >/dev/null 2>"$WORK/scan.err" || scan_rc=$?
if [[ $scan_rc -le 1 ]]; then
    log "8b. ckptfs scan (10 rules) vs yara"
    ours=() base=() rss=()
    for i in $(seq "$RUNS"); do
        if command -v yara >/dev/null; then
            t yara -r -N "$RULES" "$BIG/img" >"$WORK/yara.out" 2>/dev/null || true
            base+=("$LAST")
        fi
        if [[ -x /usr/bin/time ]]; then
            t /usr/bin/time -f '%M' -o "$WORK/scan.rss" "$BIN" scan --format jsonl --rules "$RULES" "$DIR" >"$WORK/scan.out" || true
            rss+=("$(tail -n 1 "$WORK/scan.rss")")
        else
            t "$BIN" scan --format jsonl --rules "$RULES" "$DIR" >"$WORK/scan.out" || true
        fi
        ours+=("$LAST")
    done
    NF8=$(grep -c . "$WORK/scan.out" || true)
    if [[ ${#base[@]} -gt 0 ]]; then
        row "8b. ckptfs scan, 10 rules ($NF8 findings)" "$(median "${ours[@]}")" "$(median "${base[@]}")" s le 1.0 "yara -r -N over the image dirs"
    else
        row "8b. ckptfs scan, 10 rules ($NF8 findings)" "$(median "${ours[@]}")" "-" s info - "yara not installed"
    fi
    row "8b. ckptfs scan throughput" "$(rate "$PAGES_B" "$(median "${ours[@]}")")" "-" GB/s info - "-"
    [[ ${#rss[@]} -gt 0 ]] && row "7. ckptfs scan peak RSS (time -v)" "$(($(median "${rss[@]}") / 1024))" "-" MiB info - "-"
else
    log "8b. skipped: $(head -c 300 "$WORK/scan.err")"
fi
fi

# ---------------------------------------------------------------- 9. whole-tree commands
# What an analyst types without thinking, over the whole mount, against the same command over the
# extracted image directory (dump + its pre-dump parent): the walk meets each dumped byte once
# (memory/*; mem, core, pagemap and the raw pages are links into the hidden .link/).
if want 9; then
log "9. whole-tree commands"
IMG=$BIG/img
grep_r_mnt() { grep -r -c -F "$MARK" "$MP" >"$WORK/gr.out" || true; }
grep_r_img() { grep -r -c -F "$MARK" "$IMG" >"$WORK/gri.out" || true; }
cp_r() { rm -rf "$WORK/cp"; cp -r "$1" "$WORK/cp"; }
tar_c() { tar -cf "$WORK/out.tar" -C "$(dirname "$1")" "$(basename "$1")"; }
g_ours=() g_base=() c_ours=() c_base=() t_ours=() t_base=()
C_SIZE=0 T_SIZE=0 CI_SIZE=0 TI_SIZE=0
for i in $(seq "$RUNS_SLOW"); do
    t grep_r_img
    g_base+=("$LAST")
    t cp_r "$IMG"
    c_base+=("$LAST")
    CI_SIZE=$(du -sb "$WORK/cp" | awk '{ print $1 }')
    rm -rf "$WORK/cp"
    t tar_c "$IMG"
    t_base+=("$LAST")
    TI_SIZE=$(stat -c %s "$WORK/out.tar")
    rm -f "$WORK/out.tar"
    mnt "$DIR"
    t grep_r_mnt
    g_ours+=("$LAST")
    t cp_r "$MP"
    c_ours+=("$LAST")
    C_SIZE=$(du -sb "$WORK/cp" | awk '{ print $1 }')
    chmod -R u+w "$WORK/cp"
    rm -rf "$WORK/cp"
    t tar_c "$MP"
    t_ours+=("$LAST")
    T_SIZE=$(stat -c %s "$WORK/out.tar")
    rm -f "$WORK/out.tar"
    note_rss
    umnt
done
GR=$(awk -F: '{ s += $NF } END { print s + 0 }' "$WORK/gr.out")
GRI=$(awk -F: '{ s += $NF } END { print s + 0 }' "$WORK/gri.out")
row "9. grep -r -c over the mount ($GR lines)" "$(median "${g_ours[@]}")" "$(median "${g_base[@]}")" s le 2.0 "grep -r -c over the image dir ($GRI)"
row "9. cp -r of the mount ($(human "$C_SIZE"))" "$(median "${c_ours[@]}")" "$(median "${c_base[@]}")" s le 2.0 "cp -r of the image dir ($(human "$CI_SIZE"))"
row "9. tar -cf of the mount ($(human "$T_SIZE"))" "$(median "${t_ours[@]}")" "$(median "${t_base[@]}")" s le 2.0 "tar -cf of the image dir ($(human "$TI_SIZE"))"
fi

# ---------------------------------------------------------------- 7. peak RSS
if want 7; then
META_KB=$(du -sk --exclude='pages-*' "$BIG/img" | awk '{ print $1 }')
row "7. mount daemon peak RSS, VmHWM (all rows)" "$((HWM_KB / 1024))" "$(((64 * 1024 + META_KB) / 1024))" MiB le 1.0 "64 MiB + metadata ($((META_KB)) KiB)"
row "7. mount daemon peak RssAnon (all rows)" "$((ANON_KB / 1024))" "$(((64 * 1024 + META_KB) / 1024))" MiB le 1.0 "64 MiB + metadata"
if [[ ${#P8[@]} -gt 0 ]]; then
    row "7. memparse --search peak RSS (time -v)" "$((P8[0] / 1024))" "$(((64 * 1024 + META_KB) / 1024))" MiB le 1.0 "64 MiB + metadata"
fi
fi

# ---------------------------------------------------------------- 10. fragmentation and scale
# The cost of a memory operation should follow the dumped bytes, not the number of
# pagemap entries; listings should stay fast with many mappings and processes. Each ratio is
# measured in this run against the contiguous checkpoint above, per GiB dumped (the layouts hold
# about the same bytes). Runs of 16 pages: when SIZE >= 1 GiB or FRAG16=1. The 1,000,000-entry
# mount: BENCH_MILLION=1 (a 4 GiB checkpoint more).
if want 10; then
log "10. fragmentation and scale"
dumped_of() { awk -F= '$1 == "dumped_bytes" { print $2 }' "$1/manifest.txt"; }
entries_of() { awk -F= '$1 == "runs" { print $2 }' "$1/manifest.txt"; }
per_gib() { awk -v t="$1" -v b="$2" 'BEGIN { printf "%.4f", t / (b / 2^30) }'; }
"$GEN" "$WORK/frag1" "$SIZE_B" --formats dir --run-pages 1 >/dev/null
LAYOUTS=(big frag1)
if (( SIZE_B >= 1 << 30 )) || [[ ${FRAG16:-0} == 1 ]]; then
    "$GEN" "$WORK/frag16" "$SIZE_B" --formats dir --run-pages 16 >/dev/null
    LAYOUTS+=(frag16)
fi
declare -A F=()
for L in "${LAYOUTS[@]}"; do
    D=$WORK/$L/img/dump
    cat "$D"/pages-*.img "$WORK/$L"/img/predump/pages-*.img >/dev/null # page cache warm
    s=() r=() c=() g=() h=()
    for i in $(seq "$RUNS"); do
        t "$BIN" memparse -s "$MARK" "$D" >"$WORK/f.out"
        s+=("$LAST")
        t "$BIN" memparse -r "$MARK-[0-9]+" "$D" >/dev/null
        r+=("$LAST")
        mnt "$D"
        t cat_memory
        c+=("$LAST")
        if [[ $L == frag1 ]]; then F[frag1.hwm]=$(daemon_hwm_kb); fi
        umnt
        mnt "$D"
        t grep_mem
        g+=("$LAST")
        umnt
    done
    # the hexdump (slow: text 4.5 times the bytes), once
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f '%M' -o "$WORK/hx.rss" "$BIN" memparse -p 41 -o /dev/null "$D" >/dev/null
        h+=("$(tail -n 1 "$WORK/hx.rss")")
    fi
    B=$(dumped_of "$WORK/$L")
    F[$L.hits]=$(grep -c -F "$MARK" "$WORK/f.out" || true)
    F[$L.s]=$(per_gib "$(median "${s[@]}")" "$B")
    F[$L.r]=$(per_gib "$(median "${r[@]}")" "$B")
    F[$L.c]=$(per_gib "$(median "${c[@]}")" "$B")
    F[$L.g]=$(per_gib "$(median "${g[@]}")" "$B")
    [[ ${#h[@]} -gt 0 ]] && F[$L.h]=$(( $(median "${h[@]}") / 1024 ))
    if [[ $L == big ]]; then F[$L.n]=$(wc -l <"$BIG/runs.txt"); else F[$L.n]=$(entries_of "$WORK/$L"); fi
done
for L in "${LAYOUTS[@]}"; do
    [[ $L == big ]] && continue
    what="runs of ${L#frag} page(s), ${F[$L.n]} runs"
    base="contiguous layout, ${F[big.n]} runs"
    row "10. memparse --search per GiB dumped, $what (${F[$L.hits]} hits)" "${F[$L.s]}" "${F[big.s]}" s le 1.5 "$base (${F[big.hits]})"
    row "10. memparse --search-regex per GiB dumped, $what" "${F[$L.r]}" "${F[big.r]}" s le 1.5 "$base"
    row "10. cat memory/* (fresh mount) per GiB dumped, $what" "${F[$L.c]}" "${F[big.c]}" s le 1.5 "$base"
    row "10. grep -c over */memory/* (fresh mount) per GiB dumped, $what" "${F[$L.g]}" "${F[big.g]}" s le 1.5 "$base"
done
for L in "${LAYOUTS[@]}"; do
    [[ -n ${F[$L.h]:-} ]] || continue
    row "10. memparse -p 41 (hexdump, 20 % of the bytes) peak RSS, $L ($(human "$(dumped_of "$WORK/$L")") dumped)" "${F[$L.h]}" "-" MiB abs 64 "-"
done
# diff, the ELF core and scan --string, per layout: `diff D D` (two opens of the dump, every page
# compared), `cat */core` of a fresh mount, `scan --string MARK` (no YARA needed); peak RSS of
# each (`time -f %M`; the daemon's VmHWM after the cores)
for L in "${LAYOUTS[@]}"; do
    D=$WORK/$L/img/dump
    cat "$D"/pages-*.img "$WORK/$L"/img/predump/pages-*.img >/dev/null # page cache warm
    d=() k=() n=() drss=() nrss=() khwm=()
    for i in $(seq "$RUNS"); do
        t /usr/bin/time -f '%M' -o "$WORK/diff.rss" "$BIN" diff "$D" "$D" >"$WORK/diff.out"
        d+=("$LAST")
        drss+=("$(tail -n 1 "$WORK/diff.rss")")
        mnt "$D"
        t sh -c "cd '$MP' && cat [0-9]*/core > /dev/null"
        k+=("$LAST")
        khwm+=("$(daemon_hwm_kb)")
        umnt
        t /usr/bin/time -f '%M' -o "$WORK/sc.rss" "$BIN" scan --string "$MARK" "$D" >"$WORK/sc.out" || true
        n+=("$LAST")
        nrss+=("$(tail -n 1 "$WORK/sc.rss")")
    done
    B=$(dumped_of "$WORK/$L")
    F[$L.d]=$(per_gib "$(median "${d[@]}")" "$B")
    F[$L.k]=$(per_gib "$(median "${k[@]}")" "$B")
    F[$L.n2]=$(per_gib "$(median "${n[@]}")" "$B")
    F[$L.drss]=$(( $(median "${drss[@]}") / 1024 ))
    F[$L.nrss]=$(( $(median "${nrss[@]}") / 1024 ))
    F[$L.khwm]=$(( $(median "${khwm[@]}") / 1024 ))
    F[$L.nhits]=$(grep -c -F "$MARK" "$WORK/sc.out" || true)
done
for L in "${LAYOUTS[@]}"; do
    [[ $L == big ]] && continue
    what="runs of ${L#frag} page(s)"
    row "10. diff D D per GiB dumped, $what" "${F[$L.d]}" "${F[big.d]}" s le 1.5 "contiguous layout"
    row "10. cat */core (fresh mount) per GiB dumped, $what" "${F[$L.k]}" "${F[big.k]}" s le 1.5 "contiguous layout"
    row "10. scan --string per GiB dumped, $what (${F[$L.nhits]} lines)" "${F[$L.n2]}" "${F[big.n2]}" s le 1.5 "contiguous layout (${F[big.nhits]})"
done
for L in "${LAYOUTS[@]}"; do
    row "10. diff D D peak RSS, $L" "${F[$L.drss]}" "-" MiB abs 64 "-"
    row "10. scan --string peak RSS, $L" "${F[$L.nrss]}" "-" MiB abs 64 "-"
    row "10. mount daemon VmHWM after cat */core, $L" "${F[$L.khwm]}" "-" MiB info - "-"
done
# one large VMA (a JVM or Go heap): scan shares it out between threads in parts; -j 2 against
# -j 1 of the same checkpoint (on 2 idle cores about 0.6x; 1.0x when it is scanned on one thread)
"$GEN" "$WORK/onevma" "$SIZE_B" --formats dir --procs 1 --region-max 1T >/dev/null
D=$WORK/onevma/img/dump
cat "$D"/pages-*.img >/dev/null
j1=() j2=()
for i in $(seq "$RUNS"); do
    t "$BIN" scan -j 1 --string "$MARK" "$D" >"$WORK/sc1.out" || true
    j1+=("$LAST")
    t "$BIN" scan -j 2 --string "$MARK" "$D" >"$WORK/sc2.out" || true
    j2+=("$LAST")
done
cmp -s "$WORK/sc1.out" "$WORK/sc2.out" || log "WARNING: scan -j 1 and -j 2 differ on one large VMA"
row "10. scan --string -j 2, one process, most bytes in one VMA ($(human "$(dumped_of "$WORK/onevma")") dumped)" "$(median "${j2[@]}")" "$(median "${j1[@]}")" s info - "scan -j 1 of the same"
rm -rf "$WORK/onevma"
# mount time and daemon RSS with many entries (after reading every memory/* file)
vals=()
for i in $(seq "$RUNS"); do
    t mnt "$WORK/frag1/img/dump"
    vals+=("$LAST")
    umnt
done
N1=${F[frag1.n]}
row "10. mount image dir, runs of 1 page ($N1 runs)" "$(median "${vals[@]}")" "-" s abs 0.3 "-"
row "10. mount daemon VmHWM after cat memory/*, runs of 1 page" "$((F[frag1.hwm] / 1024))" "$(( 64 + N1 * 32 / 1048576 ))" MiB le 1.0 "64 MiB + 32 B x $N1 runs"
if [[ ${BENCH_MILLION:-0} == 1 ]]; then
    "$GEN" "$WORK/million" 4G --formats dir --run-pages 1 >/dev/null
    NM=$(entries_of "$WORK/million")
    vals=() hw=()
    for i in $(seq "$RUNS"); do
        t mnt "$WORK/million/img/dump"
        vals+=("$LAST")
        (cd "$MP" && ls -R >/dev/null && cat [0-9]*/maps >/dev/null)
        hw+=("$(daemon_hwm_kb)")
        umnt
    done
    row "10. mount image dir, $NM runs" "$(median "${vals[@]}")" "-" s abs 0.3 "-"
    row "10. mount daemon VmHWM after ls -R, $NM runs" "$(( $(median "${hw[@]}") / 1024 ))" "$(( 64 + NM * 32 / 1048576 ))" MiB le 1.0 "64 MiB + 32 B x $NM runs"
    rm -rf "$WORK/million"
fi
# many mappings, many processes
"$GEN" "$WORK/maps" 16M --formats dir --maps 60000 >/dev/null
"$GEN" "$WORK/procs" 16M --formats dir --procs 1000 >/dev/null
ls_t=() maps_t=() pls=() ptree=() mm=() pm=()
for i in $(seq "$RUNS"); do
    t mnt "$WORK/maps/img/dump"
    mm+=("$LAST")
    t sh -c "ls '$MP/7/memory' > /dev/null"
    ls_t+=("$LAST")
    umnt
    mnt "$WORK/maps/img/dump"
    t sh -c "cat '$MP/7/maps' > /dev/null"
    maps_t+=("$LAST")
    umnt
    t mnt "$WORK/procs/img/dump"
    pm+=("$LAST")
    t sh -c "ls '$MP' > /dev/null"
    pls+=("$LAST")
    umnt
    mnt "$WORK/procs/img/dump"
    t sh -c "cat '$MP/pstree' > /dev/null"
    ptree+=("$LAST")
    umnt
done
NV=$(awk -F= '$1 == "vmas" { print $2 }' "$WORK/maps/manifest.txt")
row "10. mount image dir, $NV mappings" "$(median "${mm[@]}")" "-" s abs 0.3 "-"
row "10. ls PID/memory, 60,000 mappings (fresh mount)" "$(median "${ls_t[@]}")" "-" s abs 0.5 "-"
row "10. cat PID/maps, 60,000 mappings (fresh mount)" "$(median "${maps_t[@]}")" "-" s abs 0.5 "-"
row "10. mount image dir, 1,000 processes" "$(median "${pm[@]}")" "-" s abs 0.3 "-"
row "10. ls of the mount, 1,000 processes (fresh mount)" "$(median "${pls[@]}")" "-" s abs 0.5 "-"
row "10. cat pstree, 1,000 processes (fresh mount)" "$(median "${ptree[@]}")" "-" s abs 0.5 "-"
rm -rf "$WORK/frag1" "$WORK/frag16" "$WORK/maps" "$WORK/procs"
fi

# ---------------------------------------------------------------- 11. a directory of checkpoints
# `ckptfs mount DIR` of a directory holding N .tar.zst checkpoints (copies of one 8 MiB checkpoint,
# each its own file, and one of 128 MiB in the middle): the mount opens none of them (time independent of N); the first listing
# reads each one's config.dump / spec.dump (a stream decompressed until both are found); the
# first access to one (after that listing) decompresses that one only, as a mount of it alone
# would.
if want 11; then
log "11. a directory of checkpoints"
"$GEN" "$WORK/many-src" 8M --formats zst >/dev/null
NMANY=${NMANY:-50}
for n in 1 "$NMANY"; do
    mkdir -p "$WORK/many-$n"
    for i in $(seq -w 1 "$n"); do cp "$WORK/many-src/ck.tar.zst" "$WORK/many-$n/ck-$i.tar.zst"; done
done
# the one first accessed: a 128 MiB checkpoint (its decompression is what the row measures)
ONE=$(ls "$WORK/many-$NMANY" | sed -n "$(( (NMANY + 1) / 2 ))p")
"$GEN" "$WORK/many-big" 128M --formats zst >/dev/null
mv "$WORK/many-big/ck.tar.zst" "$WORK/many-$NMANY/$ONE"
m1=() mn=() lsn=() first=() alone=()
for i in $(seq "$RUNS"); do
    rm -rf "$WORK/cache"
    t mnt "$WORK/many-1" --cache-dir "$WORK/cache"
    m1+=("$LAST")
    umnt
    t mnt "$WORK/many-$NMANY" --cache-dir "$WORK/cache"
    mn+=("$LAST")
    t sh -c "ls -l '$MP' > /dev/null"
    lsn+=("$LAST")
    umnt
    rm -rf "$WORK/cache"
    mnt "$WORK/many-$NMANY" --cache-dir "$WORK/cache"
    ls "$MP" > /dev/null # the first listing (its own row above) names them all
    t sh -c "cat '$MP/$ONE/pstree' > /dev/null"
    first+=("$LAST")
    note_rss
    umnt
    rm -rf "$WORK/cache"
    t sh -c "'$BIN' mount '$WORK/many-$NMANY/$ONE' '$MP' --cache-dir '$WORK/cache' > /dev/null && cat '$MP/pstree' > /dev/null"
    alone+=("$LAST")
    umnt
done
rm -rf "$WORK/cache" "$WORK"/many-*
row "11. mount a directory of $NMANY checkpoints" "$(median "${mn[@]}")" "$(median "${m1[@]}")" s le 1.5 "a directory of 1"
row "11. mount a directory of $NMANY checkpoints (absolute)" "$(median "${mn[@]}")" "-" s abs 0.3 "-"
row "11. first ls -l of $NMANY .tar.zst checkpoints (reads each one's metadata)" "$(median "${lsn[@]}")" "-" s abs 1.0 "-"
row "11. first access to one of $NMANY (128 MiB .tar.zst, cold cache), after the first listing: cat NAME/pstree" "$(median "${first[@]}")" "$(median "${alone[@]}")" s le 1.2 "mount it alone + cat pstree"
fi

# ---------------------------------------------------------------- 12. the same reads through a directory mount
# The read rows (sequential reads of memory/*, fresh mount then again; grep -c over */memory/*) through
# `ckptfs mount DIR` of a directory holding the checkpoint (a link to it), against a mount of it
# alone, alternating in the same run. The member is opened (ls) before the timed reads, as the
# single mount opens its checkpoint when it mounts. Target: at most 5 % slower.
if want 12; then
log "12. reads through a directory mount"
RUNS12=${RUNS12:-5}
mkdir -p "$WORK/dir12"
ln -sfn "$DIR" "$WORK/dir12/ck"
mnt "$DIR"
MEM12_B=$(stat -c %s "$MP"/[0-9]*/memory/* | awk '{ s += $1 } END { print s }')
umnt
cat_at() { cat "$1"/[0-9]*/memory/* >/dev/null; }
grep_at() { (cd "$1" && grep -c -F "$MARK" [0-9]*/memory/*) >"$WORK/grep12.out" || true; }
s1=() s2=() sg=() d1=() d2=() dg=()
for i in $(seq "$RUNS12"); do
    mnt "$DIR"
    t cat_at "$MP"
    s1+=("$(rate "$MEM12_B" "$LAST")")
    t cat_at "$MP"
    s2+=("$(rate "$MEM12_B" "$LAST")")
    umnt
    mnt "$DIR"
    t grep_at "$MP"
    sg+=("$LAST")
    umnt
    mnt "$WORK/dir12"
    ls "$MP/ck" >/dev/null
    t cat_at "$MP/ck"
    d1+=("$(rate "$MEM12_B" "$LAST")")
    t cat_at "$MP/ck"
    d2+=("$(rate "$MEM12_B" "$LAST")")
    umnt
    mnt "$WORK/dir12"
    ls "$MP/ck" >/dev/null
    t grep_at "$MP/ck"
    dg+=("$LAST")
    umnt
done
rm -rf "$WORK/dir12"
row "12. first read memory/*, directory mount vs alone" "$(median "${d1[@]}")" "$(median "${s1[@]}")" GB/s ge 0.95 "mounted alone"
row "12. second read memory/*, directory mount vs alone" "$(median "${d2[@]}")" "$(median "${s2[@]}")" GB/s ge 0.95 "mounted alone"
row "12. grep -c over */memory/* (fresh mount), directory mount vs alone" "$(median "${dg[@]}")" "$(median "${sg[@]}")" s le 1.05 "mounted alone"
fi

# ---------------------------------------------------------------- 13. reflexes
# The commands typed without thinking at PID/mem and over the whole mount following links, on the
# big checkpoint: each must end within 60 s with a peak RSS under 1 GiB (GNU time's %M: the command
# and its children), and `cat PID/mem > f` write under 512 MiB. `mem` answers EIO where nothing is
# mapped (as /proc/PID/mem), `pagemap` answers the entries of mapped pages only, `core` is never
# reached by a walk. The worst over every process of RUNS runs (the row's value is the median of
# the per-run worst); the address space of each command is limited to 4 GiB and what it writes
# to 1 GiB, so a regression fails instead of taking the machine down.
if want 13; then
log "13. reflexes"
REFLEX=CKPTFS-REFLEX-ABSENT-5d0c71
# rx NAME OUT CMD...: runs CMD (stdout to OUT) under the limits; appends "secs kib" to RX
rx() {
    local name=$1 out=$2
    shift 2
    /usr/bin/time -f '%e %M' -o "$WORK/rx.time" \
        sh -c 'ulimit -v 4194304 && ulimit -f 2097152 && exec timeout -k 5 60 "$@"' sh "$@" \
        >"$out" 2>/dev/null || true
    local secs kib
    read -r secs kib < <(tail -n 1 "$WORK/rx.time")
    RX+=("$secs $kib")
    log "13. $name: ${secs}s, ${kib} KiB"
}
worst_s() { printf '%s\n' "$@" | awk 'BEGIN { m = 0 } { if ($1 > m) m = $1 } END { print m }'; }
worst_k() { printf '%s\n' "$@" | awk 'BEGIN { m = 0 } { if ($2 > m) m = $2 } END { print m }'; }
mem_s=() mem_k=() walk_s=() walk_k=() cat_b=() rhwm=()
if [[ -x /usr/bin/time ]] && command -v rg >/dev/null; then
    for i in $(seq "$RUNS"); do
        mnt "$DIR"
        RX=()
        wrote=0
        for pd in "$MP"/[0-9]*; do
            rx "rg -a $pd/mem" /dev/null rg -a "$REFLEX" "$pd/mem"
            rx "grep -a $pd/mem" /dev/null grep -a "$REFLEX" "$pd/mem"
            rx "strings $pd/mem" /dev/null strings "$pd/mem"
            rx "cat $pd/mem > f" "$WORK/rx.out" cat "$pd/mem"
            b=$(stat -c %s "$WORK/rx.out")
            if (( b > wrote )); then wrote=$b; fi
        done
        mem_s+=("$(worst_s "${RX[@]}")")
        mem_k+=("$(worst_k "${RX[@]}")")
        cat_b+=("$wrote")
        RX=()
        rx "grep -R X MOUNT" /dev/null grep -R "$REFLEX" "$MP"
        rx "find -L MOUNT -type f -exec cat {} +" /dev/null find -L "$MP" -type f -exec cat {} +
        walk_s+=("$(worst_s "${RX[@]}")")
        walk_k+=("$(worst_k "${RX[@]}")")
        rhwm+=("$(daemon_hwm_kb)")
        umnt
    done
    row "13. rg -a / grep -a / strings / cat at each PID/mem, slowest" "$(median "${mem_s[@]}")" "-" s abs 60 "-"
    row "13. rg -a / grep -a / strings / cat at each PID/mem, peak RSS" "$(( $(median "${mem_k[@]}") / 1024 ))" "-" MiB abs 1024 "-"
    row "13. cat PID/mem > f, bytes written (largest)" "$(( $(median "${cat_b[@]}") / 1048576 ))" "-" MiB abs 512 "-"
    row "13. grep -R X MOUNT / find -L MOUNT -type f -exec cat, slowest" "$(median "${walk_s[@]}")" "-" s abs 60 "-"
    row "13. grep -R X MOUNT / find -L MOUNT -type f -exec cat, peak RSS" "$(( $(median "${walk_k[@]}") / 1024 ))" "-" MiB abs 1024 "-"
    row "13. mount daemon VmHWM after the reflexes" "$(( $(median "${rhwm[@]}") / 1024 ))" "-" MiB abs 1024 "-"
else
    log "13. skipped: needs /usr/bin/time and rg"
fi
fi

# ---------------------------------------------------------------- 14. checkpoint images
# The same checkpoint as an oci-archive (`podman save --format oci-archive` of a checkpoint image:
# index.json, a manifest, its gzip layer) against the .tar.gz of it, both from a cold cache.
if want 14 && [[ $have_python == 1 ]]; then
log "14. oci-archive mount vs .tar.gz"
python3 - "$BIG/ck.tar.gz" "$WORK/ck.oci.tar" <<'PYEOF'
import hashlib, json, sys, tarfile, io, os
gz, out = sys.argv[1], sys.argv[2]
h = hashlib.sha256()
with open(gz, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
ld, ll = "sha256:" + h.hexdigest(), os.path.getsize(gz)
cfg = b"{}"
cd = "sha256:" + hashlib.sha256(cfg).hexdigest()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ll}]}).encode()
md = "sha256:" + hashlib.sha256(man).hexdigest()
index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                        "digest": md, "size": len(man)}]}).encode()
with tarfile.open(out, "w") as t:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", index)
    add("blobs/sha256/" + md[7:], man)
    add("blobs/sha256/" + cd[7:], cfg)
    t.add(gz, arcname="blobs/sha256/" + ld[7:])
PYEOF
ours=(); base=()
for i in $(seq "${RUNS14:-5}"); do
    rm -rf "$WORK/cache13"
    t mnt "$BIG/ck.tar.gz" --cache-dir "$WORK/cache13"
    base+=("$LAST")
    umnt
    rm -rf "$WORK/cache13"
    t mnt "$WORK/ck.oci.tar" --cache-dir "$WORK/cache13"
    ours+=("$LAST")
    umnt
done
rm -rf "$WORK/cache13" "$WORK/ck.oci.tar"
row "14. mount oci-archive (gzip layer, cold)" "$(median "${ours[@]}")" "$(median "${base[@]}")" s le 1.1 "mount the .tar.gz (cold cache)"
fi

# ---------------------------------------------------------------- 15. the case report
# `ckptfs report` of the big image dir: the time to write it (baseline: one read of the pages
# files, `cat` to /dev/null: the page's density strips read memory at a bounded cost), its size (baseline: the report
# of the quarter-size checkpoint: the page must not grow with memory), and Chromium's time to
# load it and take a screenshot (baseline: the same for an empty page: the browser's own start;
# the row beyond it is the page's cost).
if want 15; then
if command -v chromium >/dev/null; then
log "15. the case report"
w=() b=() c=() e=()
echo '<!DOCTYPE html><html><body></body></html>' >"$WORK/empty.html"
chrome() {
    timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$WORK/chromium" --window-size=1400,3000 \
        --screenshot="$WORK/shot.png" "file://$1" >/dev/null 2>&1
}
for i in $(seq "$RUNS"); do
    t cat_pages
    b+=("$LAST")
    t "$BIN" report "$DIR" -o "$WORK/case.html"
    w+=("$LAST")
    t chrome "$WORK/empty.html"
    e+=("$LAST")
    t chrome "$WORK/case.html"
    c+=("$LAST")
done
"$BIN" report "$WORK/small/img/dump" -o "$WORK/case-small.html"
size=$(stat -c %s "$WORK/case.html")
size_small=$(stat -c %s "$WORK/case-small.html")
mb() { awk -v b="$1" 'BEGIN { printf "%.3f", b / 1e6 }'; }
beyond=$(awk -v c="$(median "${c[@]}")" -v e="$(median "${e[@]}")" 'BEGIN { printf "%.3f", c - e }')
row "15. ckptfs report, $(human "$SIZE_B"): written" "$(median "${w[@]}")" "$(median "${b[@]}")" s abs 10 "cat pages files > /dev/null"
row "15. ckptfs report, $(human "$SIZE_B"): size" "$(mb "$size")" "$(mb "$size_small")" MB abs 5 "the report, $(human "$SMALL_B")"
row "15. ckptfs report, $(human "$SIZE_B"): Chromium load + screenshot" "$(median "${c[@]}")" "$(median "${e[@]}")" s info - "the same, empty page"
row "15. ckptfs report, $(human "$SIZE_B"): Chromium time beyond an empty page" "$beyond" "-" s abs 2 "-"
rm -rf "$WORK/chromium" "$WORK/shot.png" "$WORK"/case*.html "$WORK/empty.html"
else
    log "15. skipped: needs chromium (scripts/deps.sh)"
fi
fi

# ---------------------------------------------------------------- 16. diff, timeline and triage
# Two dumps of one container: B is the big image dir (hard links, parent pre-dump included) with
# its smallest pages file rewritten at 64 places (`CHANGED-PAGE-N` on 64 pages spread over it).
# `ckptfs diff A B` (every page of both compared, the changed ones hashed and their strings
# ranked) against one `memparse --search` over both (every page of both read once); its peak RSS
# (bounded: under 1 GiB); `ckptfs timeline` of the big dump against `ckptfs show` of it (both
# open the checkpoint; the timeline reads no memory); `ckptfs triage` of the big dump (its
# credential rule searches the memory processes wrote) against one `memparse --search` over it;
# and once, the worst case: two unrelated dumps.
if want 16; then
if [[ -x /usr/bin/time ]]; then
log "16. diff, timeline and triage"
B2=$WORK/img2
rm -rf "$B2"
cp -al "$BIG/img" "$B2"
small=$(ls -S "$B2"/dump/pages-*.img | tail -n 1)
cp "$small" "$small.new" && mv "$small.new" "$small"
sz=$(stat -c %s "$small")
for n in $(seq 0 63); do
    printf 'CHANGED-PAGE-%04d' "$n" | dd of="$small" bs=1 seek=$(((sz / 64 * n / 4096) * 4096 + 100)) conv=notrunc status=none
done
ours=() base=() rss=() tl=() sh=() tr=() one=()
for i in $(seq "$RUNS"); do
    t "$BIN" memparse -s "$MARK" "$DIR" "$B2/dump" >/dev/null
    base+=("$LAST")
    t /usr/bin/time -f '%M' -o "$WORK/diff.rss" "$BIN" diff "$DIR" "$B2/dump" >"$WORK/diff.out"
    ours+=("$LAST")
    rss+=("$(tail -n 1 "$WORK/diff.rss")")
    t "$BIN" show "$DIR" >/dev/null
    sh+=("$LAST")
    t "$BIN" timeline "$DIR" >"$WORK/timeline.out"
    tl+=("$LAST")
    t "$BIN" memparse -s "$MARK" "$DIR" >/dev/null
    one+=("$LAST")
    t "$BIN" triage "$DIR" >"$WORK/triage.out"
    tr+=("$LAST")
done
changed=$(grep -o '[0-9]* pages changed' "$WORK/diff.out" | head -n 1 || true)
row "16. ckptfs diff of two $(human "$SIZE_B") dumps (${changed:-? pages changed})" "$(median "${ours[@]}")" "$(median "${base[@]}")" s le 2 "memparse --search over both"
row "16. ckptfs diff, peak RSS" "$(awk -v k="$(median "${rss[@]}")" 'BEGIN { printf "%.0f", k / 1024 }')" - MiB abs 1024 -
row "16. ckptfs timeline, $(human "$SIZE_B") ($(wc -l <"$WORK/timeline.out") lines)" "$(median "${tl[@]}")" "$(median "${sh[@]}")" s info - "ckptfs show of the same dump"
row "16. ckptfs triage, $(human "$SIZE_B") ($(grep -c '^PID ' "$WORK/triage.out" || true) findings)" "$(median "${tr[@]}")" "$(median "${one[@]}")" s le 2 "memparse --search over the dump"
# The worst case, once: two unrelated dumps of the same layout (another seed), every page changed
# and every page's strings taken until a process holds 200000 distinct ones a side.
# A debug build (CI's harness check) takes 4 MiB pairs: the row runs, its number means nothing.
if [[ $PROFILE == release ]]; then wsize=$SIZE_B wa=$DIR; else wsize=$((4 << 20)) wa=$WORK/one/img/dump; fi
[[ $PROFILE == release ]] || "$GEN" "$WORK/one" "$wsize" --formats dir >/dev/null
"$GEN" "$WORK/other" "$wsize" --formats dir --seed 7 >/dev/null
t "$BIN" memparse -s "$MARK" "$wa" "$WORK/other/img/dump" >/dev/null
wb=$LAST
t /usr/bin/time -f '%M' -o "$WORK/diff.rss" "$BIN" diff "$wa" "$WORK/other/img/dump" >/dev/null
row "16. ckptfs diff of two unrelated $(human "$wsize") dumps (every page changed; once)" "$LAST" "$wb" s info - "memparse --search over both"
row "16. ckptfs diff of two unrelated dumps, peak RSS" "$(awk -v k="$(tail -n 1 "$WORK/diff.rss")" 'BEGIN { printf "%.0f", k / 1024 }')" - MiB abs 1024 -
rm -rf "$B2" "$WORK/one" "$WORK/other" "$WORK/diff.out" "$WORK/diff.rss" "$WORK/timeline.out" "$WORK/triage.out"
else
    log "16. skipped: needs /usr/bin/time (GNU time)"
fi
fi

T_ALL=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
report() {
    echo
    echo "ckptfs bench: SIZE=$(human "$SIZE_B") ($(human "$PAGES_B") in pages files, memory/* $(human "$MEM_B")), RUNS=$RUNS (RUNS_SLOW=$RUNS_SLOW), medians"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 2^20 }' /proc/meminfo) RAM, kernel $(uname -r); load average $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
    echo "page cache drop: $([[ $CAN_DROP == 1 ]] && echo yes || echo "not allowed (cold rows skipped)"); generation ${T_GEN}s; total ${T_ALL}s"
    echo
    print_table
}
if [[ -n ${OUT:-} ]]; then report | tee "$OUT"; else report; fi
