#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/fuzz_*.c, clang with ASan + UBSan) and run each for SECONDS
# (default 30), starting from its seed corpus fuzz/corpus/<target>/. Exit 1 when a target
# crashes, leaks, hangs (an input running over 10 s) or trips a sanitizer; the input that did
# it is kept in build-fuzz/artifacts/. New corpus inputs and the files the targets write go to
# a temporary folder that is removed at the end.
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (env: DG_FUZZ_BUILD, DG_FUZZ_JOBS)
set -u
SECS=${1:-30}; shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DG_FUZZ_BUILD:-$ROOT/build-fuzz}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDG_FUZZ=ON >/dev/null &&
    cmake --build "$BUILD" -j"${DG_FUZZ_JOBS:-2}" --target fuzz >/dev/null || { echo "fuzz build failed"; exit 2; }
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BUILD/artifacts"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || for f in "$ROOT"/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fail=0
printf '%-24s %8s %10s  %s\n' target seconds execs result
for t in "${targets[@]}"; do
    mkdir -p "$WORK/$t/new"
    start=$(date +%s)
    TMPDIR="$WORK/$t" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        "$BUILD/fuzz/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$BUILD/artifacts/$t-" "$WORK/$t/new" "$ROOT/fuzz/corpus/$t" >"$WORK/$t.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log" | tail -1)
    if [ $rc -eq 0 ]; then result=ok
    else
        result="FAILED (exit $rc): $(grep -m1 -E 'ERROR:|runtime error|Timeout|leak' "$WORK/$t.log")"
        cp "$WORK/$t.log" "$BUILD/artifacts/$t.log"; fail=1
    fi
    printf '%-24s %8s %10s  %s\n' "$t" "$(( $(date +%s) - start ))" "${runs:-?}" "$result"
done
exit $fail
