#!/usr/bin/env bash
# OpenBLAS built on pthreads vs on OpenMP under the same ditgen binary (LD_LIBRARY_PATH picks the
# Debian variant at load time): denoise time of the shipped model (median of REPS runs) and, given a
# transformer folder, `ditgen bench wan`. Needs libopenblas0-pthread and libopenblas0-openmp.
# usage: bench/blas_threading.sh [BUILD_DIR] [WAN_TRANSFORMER_DIR] [REPS]
set -euo pipefail
BUILD=${1:-build}; WAN=${2:-}; REPS=${3:-5}
LIBDIR=/usr/lib/$(gcc -dumpmachine)
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for variant in pthread openmp; do
    export LD_LIBRARY_PATH=$LIBDIR/openblas-$variant
    echo "== openblas-$variant: $("$BUILD/ditgen" version)"
    for kind in "image:1:png" "clip:5:mp4"; do
        IFS=: read -r name frames ext <<<"$kind"
        t=$(for r in $(seq "$REPS"); do
            "$BUILD/ditgen" generate -p "a red circle on a blue background" --frames "$frames" -o "/tmp/blas_bench.$ext" 2>&1 |
                sed -n 's/^denoise: \([0-9.]*\) s.*/\1/p'
        done | median)
        echo "shapes-tiny $name (20 steps, CFG): denoise median $t s over $REPS runs"
    done
    [ -n "$WAN" ] && "$BUILD/ditgen" bench wan -m "$WAN" -W 416 -H 240 --frames 5 --reps 3 --warmup 1
done
