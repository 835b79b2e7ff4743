#!/usr/bin/env bash
# ditgen bench generate: the table, the files in --out-dir, JSON output, a
# method that really differs from dense, medians of --repeat runs, the model's
# defaults, presets that do not engage or do not fit the size, a method that
# fails, and refusals of bad flags (one line on stderr, exit 2, nothing created).
# usage: cli_bench_generate.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$1; TESTS=$(cd "$2" && pwd); WORK=$3/cli_bench_generate.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
MODEL=$TESTS/fixtures/wan_tiny
BASE=(bench generate -m "$MODEL" -p "a red circle" -W 64 -H 48 --frames 5 --steps 3 -t 1)
fail=0
bad() { echo "FAIL $*"; fail=1; }

# The specified run. The presets keep their first 12 steps dense, so with 3
# steps they reproduce dense exactly (latent PSNR inf) and never engage: their
# rows say so and claim no speedup. Times: the median of 2 runs after 1 warm-up.
OUT=$WORK/out
"$DITGEN" "${BASE[@]}" --methods dense,sta_wan,radial_wan --warmup 1 --repeat 2 --out-dir "$OUT" \
    >"$WORK/table" 2>"$WORK/err" || bad "run: exit $? ($(tail -1 "$WORK/err"))"
cat "$WORK/table"
grep -q "^method .*total_s .*text_s .*denoise_s .*model_s .*attn_s .*attn_% .*speedup .*attn_speedup .*latent_PSNR .*SSIM  note$" \
    "$WORK/table" || bad "table header"
grep -q "Compared on latents" "$WORK/table" || bad "latent comparison not stated"
grep -q "^times: median of 2 timed runs after 1 warm-up run$" "$WORK/table" || bad "median of 2 runs not stated"
grep -q "dense .*warm-up 1/1 .*step 3/3" "$WORK/err" && grep -q "sta_wan .*run 2/2 .*step 3/3" "$WORK/err" ||
    bad "not 1 warm-up and 2 timed runs per method: $(cat "$WORK/err")"
grep -Eq "^dense +[0-9]+\.[0-9]{3} +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +1\.00x +1\.00x +inf +-  reference$" \
    "$WORK/table" || bad "row for dense"
for m in sta_wan radial_wan; do
    grep -Eq "^$m +[0-9]+\.[0-9]{3} +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +- +- +inf +-  not engaged: dense attention at all 3 steps$" \
        "$WORK/table" || bad "row for $m (not engaged, no speedup)"
done
[ "$(grep -c '^[a-z_]* *[0-9]' "$WORK/table")" -eq 3 ] || bad "expected 3 method rows"
head -c 8 "$OUT/grid.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || bad "grid.png is not a PNG"
# 3 cells of the 8x6 latent preview at scale 24 (192x144) under two label lines (20 px), 4 px gaps: 592x172
[ "$(od -An -tu1 -j16 -N8 "$OUT/grid.png" | tr -s ' ')" = " 0 0 2 80 0 0 0 172" ] || bad "grid.png is not 592x172"
grep -q "<svg" "$OUT/chart.svg" && grep -q ">dense<" "$OUT/chart.svg" || bad "chart.svg"
grep -q ">radial_wan<" "$OUT/chart.svg" && bad "chart.svg draws radial_wan, which did not engage"
grep -q "^ditgen bench generate -m $MODEL -p 'a red circle' " "$OUT/results.md" || bad "results.md lacks the command"
grep -q "^| sta_wan | [0-9.]* |.*| - | - | inf | - | not engaged: .* |$" "$OUT/results.md" ||
    bad "results.md lacks the sta_wan row"
grep -q "median of 2 timed runs" "$OUT/results.md" || bad "results.md does not say what the times are"
grep -q "grid.png" "$OUT/results.md" || bad "results.md lacks the grid"
[ ! -e "$OUT/grid.mp4" ] || bad "grid.mp4 written for a latent model"
ls -A "$OUT" | grep -q "^\." && bad "temp files left in the out dir: $(ls -A "$OUT")"

# JSON: inf PSNR is null with "identical": true; a preset not engaged has a
# null speedup; NAME.json is the preset NAME; grat_x (groups of 4 latent
# frames) does not fit 2 latent frames: skipped with the reason, exit 0.
"$DITGEN" "${BASE[@]}" --methods sta_wan.json,grat_x --warmup 0 --repeat 1 --out-dir "$OUT" --format json \
    >"$WORK/json" 2>"$WORK/err" || bad "json run: exit $? ($(tail -1 "$WORK/err"))"
grep -q "grat_x .*skipped: .*grat_x.json: grat: " "$WORK/err" || bad "no skip line for grat_x: $(cat "$WORK/err")"
if command -v python3 >/dev/null; then
    python3 - "$WORK/json" <<'EOF' || bad "json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["compare"] == "latents" and d["latent_range"] > 0, d
