#!/usr/bin/env bash
# ditgen CLI: a good run writes its output and prints the seed; every kind of
# bad input gets one line on stderr, a non-zero exit and no output file.
# usage: cli_generate.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$1; TESTS=$(cd "$2" && pwd); WORK=$3/cli_generate.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
MODEL=$TESTS/fixtures/wan_tiny
CTX=$TESTS/fixtures/wan_tiny_context.safetensors
BASE=(generate -m "$MODEL" --context "$CTX" -W 64 -H 48 --frames 9 --steps 2)
fail=0

source "$TESTS/shell_assert.sh"

ok "latents run" "${BASE[@]}" -o "$WORK/lat.safetensors"
[ -s "$WORK/lat.safetensors" ] || { echo "FAIL no latents written"; fail=1; }
grep -q "^seed: 42" "$WORK/err" || { echo "FAIL seed not printed"; fail=1; }
ok "random seed" "${BASE[@]}" -s -1 --sampler euler --cfg-scale 1 -o "$WORK/lat2.safetensors"
grep -q "^seed: [0-9]" "$WORK/err" || { echo "FAIL random seed not printed"; fail=1; }
ok "prompt run" generate -m "$MODEL" -p "a red circle" -n "blurry" -W 64 -H 48 --frames 5 --steps 2 -o "$WORK/p.safetensors"
[ -s "$WORK/p.safetensors" ] || { echo "FAIL no latents from a prompt"; fail=1; }
ok "batch count" "${BASE[@]}" -b 2 -s 7 -o "$WORK/bc.safetensors"
[ -s "$WORK/bc_0.safetensors" ] && [ -s "$WORK/bc_1.safetensors" ] && [ ! -e "$WORK/bc.safetensors" ] || { echo "FAIL -b 2 should write bc_0 and bc_1"; fail=1; }
[ "$(grep -c "^\[[12]/2\] seed: [78]$" "$WORK/err")" -eq 2 ] || { echo "FAIL -b 2 -s 7 should print [1/2] seed 7 and [2/2] seed 8"; fail=1; }
# progress: the bar's ETA, the stages and a total
grep -q "ETA 0:0[0-9]" "$WORK/err" && grep -q "^text: read in" "$WORK/err" &&
    grep -q "^total: [0-9.]* s (load [0-9.]*, text [0-9.]*, denoise [0-9.]*, decode [0-9.]*, write [0-9.]*)$" "$WORK/err" ||
    { echo "FAIL progress lacks the ETA, the stages or the total: $(tr '\r' '\n' < "$WORK/err")"; fail=1; }
ok "softpag" "${BASE[@]}" --pag-scale 2 --pag-heads 0:1,1:* --pag-u 0.5 -o "$WORK/pag.safetensors"
grep -q "PAG 2 on 2 head entries" "$WORK/err" || { echo "FAIL PAG not reported: $(grep generating "$WORK/err")"; fail=1; }
ok "attention preset" "${BASE[@]}" --attention sta_wan --steps 3 -o "$WORK/sta.safetensors"
ok "png through the VAE" generate -m "$MODEL" -p "a red circle" -W 64 -H 48 --frames 1 --steps 2 -o "$WORK/img.png"
ok "per-frame pngs" generate -m "$MODEL" -p "a red circle" -W 64 -H 48 --frames 5 --steps 2 -o "$WORK/f_%03d.png"
[ "$(ls "$WORK"/f_*.png 2>/dev/null | wc -l)" -eq 5 ] || { echo "FAIL expected 5 frame PNGs"; fail=1; }
ok "pattern with a literal %" generate -m "$MODEL" -p "a red circle" -W 64 -H 48 --frames 5 --steps 2 -o "$WORK/q%%_%02d.png"
[ "$(ls "$WORK"/q%_0[0-4].png 2>/dev/null | wc -l)" -eq 5 ] || { echo "FAIL expected q%_00.png .. q%_04.png"; fail=1; }
if "$DITGEN" --version | grep -q "ffmpeg mp4"; then
ok "mp4 through the VAE" generate -m "$MODEL" -p "a red circle" -W 64 -H 48 --frames 9 --steps 2 --fps 12 --vae-tile 4 -o "$WORK/v.mp4"
if command -v ffprobe >/dev/null; then
    got=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames -of csv=p=0 "$WORK/v.mp4")
    [ "$got" = "h264,64,48,yuv420p,12/1,9" ] || { echo "FAIL mp4 probe: '$got'"; fail=1; }
    echo "ok   mp4 probe: $got"
