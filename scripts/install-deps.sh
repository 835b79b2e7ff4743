#!/usr/bin/env bash
# Debian packages ditgen needs to build and test (run as root or with sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config \
    libopenblas-openmp-dev libcjson-dev libstb-dev \
    libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
    libopenmpi-dev openmpi-bin ffmpeg clang libdnnl-dev >/dev/null
# OpenBLAS built on OpenMP shares ditgen's thread pool; the pthreads build spins its own threads
# against OpenMP's between calls (1.3-6x slower on 2 cores). Where both are installed, pick OpenMP.
for lib in libopenblas.so.0 libopenblas.so; do
    alt=/usr/lib/$(gcc -dumpmachine)/openblas-openmp/$lib
    [ -e "$alt" ] && $SUDO update-alternatives --set "$lib-$(gcc -dumpmachine)" "$alt" >/dev/null
done
