#!/usr/bin/env bash
# The CPU path before and after a change, same machine, same threads, runs alternating between the
# two builds: a shipped-model image and 5-frame clip (denoise), the Wan transformer fixture at a
# larger size (denoise + VAE decode of its tiny VAE), and the real-width Wan VAE decoder
# (bench/wan_vae_ab.py: random weights, no PyTorch). Medians of wall seconds and of the child's CPU
# seconds (user + sys; steadier when other jobs share the cores).
# usage: bench/cpu_before_after.sh BASE_REF [REPS] [NEW_BUILD_DIR]
set -euo pipefail
BASE=${1:?base commit}; REPS=${2:-5}; NEW=${3:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=/tmp/ditgen-before-$BASE
if [ ! -x "$OLD/build/ditgen" ]; then
    rm -rf "$OLD" && mkdir -p "$OLD"
    git -C "$ROOT" archive "$BASE" | tar -x -C "$OLD"
    cmake -S "$OLD" -B "$OLD/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$OLD/build" -j"$(nproc)" --target ditgen wan_vae_bench >/dev/null
fi
cmake --build "$ROOT/$NEW" -j"$(nproc)" --target ditgen wan_vae_bench >/dev/null
FX=$ROOT/tests/fixtures
declare -A CASES=(
    [shipped_image]="generate -p 'a red circle on a blue background' -o /tmp/ba.png"
    [shipped_clip]="generate -p 'a red circle on a blue background' --frames 5 -o /tmp/ba.mp4"
    [wan_tiny_256x256x17]="generate -m $FX/wan_tiny --context $FX/wan_tiny_context.safetensors -W 256 -H 256 --frames 17 --steps 4 -o /tmp/ba.mp4"
)
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '%-22s %-8s %12s %12s %12s\n' case build "wall s" "cpu s" "denoise s"
for name in "${!CASES[@]}"; do
    for which in before after; do : >"/tmp/ba_$which.txt"; done
    for r in $(seq "$REPS"); do
        for which in before after; do
            bin=$OLD/build/ditgen; [ $which = after ] && bin=$ROOT/$NEW/ditgen
            /usr/bin/time -f '%e %U %S' -o /tmp/ba_time.txt bash -c "$bin ${CASES[$name]} -t 2" 2>/tmp/ba_log.txt >/dev/null
            read -r wall user sys </tmp/ba_time.txt
            den=$(sed -n 's/^denoise: \([0-9.]*\) s.*/\1/p' /tmp/ba_log.txt)
            echo "$wall $(echo "$user + $sys" | bc) $den" >>"/tmp/ba_$which.txt"
        done
    done
    for which in before after; do
        printf '%-22s %-8s %12s %12s %12s\n' "$name" "$which" "$(cut -d' ' -f1 /tmp/ba_$which.txt | median)" \
            "$(cut -d' ' -f2 /tmp/ba_$which.txt | median)" "$(cut -d' ' -f3 /tmp/ba_$which.txt | median)"
    done
done
python3 "$ROOT/bench/wan_vae_ab.py" "$OLD/build/wan_vae_bench" "$ROOT/$NEW/wan_vae_bench" --work /tmp/ba_vae \
    --latent 2 16 26 --threads 2 --tile 0 --reps "$REPS"