else
    echo "skip mp4 probe: no ffprobe"
fi
else
    echo "skip mp4: built without FFmpeg"
fi
ok "shipped default model (README command)" generate -p "a red circle on a blue background" -o "$WORK/shipped.png"
[ -s "$WORK/shipped.png" ] || { echo "FAIL no PNG from the shipped model"; fail=1; }
# encode once, generate from the file: the same latents as from the prompt
ok "encode" encode -p "a red circle on a blue background" -n "blurry" -o "$WORK/emb.safetensors"
ok "generate from a prompt" generate -p "a red circle on a blue background" -n "blurry" -s 3 -o "$WORK/from_p.safetensors"
ok "generate from its embeddings" generate --context "$WORK/emb.safetensors" -s 3 -o "$WORK/from_e.safetensors"
cmp -s "$WORK/from_p.safetensors" "$WORK/from_e.safetensors" || { echo "FAIL --context from encode differs from -p"; fail=1; }
refused "encode without output" "give -p PROMPT and -o" "" encode -p "x"
refused "encode to a png" "must end in .safetensors" "$WORK/e.png" encode -p "x" -o "$WORK/e.png"
refused "encode unwritable" "cannot write" "" encode -p "x" -o /nonexistent-dir/e.safetensors
refused "encode without a text encoder" "tokenizer" "$WORK/e2.safetensors" encode -m "$MODEL/transformer" -p "x" -o "$WORK/e2.safetensors"
# Defaults of the daily loop: output.png / output.mp4 without -o, .png means one frame, a missing
# folder is made, -b numbers a %d pattern, -t 0 is the default thread count.
mkdir -p "$WORK/cwd"
ABS=$(cd "$(dirname "$DITGEN")" && pwd)/$(basename "$DITGEN")
(cd "$WORK/cwd" && "$ABS" generate -p "a red circle" --steps 1 >/dev/null 2>&1) &&
    [ -s "$WORK/cwd/output.png" ] && echo "ok   no -o, one frame: output.png" ||
    { echo "FAIL no -o, one frame: no output.png"; fail=1; }
if "$DITGEN" --version | grep -q "ffmpeg mp4"; then clip=output.mp4; else clip=output_004.png; fi
(cd "$WORK/cwd" && "$ABS" "${BASE[@]}" --frames 5 --steps 1 >/dev/null 2>&1) && [ -s "$WORK/cwd/$clip" ] &&
    echo "ok   no -o, a clip: $clip" || { echo "FAIL no -o, a clip: no $clip"; fail=1; }
ok ".png without --frames is one frame" generate -m "$MODEL" --context "$CTX" -W 64 -H 48 --steps 1 -o "$WORK/one.png"
grep -q "generating 64x48, 1 frame(s)" "$WORK/err" || { echo "FAIL .png without --frames: $(grep generating "$WORK/err")"; fail=1; }
ok "missing folder, -b with %d" generate -m "$MODEL" --context "$CTX" -W 64 -H 48 --steps 1 -b 2 -o "$WORK/new/sub/n_%d.png"
[ -s "$WORK/new/sub/n_0.png" ] && [ -s "$WORK/new/sub/n_1.png" ] && [ "$(ls "$WORK/new/sub" | wc -l)" -eq 2 ] ||
    { echo "FAIL -b 2 -o new/sub/n_%d.png: $(ls -A "$WORK/new/sub" 2>&1)"; fail=1; }
