#!/usr/bin/env bash
# The step limit (sampler/scheduler.h's DG_SCHEDULER_MAX_STEPS, 1000) is one number: --steps beyond
# it, in generate, bench generate, a batch job or a model folder's defaults, is refused up front
# with one line, before any denoising (in a batch: before the first job runs).
# usage: cli_steps.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_steps.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
MODEL=$TESTS/fixtures/wan_tiny
CTX=$TESTS/fixtures/wan_tiny_context.safetensors
BASE=(generate -m "$MODEL" --context "$CTX" -W 64 -H 48 --frames 5)
fail=0
source "$TESTS/shell_assert.sh"
cd "$WORK" || exit 1

refused "generate --steps 1001" "--steps expects an integer in 1..1000, got '1001'" result "${BASE[@]}" --steps 1001 -o result.safetensors
refused "generate --steps 2000" "--steps expects an integer in 1..1000" result "${BASE[@]}" --steps 2000 -o result.safetensors
refused "bench generate --steps 2000" "--steps expects an integer in 1..1000" bench_result \
    bench generate -m "$MODEL" --context "$CTX" --steps 2000 --out-dir bench_result

cat > jobs.json <<JSON
{"model": "$MODEL", "defaults": {"context": "$CTX", "width": 64, "height": 48, "frames": 5, "steps": 2},
 "jobs": [{"output": "first.safetensors"}, {"output": "second.safetensors", "steps": 2000}]}
JSON
refused "batch job 2 with 2000 steps, before job 1 runs" "jobs.json job 2: --steps expects an integer in 1..1000" \
    first batch jobs.json
[ -e second.safetensors ] && { echo "FAIL second.safetensors written"; fail=1; }

D=$WORK/defaults; mkdir -p "$D"
ln -s "$MODEL/transformer" "$D/transformer"
printf '{"_class_name": "WanPipeline", "_ditgen_defaults": {"num_inference_steps": 2000}}' > "$D/model_index.json"
refused "folder default of 2000 steps" "_ditgen_defaults.num_inference_steps = 2000 outside 1..1000" result \
    generate -m "$D" --context "$CTX" -W 64 -H 48 --frames 5 -o result.safetensors
exit $fail
