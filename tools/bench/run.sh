#!/usr/bin/env bash
# WeightDrift benchmark (tools/bench/README.md): times `weightdrift compare` against the limit
# probe, the h5py+numpy peer and h5diff on BERT-base-sized pairs (float32 at 1x and 4x, float16
# and bfloat16 at 1x), warm and (where the page cache may be dropped) cold, and checks the targets.
#
#   tools/bench/run.sh                 everything; results in $OUT/results.md
#
# Environment: OUT (default /work/bench-data; data and results, never inside the repo),
# SCALES (default "1 4"), DTYPES (default "float16 bfloat16": 1x .weights.h5 pairs; "" for none),
# COLD (default 1: cold-cache runs when /proc/sys/vm/drop_caches is writable; 0 for none),
# RUNS (hyperfine runs, default 3), WEIGHTDRIFT (a binary to time;
# default: the repository's HEAD cloned and built in $BUILD, default /tmp/wd-bench).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-/work/bench-data}
SCALES=${SCALES:-"1 4"}
DTYPES=${DTYPES-"float16 bfloat16"}
COLD=${COLD:-1}
RUNS=${RUNS:-3}
BUILD=${BUILD:-/tmp/wd-bench}
LOG=$OUT/runs
started=$SECONDS

say() { printf '\n== %s\n' "$*" >&2; }
run_id() { printf '%s' "$1" | sed -E 's/[^A-Za-z0-9.]+/_/g; s/^_+|_+$//g'; }

