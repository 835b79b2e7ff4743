#!/usr/bin/env bash
# Long video over ranks on the shipped (pixel-space) model: one process, exact sequence parallelism
# and clip parallelism with a few scope settings, same prompt and seed; wall time of each run and the
# temporal-consistency figures of bench/clip_consistency.py (frame-to-frame change within clips
# against across clip boundaries, and the distance to the exact run).
# usage: bench/clip_parallel.sh [BUILD_DIR] [FRAMES] [RANKS]
set -euo pipefail
BUILD=${1:-build}; FRAMES=${2:-20}; RANKS=${3:-4}
OUT=$(mktemp -d)
MPI="mpirun --allow-run-as-root --oversubscribe -np $RANKS"
ARGS=(generate -p "a red circle moving to the right on a blue background" --frames "$FRAMES" -s 3 -t 1)
run() { # name, then the launcher and flags
    local name=$1; shift
    local t0; t0=$(date +%s.%N)
    OMP_NUM_THREADS=1 "$@" -o "$OUT/$name.safetensors" >/dev/null 2>&1
    printf '%-28s %7.2f s\n' "$name" "$(echo "$(date +%s.%N) - $t0" | bc)"
}
echo "shipped model, $FRAMES frames (the model was trained on 5), $RANKS ranks, 1 thread each"
run one_process "$BUILD/ditgen" "${ARGS[@]}"
run exact $MPI "$BUILD/ditgen" "${ARGS[@]}" --parallel exact
run clip_h1_g1 $MPI "$BUILD/ditgen" "${ARGS[@]}" --parallel clip --clip-halo 1 --clip-global 1
run clip_h1_g1_rope_clamped $MPI "$BUILD/ditgen" "${ARGS[@]}" --parallel clip --clip-halo 1 --clip-global 1 --clip-rope clamped
run clip_h1_g1_rope_none $MPI "$BUILD/ditgen" "${ARGS[@]}" --parallel clip --clip-halo 1 --clip-global 1 --clip-rope none
run clip_h2_g1 $MPI "$BUILD/ditgen" "${ARGS[@]}" --parallel clip --clip-halo 2 --clip-global 1
run clip_h1_g0 $MPI "$BUILD/ditgen" "${ARGS[@]}" --parallel clip --clip-halo 1 --clip-global 0
run clip_h0_g0 $MPI "$BUILD/ditgen" "${ARGS[@]}" --parallel clip --clip-halo 0 --clip-global 0
python3 "$(dirname "$0")/clip_consistency.py" "$RANKS" "$OUT/exact.safetensors" "$OUT"/one_process.safetensors \
    "$OUT"/clip_*.safetensors
rm -rf "$OUT"