ok "-t 0" "${BASE[@]}" -t 0 --steps 1 -o "$WORK/t0.safetensors"
t0=$(sed -n 's/.*loaded in .* s, \([0-9]*\) threads*$/\1/p' "$WORK/err")
ok "default threads" "${BASE[@]}" --steps 1 -o "$WORK/t.safetensors"
td=$(sed -n 's/.*loaded in .* s, \([0-9]*\) threads*$/\1/p' "$WORK/err")
[ -n "$t0" ] && [ "$t0" = "$td" ] && [ "$t0" -ge 1 ] && [ "$t0" -le "$(nproc)" ] ||
    { echo "FAIL -t 0 ($t0 threads) should be the default ($td), one per physical core (<= $(nproc))"; fail=1; }
# --preview: the last preview of the pixel-space shipped model is the image itself (the same pixels;
# the output adds its parameters chunk after the 33 bytes of signature and IHDR)
ok "preview, pixel space" generate -p "a red circle" --steps 4 --preview "$WORK/pv.png" --preview-every 3 -o "$WORK/pv_out.png"
n=$(($(stat -c %s "$WORK/pv.png") - 33))
[ "$n" -gt 0 ] && cmp -s <(tail -c +34 "$WORK/pv.png") <(tail -c "$n" "$WORK/pv_out.png") &&
    echo "ok   last preview = output" || { echo "FAIL the last preview differs from the output"; fail=1; }
ok "preview through a VAE projection" generate -m "$MODEL" --context "$CTX" -W 64 -H 48 --frames 5 --steps 2 \
    --preview "$WORK/pv_vae.png" -o "$WORK/pv_vae.safetensors"
[ "$(od -An -tx1 -j16 -N8 "$WORK/pv_vae.png" 2>/dev/null | tr -d ' ')" = "0000004000000030" ] &&
    echo "ok   VAE preview is 64x48" || { echo "FAIL VAE preview missing or not 64x48"; fail=1; }
ls -A "$WORK" | grep -q '\.tmp\.' && { echo "FAIL preview left temp files: $(ls -A "$WORK" | grep tmp)"; fail=1; }
refused "preview not png" "--preview 'x.jpg' must end in .png" "" "${BASE[@]}" --preview x.jpg
refused "preview-every without preview" "--preview-every needs --preview" "" "${BASE[@]}" --preview-every 2
ok "inspect" inspect "$MODEL"
ok "help" generate --help
ok "bench help" bench attention --help

O=$WORK/bad.safetensors
refused "unknown flag" "unknown option" "$O" "${BASE[@]}" --bogus -o "$O"
refused "unknown command" "unknown command" "" frobnicate
refused "width not multiple" "--width 72" "$O" "${BASE[@]}" -W 72 -o "$O"
refused "height not multiple" "--height 40" "$O" "${BASE[@]}" -H 40 -o "$O"
refused "frames not 4k+1" "4k+1" "$O" "${BASE[@]}" --frames 8 -o "$O"
refused "zero steps" "--steps" "$O" "${BASE[@]}" --steps 0 -o "$O"
refused "negative steps" "--steps" "$O" "${BASE[@]}" --steps -3 -o "$O"
refused "bad number" "--cfg-scale" "$O" "${BASE[@]}" --cfg-scale 5x -o "$O"
refused "zero batch count" "--batch-count" "$O" "${BASE[@]}" -b 0 -o "$O"
refused "pag scale without heads" "--pag-scale needs --pag-heads" "$O" "${BASE[@]}" --pag-scale 2 -o "$O"
refused "pag heads without scale" "--pag-heads and --pag-u need --pag-scale" "$O" "${BASE[@]}" --pag-heads 0:1 -o "$O"
for heads in "1-2" "a:b" "1:" "1:2," ":3" "1:*x" "0:1,,1:0"; do
    refused "pag heads '$heads'" "LAYER:HEAD pairs" "$O" "${BASE[@]}" --pag-scale 2 --pag-heads "$heads" -o "$O"
