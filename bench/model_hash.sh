#!/usr/bin/env bash
# Cost of the "Model hash" that outputs record: SHA-256 over a transformer's weights, for a file
# the size of Wan2.1-T2V-1.3B's f32 transformer, against coreutils' sha256sum on the same file
# (the baseline), both with the file in the page cache; then the cached lookup ditgen uses after
# the first time. usage: bash bench/model_hash.sh BUILD_DIR [BYTES] [REPS]
set -eu
BUILD=$1 BYTES=${2:-5676070424} REPS=${3:-3}
cmake --build "$BUILD" --target model_hash_bench >/dev/null
DIR=$(mktemp -d); trap 'rm -rf "$DIR"' EXIT
F=$DIR/diffusion_pytorch_model.safetensors
head -c "$BYTES" /dev/urandom > "$F"   # real data: the hash's cost does not depend on it, the reads do
sha256sum "$F" >/dev/null              # warm-up: into the page cache
times=()
for _ in $(seq "$REPS"); do
    s=$(date +%s.%N); want=$(sha256sum "$F" | cut -c1-10); e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc)")
done
base=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p")
out=$("$BUILD/model_hash_bench" "$F" "$REPS")
echo "$out"
got=$(sed 's/.*"hash": "\([0-9a-f]*\)".*/\1/' <<<"$out")
[ "$got" = "$want" ] || { echo "hash mismatch: ditgen $got, sha256sum $want"; exit 1; }
ours=$(sed 's/.*"uncached_s": \([0-9.]*\).*/\1/' <<<"$out")
echo "bytes $BYTES: sha256sum ${base}s, ditgen ${ours}s (ratio $(echo "scale=2; $ours / $base" | bc)x), cached $(sed 's/.*"cached_s": \([0-9.]*\).*/\1/' <<<"$out")s"
