#!/usr/bin/env bash
# ditgen inspect loads every part of a folder as generate does, with human parameter counts, and
# names what it refuses (going on with the other parts) or does not read; healthy parts of every
# form (diffusers folder, original-layout folder, a file with its config beside it or without)
# are reported OK.
# usage: cli_inspect.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_inspect.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
fail=0
source "$TESTS/shell_assert.sh"
TINY=$TESTS/fixtures/wan_tiny
has() { # NAME PATTERN: a line of the last output matches
    grep -q -- "$2" "$WORK/out" || { echo "FAIL $1: no '$2' in: $(cat "$WORK/out")"; fail=1; }
}
lacks() {
    ! grep -q -- "$2" "$WORK/out" || { echo "FAIL $1: '$2' in: $(grep -- "$2" "$WORK/out")"; fail=1; }
}

ok "diffusers folder" inspect "$TINY"
for part in transformer text_encoder tokenizer vae scheduler model_index pipeline; do has "$part section" "^$part:"; done
has "human count" "parameters: 28328 (28.3K)"
has "encoder" "UMT5EncoderModel: 2 layers"
has "vae decoder" "AutoencoderKLWan decoder: z_dim 16"
has "text parts" "d_model 32 = text_dim"
has "every part OK" "result: OK"
lacks "nothing refused" "refused"

ok "shipped model" inspect "$TESTS/../assets/shapes-tiny"
has "rebuilt tokenizer" "T5Tokenizer: rebuilt"
has "shipped count" "parameters: 1115824 (1.1M)"
has "no vae" "^vae: none"

ok "original layout folder" inspect "$TESTS/fixtures/wan_tiny_original"
has "original validated" "validation: OK"

mkdir -p "$WORK/file"
cp "$TINY/transformer/diffusion_pytorch_model.safetensors" "$WORK/file/w.safetensors"
refused "file without config" "the attention heads cannot be inferred" "" inspect "$WORK/file/w.safetensors"
has "inferred" "inferred from the tensor shapes"
cp "$TINY/transformer/config.json" "$WORK/file/config.json"
ok "file with config beside" inspect "$WORK/file/w.safetensors"
has "config beside" "config:     $WORK/file/config.json"
has "file OK" "result: OK"

# a copy of wan_tiny made of links, the parts given as arguments replaced
copy_tiny() {
    rm -rf "$WORK/m"; mkdir "$WORK/m"
    for d in transformer text_encoder tokenizer vae; do mkdir "$WORK/m/$d"; ln -s "$TINY/$d/"* "$WORK/m/$d/"; done
    ln -s "$TINY/model_index.json" "$WORK/m/model_index.json"
}

copy_tiny
rm "$WORK/m/vae/config.json"
sed 's/"z_dim": 16/"z_dim": 8/' "$TINY/vae/config.json" > "$WORK/m/vae/config.json"
refused "VAE of other latent channels" "refused (vae)" "" inspect "$WORK/m"
has "the others still read" "UMT5EncoderModel: 2 layers"
has "vae named" "result: refused (vae)"

copy_tiny
mkdir "$WORK/m/feature_extractor"
ok "unread folder" inspect "$WORK/m"
has "unread named" "not read: $WORK/m/feature_extractor/"
has "index tokenizer class" "not read: model_index.json's tokenizer class T5TokenizerFast"

copy_tiny
rm "$WORK/m/model_index.json"
printf '{"_class_name": "WanPipeline", "transformer": ["diffusers", "WanTransformer3DModel"],\n "image_encoder": ["transformers", "CLIPVisionModel"]}' > "$WORK/m/model_index.json"
refused "unknown component" "component 'image_encoder' (transformers CLIPVisionModel) is not supported" "" inspect "$WORK/m"
printf '{"_class_name": "WanImageToVideoPipeline"}' > "$WORK/m/model_index.json"
refused "other pipeline class" "_class_name 'WanImageToVideoPipeline' is not supported" "" inspect "$WORK/m"
printf '{"_ditgen_defaults": {"steps": 4}}' > "$WORK/m/model_index.json"
refused "unknown default" "_ditgen_defaults.steps is not a known default" "" inspect "$WORK/m"

# a two-expert folder: both transformers read and counted, the boundary in the defaults
ok "Wan2.2 TI2V-5B-style folder" inspect "$TESTS/fixtures/wan22_ti2v_tiny"
has "Wan2.2 VAE" "AutoencoderKLWan decoder (Wan2.2: is_residual, patch_size 2): z_dim 48"
has "TI2V-5B in text-to-video mode" "expand_timesteps: text-to-video"
lacks "TI2V nothing refused" "refused"

ok "two experts" inspect "$TESTS/fixtures/wan_tiny_experts"
has "second transformer read" "^transformer_2: $TESTS/fixtures/wan_tiny_experts/transformer_2"
[ "$(grep -c 'parameters: 28328 (28.3K)' "$WORK/out")" = 2 ] || { echo "FAIL two transformers counted"; fail=1; }
has "boundary shown" "transformer_2 below t = 900 with guidance 2.5"
copy_tiny
mkdir "$WORK/m/transformer_2"; ln -s "$TINY/transformer/"* "$WORK/m/transformer_2/"
rm "$WORK/m/model_index.json"
printf '{"transformer_2": ["diffusers", "WanTransformer3DModel"]}' > "$WORK/m/model_index.json"
refused "second expert without a boundary" "transformer_2 without boundary_ratio would never run" "" inspect "$WORK/m"
printf '{"boundary_ratio": 0.9}' > "$WORK/m/model_index.json"
refused "boundary without a second expert" "boundary_ratio 0.9 without transformer_2" "" inspect "$WORK/m"
printf '{"expand_timesteps": 1}' > "$WORK/m/model_index.json"
refused "expand_timesteps not a boolean" "expand_timesteps" "" inspect "$WORK/m"

# parameter counts as a person reads them, from sparse files of F16 tensors (no config: refused)
big() { # FILE N: one F16 tensor of N elements, its data a hole
    local header="{\"w\":{\"dtype\":\"F16\",\"shape\":[$2],\"data_offsets\":[0,$(($2 * 2))]}}"
    while [ $(( ${#header} % 8 )) -ne 0 ]; do header="$header "; done
    local n=${#header}
    printf "$(printf '\\x%02x\\x%02x' $((n & 255)) $((n >> 8)))\\x00\\x00\\x00\\x00\\x00\\x00%s" "$header" > "$1"
    truncate -s $((8 + n + $2 * 2)) "$1"
}
big "$WORK/b.safetensors" 1420000000
refused "1.42B tensor, no config" "refused (transformer)" "" inspect "$WORK/b.safetensors"
has "billions" "parameters: 1420000000 (1.42B)"
big "$WORK/m.safetensors" 126900000
refused "126.9M tensor, no config" "refused (transformer)" "" inspect "$WORK/m.safetensors"
has "millions" "parameters: 126900000 (126.9M)"
exit $fail