done
refused "pag head beyond the model" "9:0 is not a head" "$O" "${BASE[@]}" --pag-scale 2 --pag-heads 9:0 -o "$O"
refused "pag layer beyond the model" "7:\* is not a head" "$O" "${BASE[@]}" --pag-scale 2 --pag-heads 0:0,7:* -o "$O"
refused "pag u zero" "--pag-u" "$O" "${BASE[@]}" --pag-scale 2 --pag-heads 0:0 --pag-u 0 -o "$O"
refused "pag u above one" "--pag-u" "$O" "${BASE[@]}" --pag-scale 2 --pag-heads 0:0 --pag-u 1.5 -o "$O"
refused "bad sampler" "--sampler" "$O" "${BASE[@]}" --sampler ddim -o "$O"
refused "bad extension" "must end in" "$WORK/x.jpg" "${BASE[@]}" -o "$WORK/x.jpg"
touch "$WORK/a_file"
refused "unwritable output" "cannot write '.*a_file/out.safetensors'" "" "${BASE[@]}" \
    -o "$WORK/a_file/out.safetensors"
refused "png for video" "pattern" "$WORK/v.png" "${BASE[@]}" -o "$WORK/v.png"
refused "format string in output" "conversion" "$WORK/fmt_" "${BASE[@]}" -o "$WORK/fmt_%s%n.png"
refused "two frame numbers" "one %d" "$WORK/two_" "${BASE[@]}" -o "$WORK/two_%d_%d.png"
refused "bare percent" "literal" "$WORK/pct_" "${BASE[@]}" --frames 1 -o "$WORK/pct_100%.png"
refused "only a literal percent" "literal" "$WORK/pct2_" "${BASE[@]}" --frames 1 -o "$WORK/pct2_100%%.png"
refused "latents only without vae/" "no vae/" "$WORK/novae.png" generate -m "$MODEL/transformer" --context "$CTX" -W 64 -H 48 --frames 1 --steps 2 -o "$WORK/novae.png"
refused "missing model" "neither" "$O" generate -m "$WORK/nothing" --context "$CTX" -o "$O"
refused "no context" "--context" "$O" generate -m "$MODEL" -o "$O"
refused "cfg without negative" "negative_prompt_embeds" "$O" "${BASE[@]}" --context "$TESTS/fixtures/wan_tiny_context_noneg.safetensors" -o "$O"

# --dtype: how the CPU computes bf16 weights. bf16 (the bf16 GEMM) rounds the activations and so
# changes the latents; f32 matches DG_CPU_BF16=0 bit for bit (latents compared without the
# metadata, which records a --dtype given).
B16=(generate -m "$TESTS/fixtures/wan_tiny_bf16/transformer" --context "$CTX" -W 64 -H 48 --frames 5 --steps 2
     --no-metadata)
