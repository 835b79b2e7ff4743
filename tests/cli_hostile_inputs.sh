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

TINY=$TESTS/fixtures/wan_tiny
TINY_CTX=$TESTS/fixtures/wan_tiny_context.safetensors
# A copy of model $1 (default the shipped one) in m/ made of links.
model_links() {
    local src=${1:-$SHIPPED}
    rm -rf m; mkdir m
    (cd "$src" && find -L . -type d) | while read -r d; do mkdir -p "m/$d"; done
    (cd "$src" && find -L . -type f) | while read -r f; do ln -s "$src/$f" "m/$f"; done
}
# ... with one file replaced by a FIFO.
model_with_fifo() { # relative path inside the model
    model_links; rm "m/$1"; mkfifo "m/$1"
}
# Copies safetensors file $1 to $2 with 16 bytes of NaN (0xff) at byte $3 of its data section.
nan_safetensors() {
    local hlen; hlen=$(od -An -tu8 -N8 "$1" | tr -d ' ')
    cp "$1" "$2"; chmod u+w "$2"
    head -c 16 /dev/zero | tr '\0' '\377' | dd of="$2" bs=1 seek=$((8 + hlen + $3)) conv=notrunc status=none
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

# Outputs are checked before the model loads: a directory where the file would go.
mkdir -p "$WORK/isdir.png"
refused "output is a directory" "output path '.*isdir.png' is an existing directory" "" "${GEN[@]/$WORK\/o.png/$WORK/isdir.png}"

# Non-finite values never become an all-black image with exit 0.
nan_safetensors "$TINY_CTX" nan_ctx.safetensors 896 # prompt_embeds follows the negative's 896 bytes
refused "NaN in --context" "nan_ctx.safetensors: 'prompt_embeds' holds NaN at token 0, channel 0" "$WORK/nan.png" \
    generate -m "$TINY" --context nan_ctx.safetensors -W 64 -H 48 --frames 1 --steps 2 -o "$WORK/nan.png"
model_links "$TINY"; rm m/transformer/diffusion_pytorch_model.safetensors
nan_safetensors "$TINY/transformer/diffusion_pytorch_model.safetensors" m/transformer/diffusion_pytorch_model.safetensors 0
"$DITGEN" generate -m m --context "$TINY_CTX" -W 64 -H 48 --frames 1 --steps 2 -o "$WORK/nan.png" 2>"$WORK/err"
rc=$?
if [ $rc -eq 0 ] || [ $rc -ge 128 ] || [ -e "$WORK/nan.png" ] ||
   ! grep -q "step 1 of 2: the transformer's cond (prompt) pass gave non-finite values" "$WORK/err"; then
    echo "FAIL NaN weights: exit $rc: $(tail -1 "$WORK/err")"; fail=1
else echo "ok   NaN weights: $(tail -1 "$WORK/err")"
fi
model_links; rm m/scheduler/scheduler_config.json
sed 's/"flow_shift": 3.0/"flow_shift": 1e6/' "$SHIPPED/scheduler/scheduler_config.json" > m/scheduler/scheduler_config.json
refused "shift out of range in scheduler_config.json" "scheduler_config.json: .*flow.shift 1e+06 is outside 0.001..1000" \
    "$WORK/o.png" "${GEN[@]}" -m m
# Messages name the real cause.
refused "prompt to a transformer folder" "is a transformer folder, without the tokenizer/ and text_encoder/" \
    "$WORK/o.png" "${GEN[@]}" -m "$TINY/transformer"
model_links; rm m/model_index.json
sed 's/"negative_prompt": ""/"negative_prompt": "bad \xff byte"/' "$SHIPPED/model_index.json" > m/model_index.json
refused "bad default negative prompt" "default negative prompt (m/model_index.json, _ditgen_defaults.negative_prompt)" \
    "$WORK/o.png" "${GEN[@]}" -m m
# Memory is checked against the address-space limit too, counting the VAE decode.
if (ulimit -v $((64 << 20)); "$DITGEN" --help >/dev/null 2>&1); then
    floor=
    for mib in 1024 1280 1536; do
        [ -n "$floor" ] || floor=$( (ulimit -v $((mib << 10)); "$DITGEN" "${GEN[@]}" 2>&1) |
                                    sed -n 's/.*needs at least \([0-9]*\) MiB.*/\1/p')
    done
    if [ -n "$floor" ]; then
        (ulimit -v $(((floor + 300) << 10))
         refused "decode past ulimit -v" "--vae-tile 32 bounds the decode), more than .* the address-space limit (ulimit -v" "$WORK/big_" \
             generate -m "$TINY" --context "$TINY_CTX" -W 512 -H 512 --frames 125 --steps 1 -o "$WORK/big_%03d.png"
         exit $fail) || fail=1
    else echo "FAIL no address-space floor named under ulimit -v 1024..1536 MiB"; fail=1
    fi
else echo "skip ulimit -v: this build cannot run under one"
fi

exit $fail
