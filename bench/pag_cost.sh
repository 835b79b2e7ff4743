#!/usr/bin/env bash
# Cost of PAG / SoftPAG guidance on the shipped model: denoise time (median of REPS runs) of a 5-frame
# clip with CFG alone, with every head of the first block perturbed (a whole third pass) and with every
# head of the last block perturbed (the third pass starts from the prompt pass's hidden state there).
# usage: bench/pag_cost.sh [BUILD_DIR] [REPS]
set -euo pipefail
BUILD=${1:-build}; REPS=${2:-5}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for pag in "" "--pag-scale 2 --pag-heads 0:*" "--pag-scale 2 --pag-heads 3:*"; do
    t=$(for r in $(seq "$REPS"); do
        # shellcheck disable=SC2086
        "$BUILD/ditgen" generate -p "a red circle moving left on a blue background" --frames 5 \
            -o /tmp/pag_cost.mp4 $pag 2>&1 | sed -n 's/^denoise: \([0-9.]*\) s.*/\1/p'
    done | median)
    echo "shapes-tiny clip, CFG 4 ${pag:-(no PAG)}: denoise median $t s over $REPS runs"
done
