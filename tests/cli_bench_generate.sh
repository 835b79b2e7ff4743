#!/usr/bin/env bash
# ditgen bench generate: the table, the files in --out-dir, JSON output, a
# method that really differs from dense, a method that fails, and refusals of
# bad flags (one line on stderr, exit 2, nothing created).
# usage: cli_bench_generate.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$1; TESTS=$(cd "$2" && pwd); WORK=$3/cli_bench_generate.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
MODEL=$TESTS/fixtures/wan_tiny
BASE=(bench generate -m "$MODEL" -p "a red circle" -W 64 -H 48 --frames 5 --steps 3 -t 1)
fail=0
bad() { echo "FAIL $*"; fail=1; }

# The specified run. The presets keep their first 12 steps dense, so with 3
# steps they reproduce dense exactly: latent PSNR must be inf.
OUT=$WORK/out
"$DITGEN" "${BASE[@]}" --methods dense,sta_wan,radial_wan --out-dir "$OUT" >"$WORK/table" 2>"$WORK/err" ||
    bad "run: exit $? ($(tail -1 "$WORK/err"))"
cat "$WORK/table"
grep -q "^method .*total_s .*text_s .*denoise_s .*model_s .*attn_s .*attn_% .*speedup .*attn_speedup .*latent_PSNR .*SSIM" \
    "$WORK/table" || bad "table header"
grep -q "Compared on latents" "$WORK/table" || bad "latent comparison not stated"
for m in dense sta_wan radial_wan; do
    grep -Eq "^$m +[0-9]+\.[0-9]{3} +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +[0-9.]+x +[0-9.]+x +inf +-$" \
        "$WORK/table" || bad "row for $m"
done
grep -Eq "^dense .* 1\.00x +1\.00x " "$WORK/table" || bad "dense speedup is not 1.00x"
[ "$(grep -c '^[a-z_]* *[0-9]' "$WORK/table")" -eq 3 ] || bad "expected 3 method rows"
head -c 8 "$OUT/grid.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || bad "grid.png is not a PNG"
# 3 cells of the 8x6 latent preview at scale 24 (192x144) under two label lines (20 px), 4 px gaps: 592x172
[ "$(od -An -tu1 -j16 -N8 "$OUT/grid.png" | tr -s ' ')" = " 0 0 2 80 0 0 0 172" ] || bad "grid.png is not 592x172"
grep -q "<svg" "$OUT/chart.svg" && grep -q ">radial_wan<" "$OUT/chart.svg" || bad "chart.svg"
grep -q "^ditgen bench generate -m $MODEL -p 'a red circle' " "$OUT/results.md" || bad "results.md lacks the command"
grep -q "^| sta_wan | [0-9.]* |.*| inf | - |$" "$OUT/results.md" || bad "results.md lacks the sta_wan row"
grep -q "grid.png" "$OUT/results.md" || bad "results.md lacks the grid"
[ ! -e "$OUT/grid.mp4" ] || bad "grid.mp4 written for a latent model"
ls -A "$OUT" | grep -q "^\." && bad "temp files left in the out dir: $(ls -A "$OUT")"

# JSON: inf PSNR is null with "identical": true
"$DITGEN" "${BASE[@]}" --methods sta_wan --out-dir "$OUT" --format json >"$WORK/json" 2>"$WORK/err" ||
    bad "json run: exit $?"
if command -v python3 >/dev/null; then
    python3 - "$WORK/json" <<'EOF' || bad "json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["compare"] == "latents" and d["latent_range"] > 0, d
assert [m["method"] for m in d["methods"]] == ["dense", "sta_wan"], d
for m in d["methods"]:
    assert m["psnr"] is None and m["identical"] is True and m["ssim"] is None, m
    assert m["denoise_s"] > 0 and m["speedup"] > 0, m
EOF
fi

# A preset with no dense steps really differs: a finite latent PSNR. (dense is
# built in, so this configs folder needs no dense.json.)
mkdir -p "$WORK/configs/attention"
printf '{"method": "sta", "params": {"tile": [1, 2, 2], "window": [1, 1, 1], "partial_tiles": true}}' \
    >"$WORK/configs/attention/sta_now.json"
DITGEN_CONFIG_DIR=$WORK/configs "$DITGEN" "${BASE[@]}" --methods all --out-dir "$WORK/out2" >"$WORK/table2" 2>"$WORK/err" ||
    bad "sparse run: exit $? ($(tail -1 "$WORK/err"))"
grep -Eq "^sta_now .* [0-9]+\.[0-9]{2} +-$" "$WORK/table2" || bad "no finite PSNR for sta_now: $(cat "$WORK/table2")"

# A method that cannot run here is reported; the others still are; exit 1.
"$DITGEN" "${BASE[@]}" --methods grat_x,sta_wan --out-dir "$WORK/out3" >"$WORK/table3" 2>"$WORK/err"
rc=$?
[ $rc -eq 1 ] || bad "failing method: exit $rc, want 1"
grep -q "^grat_x .*failed.*grat" "$WORK/table3" || bad "grat_x failure not in the table"
grep -Eq "^sta_wan .* inf +-$" "$WORK/table3" || bad "sta_wan missing after a failure"
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
refused "unknown method" "no preset 'nosuch'" "${BAD[@]}" --methods dense,nosuch
refused "bad method name" "bad preset name" "${BAD[@]}" --methods "../x"
refused "empty method" "bad preset name" "${BAD[@]}" --methods "sta_wan,"
refused "method twice" "listed twice" "${BAD[@]}" --methods sta_wan,sta_wan
refused "bad format" "--format" "${BAD[@]}" --format xml
refused "bad steps" "--steps" "${BAD[@]}" --steps 0
refused "bad sampler" "--sampler" "${BAD[@]}" --sampler ddim
refused "missing value" "needs a value" "${BAD[@]}" --methods
refused "no model" "-m" bench generate -p x --out-dir "$WORK/never"
refused "prompt and context" "exactly one" "${BAD[@]}" --context "$TESTS/fixtures/wan_tiny_context.safetensors"
refused "stray argument" "unexpected argument" "${BAD[@]}" extra

"$DITGEN" "${BASE[@]}" --methods sta_wan --out-dir /nonexistent-dir/x >/dev/null 2>"$WORK/err"
rc=$?
[ $rc -eq 1 ] && grep -q "cannot create --out-dir" "$WORK/err" || bad "unwritable out dir: exit $rc: $(cat "$WORK/err")"
"$DITGEN" "${BASE[@]}" -W 72 --methods sta_wan --out-dir "$WORK/out4" >/dev/null 2>"$WORK/err"
rc=$?
[ $rc -eq 1 ] && grep -q -- "--width 72" "$WORK/err" || bad "bad geometry: exit $rc: $(cat "$WORK/err")"
exit $fail