case "$(realpath -m "$OUT")/" in "$REPO"/*) echo "run.sh: OUT must be outside the repository" >&2; exit 2 ;; esac
mkdir -p "$OUT/bin" "$LOG"
rm -f "$LOG"/*

# --- tools -------------------------------------------------------------------------------
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v h5diff >/dev/null || missing+=(hdf5-tools)
[ -x /usr/bin/time ] || missing+=(time)
command -v cc >/dev/null || missing+=(gcc)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
python3 -c 'import h5py, numpy' || { echo "run.sh: python3 needs h5py and numpy (tools/requirements-oracle.txt)" >&2; exit 2; }

# --- weightdrift: HEAD, cloned and built in release mode outside the working tree ----------
if [ -z "${WEIGHTDRIFT:-}" ]; then
  [ -d "$BUILD/.git" ] || git clone -q "$REPO" "$BUILD"
  git -C "$BUILD" fetch -q "$REPO" HEAD
  git -C "$BUILD" reset -q --hard FETCH_HEAD
  say "building weightdrift $(git -C "$BUILD" log --oneline -1) in $BUILD"
  # A statically linked Swift runtime starts in ~10 ms instead of ~30 (see the README).
  (cd "$BUILD" && swift build -c release --static-swift-stdlib 2>&1 | tail -1)
  WEIGHTDRIFT=$BUILD/.build/release/weightdrift
  COMMIT=$(git -C "$BUILD" log --oneline -1)
else
  COMMIT="$WEIGHTDRIFT (given)"
fi
W=$WEIGHTDRIFT

# --- the probe: this machine's widest vectors, reassociated sums (the limit, not portable) --
PROBE=$OUT/bin/probe
cc -O3 -march=native -ffast-math -pthread -o "$PROBE" "$HERE/probe.c" -lm

# --- data (regenerated when make_pair.py changed) ------------------------------------------
generator=$(sha256sum "$HERE/make_pair.py" | cut -c1-64)
fresh() { [ -f "$1/pair.json" ] && grep -q "$generator" "$1/pair.json"; }
for s in $SCALES; do
  fresh "$OUT/bert${s}x" || { say "generating the ${s}x pair"; python3 "$HERE/make_pair.py" --scale "$s" --out "$OUT"; }
done
for t in $DTYPES; do
  fresh "$OUT/bert1x-$t" || { say "generating the 1x $t pair"; python3 "$HERE/make_pair.py" --dtype "$t" --out "$OUT"; }
done
fresh "$OUT/layers400" || { say "generating the 400-layer pair"; python3 "$HERE/make_pair.py" --layers400 --out "$OUT"; }
fresh "$OUT/layers1600" || { say "generating the 1,600-layer pair"; python3 "$HERE/make_pair.py" --layers 1600 --out "$OUT"; }

# --- measuring ---------------------------------------------------------------------------
# measure TAG WARMUP RUNS: one /usr/bin/time -v run of every command in names/cmds (peak RSS,
# exit status, output kept for report.py's checks), then one hyperfine run over all of them.
measure() {
  local tag=$1 warmup=$2 runs=$3 i id cmd args=()
  for i in "${!names[@]}"; do
    id=$(run_id "${names[$i]}")
    cmd=${cmds[$i]/--output \/dev\/null/--output $LOG/$id.json}
    # shellcheck disable=SC2086  # the commands are plain words
    /usr/bin/time -v -o "$LOG/$id.time" $cmd > "$LOG/$id.out" 2> "$LOG/$id.err" || true
    args+=(-n "${names[$i]}" "${cmds[$i]}")
  done
  hyperfine -N -i --style basic --warmup "$warmup" --runs "$runs" --export-json "$LOG/hyperfine-$tag.json" "${args[@]}"
}

# layouts LABEL FOLDER: the commands for every layout pair.json lists (safetensors: when the
# generator writes one; the probe wherever offsets-<layout>.txt says where the bytes are).
layouts() {
  local size=$1 D=$2 l
  for l in $(python3 -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["layouts"]))' "$D/pair.json"); do
    names+=("weightdrift|$l|$size") cmds+=("$W compare $D/base.$l $D/tuned.$l --format json --output /dev/null")
    [ -f "$D/offsets-$l.txt" ] || continue
    names+=("probe 1 thread|$l|$size") cmds+=("$PROBE $D/base.$l $D/tuned.$l $D/offsets-$l.txt 1")
    names+=("probe 2 threads|$l|$size") cmds+=("$PROBE $D/base.$l $D/tuned.$l $D/offsets-$l.txt 2")
  done
}

for s in $SCALES; do
  D=$OUT/bert${s}x
  say "${s}x pair: warming the page cache"
  cat "$D"/base.* "$D"/tuned.* > /dev/null
  names=() cmds=()
  layouts "${s}x" "$D"
  if [ "$s" = 1 ]; then  # the peer takes ~5 s per 1x run; at 4x it would eat the time budget
    names+=("weightdrift --hash|h5|${s}x") cmds+=("$W compare $D/base.h5 $D/tuned.h5 --format json --output /dev/null --hash")
    for l in h5 weights.h5; do
      names+=("h5py+numpy peer|$l|${s}x") cmds+=("python3 $REPO/tools/reference_drift.py $D/base.$l $D/tuned.$l")
    done
  fi
  # h5diff reads and compares every element; --delta=1 reports only |b-a| > 1 (here: the NaN),
  # so its time is reading + comparing, not printing 10^8 difference lines.
  names+=("h5diff|h5|${s}x") cmds+=("h5diff --delta=1 $D/base.h5 $D/tuned.h5")
  # what hashing both inputs (--hash) costs on its own
  names+=("sha256 of both (openssl)|h5|${s}x") cmds+=("openssl dgst -sha256 $D/base.h5 $D/tuned.h5")
  measure "${s}x" 1 "$RUNS"
done

for t in $DTYPES; do
  D=$OUT/bert1x-$t
  say "1x $t pair"
  cat "$D"/base.* "$D"/tuned.* > /dev/null
  names=() cmds=()
  layouts "1x-$t" "$D"
  measure "1x-$t" 1 "$RUNS"
done

# Cold cache: every run after dropping the page cache, weightdrift against cat of both files.
if [ "$COLD" = 1 ] && [ -w /proc/sys/vm/drop_caches ] && (sync; echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then
  say "1x pair, cold cache"
  D=$OUT/bert1x
  names=() cmds=()
  for l in h5 weights.h5 keras; do
    names+=("cat (cold)|$l|1x") cmds+=("cat $D/base.$l $D/tuned.$l")
    names+=("weightdrift (cold)|$l|1x") cmds+=("$W compare $D/base.$l $D/tuned.$l --format json --output /dev/null")
  done
  args=()
  for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
  # hyperfine -N cannot redirect: cat's output goes to hyperfine's own /dev/null
  hyperfine -N -i --style basic --runs "$RUNS" --output null --prepare "sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches'" \
    --export-json "$LOG/hyperfine-cold.json" "${args[@]}"
else
  say "cold cache: skipped (COLD=0, or /proc/sys/vm/drop_caches is not writable)"
fi

say "400 layers: inspect (no --stats) and compare"
D=$OUT/layers400
cat "$D"/base.* "$D"/tuned.* > /dev/null
names=() cmds=()
for l in h5 weights.h5 keras safetensors; do
  names+=("weightdrift inspect|$l|400 layers") cmds+=("$W inspect $D/base.$l")
done
names+=("weightdrift|h5|400 layers") cmds+=("$W compare $D/base.h5 $D/tuned.h5 --format json --output /dev/null")
measure layers400 3 20

say "1,600 small layers: compare (memory and per-weight costs)"
D=$OUT/layers1600
cat "$D"/base.* "$D"/tuned.* > /dev/null
names=() cmds=()
for l in h5 weights.h5 keras safetensors; do
  names+=("weightdrift|$l|1600 layers") cmds+=("$W compare $D/base.$l $D/tuned.$l --format json --output /dev/null")
done
measure layers1600 1 5

# --- report ------------------------------------------------------------------------------
say "report"
python3 "$HERE/report.py" --out "$OUT" --weightdrift "$W" --commit "$COMMIT" --runs "$RUNS" > "$OUT/results.md"
printf '\n- run.sh took %d s\n' $((SECONDS - started)) >> "$OUT/results.md"
cat "$OUT/results.md"