assert d["warmup"] == 0 and d["repeat"] == 1 and d["times"] == "median", d
assert [m["method"] for m in d["methods"]] == ["dense", "sta_wan", "grat_x"], d
for m in d["methods"][:2]:
    assert m["status"] == "ran" and m["runs"] == 1, m
    assert m["psnr"] is None and m["identical"] is True and m["ssim"] is None, m
    assert m["denoise_s"] > 0, m
dense, sta, grat = d["methods"]
assert dense["speedup"] == 1 and dense["engaged"] is True, dense
assert sta["engaged"] is False and sta["sparse_steps"] == 0 and sta["speedup"] is None, sta
assert sta["attention_speedup"] is None and "not engaged" in sta["note"], sta
assert grat["status"] == "skipped" and "total_s" not in grat, grat
assert "group[0]=4" in grat["reason"] and "needs t >= 5 (17 frames or more)" in grat["reason"], grat
EOF
fi
grep -q "^| grat_x | skipped |.*| skipped: .*grat: " "$OUT/results.md" || bad "results.md lacks the skipped grat_x"

# No size flags: the model folder's defaults, as ditgen generate (shapes-tiny:
# 32x32, 1 frame, 20 steps, cfg 4).
"$DITGEN" bench generate -m "$TESTS/../assets/shapes-tiny" -p "a red circle" -t 1 --methods dense --warmup 0 \
    --repeat 1 --out-dir "$WORK/out5" >"$WORK/table5" 2>"$WORK/err" || bad "defaults run: exit $? ($(tail -1 "$WORK/err"))"
grep -q ", 32x32, 1 frame(s), 20 steps (unipc, cfg 4, shift 3), " "$WORK/table5" ||
    bad "the model's defaults not used: $(head -1 "$WORK/table5")"

# A preset with no dense steps really differs: a finite latent PSNR, a speedup,
# a bar in the chart. A preset whose kernel is larger than the canvas is listed
# by 'all' as skipped, and the run exits 0. (dense is built in, so this configs
# folder needs no dense.json.)
mkdir -p "$WORK/configs/attention"
printf '{"method": "sta", "params": {"tile": [1, 2, 2], "window": [1, 1, 1], "partial_tiles": true}}' \
    >"$WORK/configs/attention/sta_now.json"
printf '{"method": "natten", "params": {"kernel_size": [2, 8, 8]}}' >"$WORK/configs/attention/natten_big.json"
DITGEN_CONFIG_DIR=$WORK/configs "$DITGEN" "${BASE[@]}" --methods all --warmup 0 --repeat 1 --out-dir "$WORK/out2" \
    >"$WORK/table2" 2>"$WORK/err" || bad "sparse run: exit $? ($(tail -1 "$WORK/err"))"
grep -Eq "^sta_now .* [0-9.]+x +[0-9.]+x +[0-9]+\.[0-9]{2} +-  sparse in 3 of 3 steps$" "$WORK/table2" ||
    bad "no finite PSNR or speedup for sta_now: $(cat "$WORK/table2")"
grep -q "^natten_big  *skipped .*skipped: .*natten_big.json: natten: .*needs h >= 8 (128 pixels high or more)$" "$WORK/table2" ||
    bad "natten_big not skipped with its reason: $(cat "$WORK/table2")"
grep -q ">sta_now<" "$WORK/out2/chart.svg" && ! grep -q ">natten_big<" "$WORK/out2/chart.svg" ||
    bad "chart.svg: sta_now drawn, natten_big not"
# a path to a plan file is accepted, named by the file
"$DITGEN" "${BASE[@]}" --methods "$WORK/configs/attention/sta_now.json" --warmup 0 --repeat 1 --out-dir "$WORK/out2" \
    >"$WORK/table2" 2>"$WORK/err" || bad "plan path run: exit $? ($(tail -1 "$WORK/err"))"
grep -q "^sta_now .*sparse in 3 of 3 steps$" "$WORK/table2" || bad "plan path: $(cat "$WORK/table2")"

# A method that fails (a broken plan file) is reported; the others still are; exit 1.
printf '{"method": "sta", "colour": 1}' >"$WORK/configs/attention/broken.json"
DITGEN_CONFIG_DIR=$WORK/configs "$DITGEN" "${BASE[@]}" --methods broken,sta_now --warmup 0 --repeat 1 \
    --out-dir "$WORK/out3" >"$WORK/table3" 2>"$WORK/err"
rc=$?
[ $rc -eq 1 ] || bad "failing method: exit $rc, want 1"
grep -q "^broken .*failed .*failed: .*unknown key 'colour'" "$WORK/table3" || bad "broken failure not in the table"
grep -q "^sta_now .*sparse in 3 of 3 steps$" "$WORK/table3" || bad "sta_now missing after a failure"
[ -s "$WORK/out3/results.md" ] && [ -s "$WORK/out3/grid.png" ] || bad "no report after a failed method"

"$DITGEN" bench generate --help | grep -q "usage: ditgen bench generate" || bad "help"
"$DITGEN" bench --help | grep -q "generate" || bad "bench usage lacks generate"

