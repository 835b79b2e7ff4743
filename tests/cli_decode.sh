#!/usr/bin/env bash
# ditgen decode: a latents file decodes to the same frames (and metadata) that generate writes
# directly, with no flag but -o; latents that do not fit the model are refused with one line.
# usage: cli_decode.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_decode.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache
SHAPES=$TESTS/../assets/shapes-tiny
WAN=$TESTS/fixtures/wan_tiny
WAN_RUN=(-m "$WAN" --context "$TESTS/fixtures/wan_tiny_context.safetensors" -W 64 -H 48 --steps 2)
fail=0
source "$TESTS/shell_assert.sh"
cd "$WORK" || exit 1
same() { # name, file a, file b
    if cmp -s "$2" "$3"; then echo "ok   $1"; else echo "FAIL $1: $2 and $3 differ"; fail=1; fi
}

# the shipped model (pixel space): one image
ok "latents" generate -p "a red circle on a blue background" --steps 3 -s 9 --cfg-scale 3.5 -o img.safetensors
ok "decode with no flags but -o" decode img.safetensors -o img_dec.png
ok "the same run to PNG" generate -p "a red circle on a blue background" --steps 3 -s 9 --cfg-scale 3.5 -o img.png
same "decode = generate (pixels and metadata)" img.png img_dec.png
ok "decode --no-metadata" decode img.safetensors --no-metadata -o img_plain.png
refused "no metadata in that output" "no generation parameters" "" metadata img_plain.png

# a model with a VAE: video frames through it, model and size from the file
ok "video latents through a VAE model" generate "${WAN_RUN[@]}" --frames 5 -o vid.safetensors
ok "decode to frames" decode vid.safetensors -o vid_dec_%d.png
ok "the same run to frames" generate "${WAN_RUN[@]}" --frames 5 -o vid_%d.png
for f in 0 2 4; do same "frame $f: decode = generate" "vid_$f.png" "vid_dec_$f.png"; done
if "$DITGEN" --version | grep -q "ffmpeg mp4"; then
    ok "decode to mp4, the recorded fps" decode vid.safetensors -o vid.mp4
    "$DITGEN" metadata vid.mp4 >meta.txt 2>&1
    grep -q "FPS: 16," meta.txt || { echo "FAIL mp4 lacks the recorded parameters: $(cat meta.txt)"; fail=1; }
fi

# refusals: one line, no output
refused "a VAE model's latents with the pixel model" "do not fit the pixel-space output" bad \
    decode vid.safetensors -m "$SHAPES" -o bad_%d.png
refused "pixel latents with a VAE model" "latents \[1, 3, 1, 32, 32\] do not fit the VAE" bad \
    decode img.safetensors -m "$WAN" -o bad.png
refused "several frames into one png" "write .mp4 or a pattern" bad decode vid.safetensors -o bad.png
refused "no -o" "give -o" "" decode img.safetensors
refused "no file" "give a LATENTS" "" decode -o bad.png
refused "bad extension" "must end in .png or .mp4" bad decode img.safetensors -o bad.jpg
refused "missing file" "nothing.safetensors" bad decode nothing.safetensors -o bad.png
refused "embeddings, not latents" "no 'latents' tensor" bad \
    decode "$TESTS/fixtures/wan_tiny_context.safetensors" -m "$WAN" -o bad.png
refused "a file recording no model" "records no model" bad decode "$TESTS/fixtures/wan_tiny_context.safetensors" -o bad.png
printf 'junk' > junk.safetensors
refused "not a safetensors file" "junk.safetensors" bad decode junk.safetensors -m "$SHAPES" -o bad.png
ok "help" decode --help

[ $fail -eq 0 ] && echo "all decode CLI checks passed"
exit $fail
