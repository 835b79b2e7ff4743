#!/usr/bin/env bash
# Inputs that are not regular files (FIFOs, pipes, /dev/fd/N) are refused by type before
# open() could block on them, wherever ditgen reads a file: configs, weights, shard
# indexes, tokenizer, batch files, attention plans. A timeout turns a hang into a failure.
# usage: cli_hostile_inputs.sh DITGEN TESTS_DIR BUILD_DIR
set -u
REAL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_hostile.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
SHIPPED=$TESTS/../assets/shapes-tiny
fail=0
DITGEN=$WORK/ditgen_with_timeout
printf '#!/bin/sh\nexec timeout 60 "%s" "$@"\n' "$REAL" > "$DITGEN"; chmod +x "$DITGEN"
source "$TESTS/shell_assert.sh"
cd "$WORK" || exit 1

# A copy of the shipped model made of links, with one file replaced by a FIFO.
model_with_fifo() { # relative path inside the model
    rm -rf m; mkdir m
    (cd "$SHIPPED" && find . -type d) | while read -r d; do mkdir -p "m/$d"; done
    (cd "$SHIPPED" && find . -type f) | while read -r f; do ln -s "$SHIPPED/$f" "m/$f"; done
    rm "m/$1"; mkfifo "m/$1"
}
GEN=(generate -p "a red circle" --steps 1 -o "$WORK/o.png")

for f in model_index.json transformer/diffusion_pytorch_model.safetensors tokenizer/tokenizer.json \
         text_encoder/model.safetensors scheduler/scheduler_config.json; do
    model_with_fifo "$f"
    refused "FIFO as $f" "is a FIFO or pipe: ditgen reads only regular files" "$WORK/o.png" "${GEN[@]}" -m m
done
# a FIFO as the transformer config is refused by name, not taken for a missing model
model_with_fifo transformer/config.json
refused "FIFO as transformer/config.json" "m/transformer/config.json. is a FIFO or pipe" "$WORK/o.png" "${GEN[@]}" -m m
model_with_fifo transformer/config.json
refused "inspect on a FIFO config" "FIFO" "" inspect m/transformer

mkfifo plan.json jobs.json
refused "FIFO attention plan" "plan.json' is a FIFO" "$WORK/o.png" "${GEN[@]}" -m "$SHIPPED" --attention ./plan.json
refused "FIFO batch file" "jobs.json' is a FIFO" "" batch jobs.json
refused "pipe batch file (/dev/fd/N)" "/dev/fd/.*FIFO or pipe" "" batch <(echo '{"jobs": []}')
refused "character device as weights" "character device" "" inspect /dev/null

exit $fail