BAD=("${BASE[@]}" --out-dir "$WORK/never")
refused() { # name, expected stderr substring, args...
    local name=$1 want=$2; shift 2
    "$DITGEN" "$@" >"$WORK/stdout" 2>"$WORK/err"
    local rc=$?
    if [ $rc -ne 2 ]; then bad "$name: exit $rc, want 2"
    elif ! grep -q -- "$want" "$WORK/err"; then bad "$name: stderr lacks '$want': $(cat "$WORK/err")"
    elif [ "$(grep -c . "$WORK/err")" -ne 1 ]; then bad "$name: not one line on stderr: $(cat "$WORK/err")"
    elif [ -e "$WORK/never" ]; then bad "$name: created the out dir"
    else echo "ok   $name: $(cat "$WORK/err")"
    fi
}
refused "unknown flag" "unknown option" "${BAD[@]}" --bogus
refused "unknown method" "no preset 'nosuch' .*; presets: dense, grat_x, natten_gna, radial_wan, sta_wan$" \
    "${BAD[@]}" --methods dense,nosuch
refused "unknown NAME.json" "no preset 'nosuch' .*; presets: dense, " "${BAD[@]}" --methods nosuch.json
refused "missing plan file" "cannot read attention plan '../x'" "${BAD[@]}" --methods "../x"
refused "bad method name" "a preset name has only" "${BAD[@]}" --methods "Sta"
refused "empty method" "empty preset name" "${BAD[@]}" --methods "sta_wan,"
refused "method twice" "listed twice" "${BAD[@]}" --methods sta_wan,sta_wan
refused "bad format" "--format" "${BAD[@]}" --format xml
refused "bad steps" "--steps" "${BAD[@]}" --steps 0
refused "bad repeat" "--repeat" "${BAD[@]}" --repeat 0
refused "bad warmup" "--warmup" "${BAD[@]}" --warmup -1
refused "bad sampler" "--sampler" "${BAD[@]}" --sampler ddim
refused "missing value" "needs a value" "${BAD[@]}" --methods
refused "no model" "-m" bench generate -p x --out-dir "$WORK/never"
refused "prompt and context" "exactly one" "${BAD[@]}" --context "$TESTS/fixtures/wan_tiny_context.safetensors"
refused "stray argument" "unexpected argument" "${BAD[@]}" extra
refused "unknown cache" "no preset" "${BAD[@]}" --caches nocache
refused "method with an unknown cache" "no preset" "${BAD[@]}" --methods dense+nocache
refused "empty cache" "no cache preset after" "${BAD[@]}" --methods dense+

# Step caching rows: dense with each --caches preset, against dense without one. The shipped model
# reuses steps at 50 steps (a speedup and a finite PSNR); a METHOD+CACHE whose cache reuses nothing
# on the random fixture is not engaged.
SHAPES=$TESTS/../assets/shapes-tiny
"$DITGEN" bench generate -m "$SHAPES" -p "a red circle on a blue background" --steps 50 -t 1 --warmup 0 --repeat 1 \
    --methods dense --caches fbcache --format json --out-dir "$WORK/cache" >"$WORK/cache.json" 2>"$WORK/err" ||
    bad "cache rows: exit $? ($(tail -1 "$WORK/err"))"
grep -Eq '"method": "dense\+fbcache", "status": "ran", "engaged": true, "sparse_steps": 0, "steps_reused": [1-9][0-9]*, "note": "reused [0-9]+ of 50 steps"' \
    "$WORK/cache.json" || bad "dense+fbcache row: $(grep fbcache "$WORK/cache.json")"
grep 'dense+fbcache' "$WORK/cache.json" | grep -Eq '"speedup": [0-9.]+, .*"psnr": [0-9.]+,' ||
    bad "dense+fbcache has no speedup or finite PSNR: $(grep fbcache "$WORK/cache.json")"
"$DITGEN" "${BASE[@]}" --warmup 0 --repeat 1 --methods dense+fbcache --out-dir "$WORK/cache2" >"$WORK/table" 2>"$WORK/err" ||
    bad "dense+fbcache on the fixture: exit $?"
grep -Eq "^dense\+fbcache .* - +- .*not engaged: dense attention and no step reused at all 3 steps" "$WORK/table" ||
    bad "a cache that reused nothing: $(grep fbcache "$WORK/table")"

"$DITGEN" "${BASE[@]}" --methods sta_wan --out-dir /nonexistent-dir/x >/dev/null 2>"$WORK/err"
rc=$?
[ $rc -eq 1 ] && grep -q "cannot create --out-dir" "$WORK/err" || bad "unwritable out dir: exit $rc: $(cat "$WORK/err")"
"$DITGEN" "${BASE[@]}" -W 72 --methods sta_wan --out-dir "$WORK/out4" >/dev/null 2>"$WORK/err"
rc=$?
[ $rc -eq 1 ] && grep -q -- "--width 72" "$WORK/err" || bad "bad geometry: exit $rc: $(cat "$WORK/err")"
exit $fail
