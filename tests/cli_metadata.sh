#!/usr/bin/env bash
# Generation metadata that round-trips: the parameters recorded in PNGs, MP4s and latents
# files (A1111 infotext, JSON-quoted values, model by folder name and weight hash, version),
# `ditgen metadata`, `generate --from` (the same PNG bytes again), `--no-metadata`.
# usage: cli_metadata.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_metadata.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache
SHAPES=$TESTS/../assets/shapes-tiny
WAN=$TESTS/fixtures/wan_tiny
fail=0
source "$TESTS/shell_assert.sh"
cd "$WORK" || exit 1
check() { # name, condition...
    local name=$1; shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}

# PAG heads hold ',' and ':': the value is JSON-quoted and parses back whole
ok "png with PAG" generate -p "a red circle, on the left" --steps 3 -s 5 --cfg-scale 4.25 --pag-scale 1.5 \
    --pag-heads "1:1,3:*" --pag-u 0.5 -o pag.png
ok "metadata" metadata pag.png
check "prompt on the first line" [ "$(head -1 out)" = "a red circle, on the left" ]
params=$(tail -1 out)
check "PAG heads quoted" grep -q 'PAG heads: "1:1,3:\*"' <<<"$params"
check "float kept exactly" grep -q 'CFG scale: 4.25,' <<<"$params"
check "version and commit" grep -Eq 'Version: ditgen [0-9]+\.[0-9]+\.[0-9]+ \(([0-9a-f]{7,}|unknown)\)$' <<<"$params"
check "model by folder name" grep -q 'Model: shapes-tiny,' <<<"$params"
check "no absolute path" bash -c "! grep -q '$TESTS' out"
if command -v sha256sum >/dev/null; then
    want=$(sha256sum "$SHAPES/transformer/diffusion_pytorch_model.safetensors" | cut -c1-10)
    check "model hash = sha256 of the transformer weights" grep -q "Model hash: $want," <<<"$params"
fi
check "hash cached" grep -q "shapes-tiny/transformer" "$XDG_CACHE_HOME/ditgen/model_hashes.txt"
ok "metadata --json" metadata pag.png --json
check "json parses back the quoted value" grep -q '"PAG heads":[[:space:]]*"1:1,3:\*"' out
check "json prompt" grep -q '"prompt":[[:space:]]*"a red circle, on the left"' out

# --from makes the same file again, byte for byte; later flags win
ok "generate --from" generate --from pag.png -o again.png
check "--from gives the same PNG bytes" cmp -s pag.png again.png
ok "--from with another seed" generate --from pag.png -s 6 -o seed6.png
check "the given seed wins" bash -c "'$DITGEN' metadata seed6.png | grep -q 'Seed: 6,'"
check "another seed, another picture" bash -c "! cmp -s pag.png seed6.png"

# --no-metadata
ok "--no-metadata" generate -p "a red circle" --steps 2 --no-metadata -o plain.png
refused "metadata of a file without" "no generation parameters" "" metadata plain.png
refused "--from a file without" "no generation parameters" nothing generate --from plain.png -o nothing.png
ok "with metadata" generate -p "a red circle" --steps 2 -o meta.png
check "--no-metadata only drops the text" bash -c "[ \$(stat -c %s plain.png) -lt \$(stat -c %s meta.png) ]"

# --context: the prompt the embeddings file records
ok "encode" encode -p "a blue square at the top, white background" -n "blurry" -o emb.safetensors
ok "context run" generate --context emb.safetensors --steps 3 -o ctx.png
ok "metadata of a context run" metadata ctx.png
check "context prompt recorded" [ "$(head -1 out)" = "a blue square at the top, white background" ]
check "context negative recorded" grep -q "^Negative prompt: blurry$" out
ok "--from a context run" generate --from ctx.png -o ctx2.png
check "--from a context run: same bytes" cmp -s ctx.png ctx2.png

# latents and videos carry the same text
ok "latents" generate -p "a red circle" --steps 2 -o lat.safetensors
ok "metadata of latents" metadata lat.safetensors
check "latents record the parameters" grep -q "Steps: 2, Sampler: unipc" out
if "$DITGEN" --version | grep -q "ffmpeg mp4"; then
    ok "mp4" generate -p "a green triangle moving up" --frames 5 --steps 2 --fps 6 -o v.mp4
    ok "metadata of an mp4" metadata v.mp4
    check "mp4 comment holds the parameters" grep -q "Frames: 5, FPS: 6," out
    cp out v.txt
    ok "--from an mp4" generate --from v.mp4 -o v2.mp4
    "$DITGEN" metadata v2.mp4 > v2.txt 2>/dev/null
    check "--from an mp4: same parameters" cmp -s v.txt v2.txt
fi

# refusals
refused "metadata of a missing file" "nothing.png" "" metadata nothing.png
refused "metadata of another kind" ".png, .mp4 and .safetensors" "" metadata jobs.json
printf 'not a png' > bad.png
refused "metadata of a non-PNG" "not a PNG" "" metadata bad.png
refused "--from without -o" "give -o" "" generate --from pag.png
refused "--from with another model" "made with model shapes-tiny" nothing generate --from pag.png -m "$WAN" -o nothing.png
ok "help" metadata --help

[ $fail -eq 0 ] && echo "all metadata CLI checks passed"
exit $fail
