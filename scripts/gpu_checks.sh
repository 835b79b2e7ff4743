#!/usr/bin/env bash
# The CUDA backend's GPU checks in one device run, logs under $OUT (./gpu_out outside the tool):
#   here:    bash scripts/gpu_fetch_debs.sh
#   device:  run(command="bash scripts/gpu_checks.sh", carry=[".gpu-debs"], timeout_s=560)
# The device image has nvcc, CMake, gcc and PyTorch but not ditgen's C libraries: the .debs
# are unpacked into a private sysroot (never into /), and FFmpeg is left out (no MP4 there).
# Steps (each bounded so the whole run fits one call; a failed step does not stop the next):
#   1. build for sm_90 (Hopper)       2. ctest -R 'cuda|backend_ops' (every op of the backend table vs
#      host references, the whole loop with CFG and PAG and the VAE decode vs the diffusers fixtures)
#   3. ditgen bench attention on the GPU: all methods + the GNA preset, Wan 480p, 12 heads
#   4. dense attention vs PyTorch SDPA (flash / cuDNN) at 32,760 and 75,600 tokens
#   5. one Wan step at 1.3B widths (30 layers, 81 frames 480p) vs diffusers, bf16, with memory
set -uo pipefail
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
SYS=/tmp/dg-sysroot
LIB=$SYS/usr/lib/x86_64-linux-gnu
mkdir -p "$SYS"
for f in .gpu-debs/*.deb; do dpkg -x "$f" "$SYS" || { echo "cannot unpack $f (run scripts/gpu_fetch_debs.sh here and carry .gpu-debs)"; exit 1; }; done
export PKG_CONFIG_PATH=$LIB/pkgconfig:$LIB/openblas-openmp/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$SYS
export LD_LIBRARY_PATH=$LIB:$LIB/openblas-openmp:${LD_LIBRARY_PATH:-}
PKG=$(command -v pkg-config || echo "$SYS/usr/bin/pkgconf")
step() { echo "== $1 ($(date +%T))" | tee -a "$OUT/summary.txt"; }

step "build"
cmake -B build-gpu -DCMAKE_BUILD_TYPE=Release -DDG_WITH_FFMPEG=OFF -DDG_NATIVE=OFF \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DPKG_CONFIG_EXECUTABLE="$PKG" -DSTB_INCLUDE_DIR="$SYS/usr/include/stb" \
    >"$OUT/build.log" 2>&1 &&
    cmake --build build-gpu -j"$(nproc)" --target ditgen test_backend_ops test_cuda_wan test_cuda_pipeline test_cuda_vae cuda_attention_bench \
    >>"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/summary.txt"

step "ctest -R 'cuda|backend_ops'"
(cd build-gpu && timeout 240 ctest -R 'cuda|backend_ops' --output-on-failure) >"$OUT/ctest.log" 2>&1
tail -5 "$OUT/ctest.log" | tee -a "$OUT/summary.txt"

step "bench attention on the GPU"
A=(./build-gpu/ditgen bench attention --device cuda --heads 12 --head-dim 128 --geometry 21x30x52 --reps 5 --warmup 2)
timeout 120 "${A[@]}" --method all 2>&1 | tee -a "$OUT/summary.txt"
timeout 60 "${A[@]}" --method natten --params '{"kernel_size": [18, 24, 24], "stride": [16, 8, 8]}' 2>&1 |
    tail -2 | tee -a "$OUT/summary.txt"

step "dense attention vs PyTorch SDPA"
timeout 120 python3 bench/bench_cuda_attention.py --seq 32760 75600 --heads 12 --head-dim 128 --reps 10 \
    --build-dir build-gpu 2>&1 | grep -v Warning | tee -a "$OUT/summary.txt"

step "Wan 1.3B step vs diffusers"
timeout 240 python3 bench/bench_wan_step.py --device cuda --dtype bfloat16 --layers 30 --width 832 --height 480 \
    --frames 81 --reps 3 --build-dir build-gpu 2>&1 | grep -v Warning | tail -3 | tee -a "$OUT/summary.txt"
step "done"
