#!/usr/bin/env bash
# ditgen generate --parallel under mpirun -np 2: rank 0 writes one output holding every rank's frames
# (the VAE decode is split by latent frames); with the whole causal history (--vae-halo 0, the
# default) the frames equal one process's, with a warm-up of 1 latent frame (--vae-halo 1) rank 1's
# differ; clip mode runs with step caching (a divergent decision would stall the exchanges); bad
# parallel flags are refused. Skipped (77) without MPI.
# usage: cli_parallel.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_parallel.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
MODEL=$TESTS/fixtures/wan_tiny
CTX=$TESTS/fixtures/wan_tiny_context.safetensors
BASE=(generate -m "$MODEL" --context "$CTX" -W 64 -H 48 --frames 9 --steps 2 -t 1)
fail=0
source "$TESTS/shell_assert.sh"
command -v mpirun >/dev/null && "$DITGEN" --version | grep -q mpi || { echo "skip: no MPI"; exit 77; }
cd "$WORK" || exit 1

# OpenMPI's process-lifetime allocations are not ditgen's leaks (see lsan_mpi.supp)
export OMP_NUM_THREADS=1 LSAN_OPTIONS=suppressions=$TESTS/lsan_mpi.supp:fast_unwind_on_malloc=0:malloc_context_size=40
mpi2() { # mpirun -np 2 ditgen ARGS: exit status, stderr in err
    mpirun --allow-run-as-root --oversubscribe -np 2 "$DITGEN" "$@" >out 2>err
}

# Exact mode's latents equal one process's up to float rounding (test_parallel_exact checks the
# bound), so the split decode is compared with one process decoding the 2-rank latents.
if mpi2 "${BASE[@]}" --parallel exact -o two.safetensors && "$DITGEN" decode two.safetensors -t 1 -o ref_%02d.png \
    >out 2>err && mpi2 "${BASE[@]}" --parallel exact -o two_%02d.png; then
    for i in 00 04 08; do
        cmp -s "ref_$i.png" "two_$i.png" || { echo "FAIL frame $i decoded over 2 ranks differs from one process"; fail=1; }
    done
    echo "ok   exact over 2 ranks, split decode with the whole history"
else
    echo "FAIL exact over 2 ranks: $(tail -1 err)"; fail=1
fi
# 3 latent frames: rank 0 decodes 0-1 (output frames 0-4), rank 1 latent frame 2 (frames 5-8) after 1
if mpi2 "${BASE[@]}" --parallel exact --vae-halo 1 -o cold_%02d.png; then
    cmp -s ref_00.png cold_00.png || { echo "FAIL rank 0's frame changed with a short warm-up"; fail=1; }
    cmp -s ref_08.png cold_08.png && { echo "FAIL rank 1's frame is the same with a short warm-up: not split"; fail=1; }
    echo "ok   split decode with a 1-frame warm-up"
else
    echo "FAIL --vae-halo 1: $(tail -1 err)"; fail=1
fi
if mpi2 "${BASE[@]}" --parallel clip --clip-halo 1 --clip-global 0 --fps 8 -o v.mp4; then
    [ "$(ls | grep -c '^v\.mp4')" -eq 1 ] || { echo "FAIL expected one v.mp4 and no temporaries: $(ls)"; fail=1; }
    if command -v ffprobe >/dev/null; then
        n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 v.mp4)
        [ "$n" = 9 ] || { echo "FAIL the mp4 has $n frames, not 9"; fail=1; }
    fi
    grep -q "communication (rank 0)" err || { echo "FAIL no communication report"; fail=1; }
    echo "ok   clip over 2 ranks to one mp4"
else
    echo "FAIL clip to mp4: $(tail -1 err)"; fail=1
fi
# step caching split over ranks: both ranks take the same decisions (else their exchanges would not match)
echo '{"method": "first_block_cache", "threshold": 1.5, "warmup_steps": 1}' > reuse.json
if mpi2 "${BASE[@]}" --steps 6 --parallel clip --clip-halo 1 --clip-global 0 --cache ./reuse.json -o cached.safetensors; then
    grep -q "^cache: 5 of 6 steps reused" err || { echo "FAIL clip with a cache: $(grep cache: err)"; fail=1; }
    echo "ok   clip over 2 ranks with step caching"
else
    echo "FAIL clip with a cache: $(tail -1 err)"; fail=1
fi
refused "unknown parallel attention" "--parallel-attn" "" "${BASE[@]}" --parallel exact --parallel-attn ring -o x.png
refused "negative vae halo" "--vae-halo" "" "${BASE[@]}" --parallel exact --vae-halo -1 -o x.png
exit $fail
