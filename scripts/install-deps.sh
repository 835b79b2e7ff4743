#!/usr/bin/env bash
# Debian packages ditgen needs to build and test (run as root or with sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config \
    libopenblas-dev libcjson-dev libstb-dev \
    libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
    libopenmpi-dev openmpi-bin ffmpeg >/dev/null
