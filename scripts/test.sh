#!/usr/bin/env bash
# Build ditgen twice (Release, and AddressSanitizer + UndefinedBehaviorSanitizer)
# and run the whole ctest suite on both, then a 10-second smoke run of each fuzz
# target. This is the command the README and CI use.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS"
ctest --test-dir build --output-on-failure -j"$JOBS"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDG_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$JOBS"

# A short smoke run of every libFuzzer target (clang; long runs: scripts/fuzz.sh 1800).
bash scripts/fuzz.sh 10
