#!/usr/bin/env bash
# Speed of parallel generation on the shipped model: one process against 2 ranks (and 4, oversubscribed
# when the machine has fewer cores), 1 thread per rank, exact (Ulysses; all-gather overlapped and
# blocking) and clip (halo 1, global 1; overlapped and blocking). REPS rounds over the configurations
# after a warm-up run; per configuration the median of rank 0's denoise time per step, the speed-up
# over one process in the same run, and rank 0's exchange time and bytes received per step. "hidden" is the share of the blocking
# run's exchange time that the overlapped run no longer waits for: 1 - overlapped / blocking.
# usage: bench/parallel_speed.sh [BUILD_DIR] [FRAMES] [SIDE] [STEPS] [REPS]
set -euo pipefail
BUILD=${1:-build}; FRAMES=${2:-20}; SIDE=${3:-64}; STEPS=${4:-2}; REPS=${5:-3}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
ARGS=(generate -p "a red circle moving to the right on a blue background" --frames "$FRAMES" -W "$SIDE" -H "$SIDE"
      -s 3 -t 1 --steps "$STEPS" -o "$OUT/lat.safetensors")
declare -A STEP COMM MB STEPS_ COMMS_ MBS_
once() { # name ranks flags...: one run, its figures appended to the name's lists
    local name=$1 np=$2; shift 2
    local launch=("$BUILD/ditgen")
    [ "$np" -gt 1 ] && launch=(mpirun --allow-run-as-root --oversubscribe -np "$np" "$BUILD/ditgen")
    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE "${launch[@]}" "${ARGS[@]}" "$@" 2>"$OUT/err" >/dev/null ||
        { echo "$name failed: $(tail -3 "$OUT/err")" >&2; exit 1; }
    STEPS_[$name]+=" $(awk -v n="$STEPS" '/^denoise:/ {print $2 / n}' "$OUT/err")"
    COMMS_[$name]+=" $(awk -v n="$STEPS" '/^communication/ {print $4 / n} END {if (!NR) print 0}' "$OUT/err")"
    MBS_[$name]+=" $(awk '/^communication/ {print $8}' "$OUT/err")"
}
median() { printf '%s\n' $@ | sort -g | awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : 0)}'; }
CONFIGS=("one 1")
for np in 2 4; do
    CONFIGS+=("exact_$np $np --parallel exact"
              "exact_allgather_$np $np --parallel exact --parallel-attn allgather"
              "exact_allgather_blocking_$np $np --parallel exact --parallel-attn allgather --parallel-blocking"
              "clip_$np $np --parallel clip --clip-halo 1 --clip-global 1"
              "clip_blocking_$np $np --parallel clip --clip-halo 1 --clip-global 1 --parallel-blocking")
done
row() { # name ranks [blocking twin]
    local hidden="-"
    [ -n "${3:-}" ] && hidden=$(awk -v a="${COMM[$1]}" -v b="${COMM[$3]}" 'BEGIN {printf "%.0f%%", (b > 0 ? 100 * (1 - a / b) : 0)}')
    awk -v n="$1" -v r="$2" -v s="${STEP[$1]}" -v o="${STEP[one]}" -v c="${COMM[$1]}" -v m="${MB[$1]}" -v h="$hidden" \
        'BEGIN {printf "| %s | %s | %.3f | %.2fx | %.3f | %.2f | %s |\n", n, r, s, o / s, c, m, h}'
}
echo "shipped model, ${SIDE}x${SIDE}, $FRAMES frames, $STEPS steps, CFG (2 forwards a step), 1 thread per rank," \
     "median of $REPS; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
once warmup 1 # page cache
# rounds over every configuration, so a change of the machine's load spreads over all of them
for i in $(seq "$REPS"); do
    for cfg in "${CONFIGS[@]}"; do once $cfg; done
done
for cfg in "${CONFIGS[@]}"; do
    n=${cfg%% *}
    STEP[$n]=$(median ${STEPS_[$n]}); COMM[$n]=$(median ${COMMS_[$n]}); MB[$n]=$(median ${MBS_[$n]:-0})
done
echo "| run | ranks | s/step | speed-up | exchange s/step (rank 0) | MB received/step (rank 0) | hidden |"
echo "|---|---|---|---|---|---|---|"
row one 1
for np in 2 4; do
    row "exact_$np" "$np"
    row "exact_allgather_$np" "$np" "exact_allgather_blocking_$np"
    row "exact_allgather_blocking_$np" "$np"
    row "clip_$np" "$np" "clip_blocking_$np"
    row "clip_blocking_$np" "$np"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