ok "bf16 weights, --dtype f32" "${B16[@]}" --dtype f32 -o "$WORK/d32.safetensors"
DG_CPU_BF16=0 "$DITGEN" "${B16[@]}" -o "$WORK/env32.safetensors" 2>/dev/null
cmp -s "$WORK/d32.safetensors" "$WORK/env32.safetensors" || { echo "FAIL --dtype f32 differs from DG_CPU_BF16=0"; fail=1; }
if "$DITGEN" "${B16[@]}" --dtype bf16 -o "$WORK/d16.safetensors" 2>"$WORK/err"; then
    echo "ok   bf16 weights, --dtype bf16"
    cmp -s "$WORK/d32.safetensors" "$WORK/d16.safetensors" && { echo "FAIL --dtype bf16 gave the f32 latents"; fail=1; }
    ok "bf16 is the default here" "${B16[@]}" -o "$WORK/ddef.safetensors"
    cmp -s "$WORK/d16.safetensors" "$WORK/ddef.safetensors" || { echo "FAIL default differs from --dtype bf16"; fail=1; }
    # f32 weights asked for bf16: the blocks' matrices are rounded once, so the latents change
    F32=(generate -m "$TESTS/fixtures/wan_tiny/transformer" --context "$CTX" -W 64 -H 48 --frames 5 --steps 2
         --no-metadata)
    ok "f32 weights, default dtype" "${F32[@]}" -o "$WORK/f32def.safetensors"
    ok "f32 weights, --dtype bf16" "${F32[@]}" --dtype bf16 -o "$WORK/f32b.safetensors"
    cmp -s "$WORK/f32def.safetensors" "$WORK/f32b.safetensors" && { echo "FAIL --dtype bf16 left an f32 model in f32"; fail=1; }
    # the dtype given is recorded, and --from runs it again
    SHIPPED=(generate -m "$TESTS/../assets/shapes-tiny" -p "a red circle on a blue background" -t 1)
    ok "shipped model, --dtype bf16" "${SHIPPED[@]}" --dtype bf16 -o "$WORK/sb.png"
    ok "metadata of a bf16 run" metadata "$WORK/sb.png"
    grep -q ", Dtype: bf16, " "$WORK/out" || { echo "FAIL metadata lacks the dtype: $(tail -1 "$WORK/out")"; fail=1; }
    ok "--from a bf16 run" generate --from "$WORK/sb.png" -t 1 -o "$WORK/sb2.png"
    cmp -s "$WORK/sb.png" "$WORK/sb2.png" || { echo "FAIL --from of a bf16 run differs"; fail=1; }
    ok "shipped model, default dtype" "${SHIPPED[@]}" -o "$WORK/sdef.png"
    ok "metadata of a default run" metadata "$WORK/sdef.png"
    grep -q "Dtype:" "$WORK/out" && { echo "FAIL a run without --dtype records one"; fail=1; }
else
    grep -q -- "--dtype bf16: needs a CPU with AVX512-BF16" "$WORK/err" || { echo "FAIL --dtype bf16: $(cat "$WORK/err")"; fail=1; }
    echo "skip --dtype bf16: $(tail -1 "$WORK/err")"
fi
refused "bad --dtype" "--dtype 'f64': expected f32 or bf16" "$O" "${BASE[@]}" --dtype f64 -o "$O"

refused "prompt and context" "exactly one" "$O" "${BASE[@]}" -p "x" -o "$O"
refused "prompt without text encoder" "tokenizer" "$O" generate -m "$MODEL/transformer" -p "x" -W 64 -H 48 --frames 5 -o "$O"
mkdir -p "$WORK/mismatch"
ln -s "$MODEL/transformer" "$WORK/mismatch/transformer"
ln -s "$MODEL/tokenizer" "$WORK/mismatch/tokenizer"
ln -s "$TESTS/fixtures/umt5_tiny" "$WORK/mismatch/text_encoder"
refused "tokenizer/encoder vocab mismatch" "vocabulary" "$O" generate -m "$WORK/mismatch" -p "x" -W 64 -H 48 --frames 5 -o "$O"
printf '\xff\xfe' > "$WORK/badutf8"
refused "invalid UTF-8 prompt" "UTF-8" "$O" generate -m "$MODEL" -p "$(cat "$WORK/badutf8")" -W 64 -H 48 --frames 5 -o "$O"

refused "unknown device" "unknown device" "$O" "${BASE[@]}" --device tpu -o "$O"
refused "cuda without a GPU" "cuda" "$O" "${BASE[@]}" --device cuda -o "$O"
refused "unknown attention preset" "nosuch" "$O" "${BASE[@]}" --attention nosuch -o "$O"
printf '{"method": "radial", "dense_layers": [7]}' > "$WORK/plan.json"
refused "plan naming a missing layer" "dense_layers" "$O" "${BASE[@]}" --attention "$WORK/plan.json" -o "$O"
printf '{"method": "warp"}' > "$WORK/plan2.json"
refused "unknown attention method" "warp" "$O" "${BASE[@]}" --attention "$WORK/plan2.json" -o "$O"

