#!/usr/bin/env bash
# Run here before a device (GPU machine) run: downloads the Debian packages of
# ditgen's C libraries that the device image lacks (OpenBLAS, cJSON, stb, and
# pkgconf in case it has no pkg-config) into .gpu-debs/ (git-ignored, ~14 MB).
# scripts/gpu_checks.sh unpacks them into a private sysroot there; name
# .gpu-debs in the run's carry list.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-debs
cd .gpu-debs
apt-get download libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev libopenblas0 libgfortran5 \
    libcjson1 libcjson-dev libstb0 libstb-dev pkgconf pkgconf-bin libpkgconf3 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls -1 *.deb | wc -l | xargs echo "debs in .gpu-debs:"