# defaults from the folder: scheduler_config.json and model_index.json's _ditgen_defaults
D=$WORK/defaults; mkdir -p "$D/scheduler"
for part in transformer tokenizer text_encoder; do ln -s "$MODEL/$part" "$D/$part"; done
printf '{"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 5.0}' > "$D/scheduler/scheduler_config.json"
printf '{"_class_name": "WanPipeline", "_ditgen_defaults": {"width": 64, "height": 48, "num_frames": 5, "num_inference_steps": 2, "guidance_scale": 2.0}}' > "$D/model_index.json"
ok "folder defaults" generate -m "$D" -p "a red circle" -o "$WORK/d.safetensors"
grep -q "generating 64x48, 5 frame(s), .*2 steps (euler, cfg 2, shift 5)" "$WORK/err" || { echo "FAIL defaults not applied: $(grep generating "$WORK/err")"; fail=1; }
ok "flags override defaults" generate -m "$D" -p "a red circle" --steps 3 --sampler unipc -o "$WORK/d2.safetensors"
grep -q "3 steps (unipc, cfg 2, shift 5)" "$WORK/err" || { echo "FAIL flags did not override: $(grep generating "$WORK/err")"; fail=1; }
printf '{"_class_name": "DDIMScheduler"}' > "$D/scheduler/scheduler_config.json"
refused "unsupported scheduler" "DDIMScheduler" "$O" generate -m "$D" -p "x" -o "$O"
printf '{"_class_name": "UniPCMultistepScheduler", "prediction_type": "flow_prediction", "use_flow_sigmas": true, "use_karras_sigmas": true}' > "$D/scheduler/scheduler_config.json"
refused "scheduler option ditgen cannot follow" "scheduler_config.json: use_karras_sigmas true is not supported" "$O" generate -m "$D" -p "x" -o "$O"
printf '{"_class_name": "FlowMatchEulerDiscreteScheduler"}' > "$D/scheduler/scheduler_config.json"
printf '{"_ditgen_defaults": {"num_frames": 0}}' > "$D/model_index.json"
refused "bad folder default" "num_frames" "$O" generate -m "$D" -p "x" -o "$O"
printf '{"_class_name": "WanPipeline", "transformer_2": ["diffusers", "WanTransformer3DModel"], "boundary_ratio": 0.875}' > "$D/model_index.json"
refused "two-expert folder without transformer_2/" "transformer_2 has no config.json" "$O" generate -m "$D" -p "x" -o "$O"
printf '{"_class_name": "WanPipeline", "boundary_ratio": 0.9}' > "$D/model_index.json"
refused "boundary without a second expert" "boundary_ratio 0.9 without transformer_2 is not supported" "$O" generate -m "$D" -p "x" -o "$O"

# a size the RoPE range allows but the memory does not: refused before anything is allocated
R=$WORK/bigrope; mkdir -p "$R"
sed 's/"rope_max_seq_len": 32/"rope_max_seq_len": 100000/' "$MODEL/transformer/config.json" > "$R/config.json"
ln -s "$MODEL/transformer/diffusion_pytorch_model.safetensors" "$R/"
refused "size beyond memory" "GiB" "$O" generate -m "$R" --context "$CTX" -W 16384 -H 16384 --frames 9997 -o "$O"
refused "unknown short option in a cluster" "unknown option '-x'" "$O" "${BASE[@]}" -xo "$O"
refused "seed past the end" "largest seed" "$O" "${BASE[@]}" -s 9223372036854775807 -b 2 -o "$O"
refused "pag-u alone" "need --pag-scale" "$O" "${BASE[@]}" --pag-u 0.5 -o "$O"

# hostile checkpoints for inspect
printf 'abc' > "$WORK/short.safetensors"
refused "truncated safetensors" "short.safetensors" "" inspect "$WORK/short.safetensors"
head -c 2000 "$MODEL/transformer/diffusion_pytorch_model.safetensors" > "$WORK/cut.safetensors"
refused "cut safetensors" "cut.safetensors" "" inspect "$WORK/cut.safetensors"
exit $fail
