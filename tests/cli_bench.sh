#!/usr/bin/env bash
# ditgen bench: a small attention run prints every JSON field; each bad command
# line gets exit 2 and one line on stderr; no/unknown benchmark prints usage.
# usage: cli_bench.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$1; TESTS=$2; WORK=$3/cli_bench.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
fail=0

refused() { # name, expected stderr substring, args...
    local name=$1 want=$2; shift 2
    "$DITGEN" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$? lines; lines=$(grep -c . "$WORK/err")
    if [ $rc -ne 2 ]; then echo "FAIL $name: exit $rc, expected 2"; fail=1
    elif ! grep -q -- "$want" "$WORK/err"; then echo "FAIL $name: stderr lacks '$want': $(cat "$WORK/err")"; fail=1
    elif [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines lines on stderr"; fail=1
    else echo "ok   $name: $(cat "$WORK/err")"
    fi
}

A=(bench attention --seq 100 --kv-seq 77 --heads 2 --head-dim 5)
if "$DITGEN" "${A[@]}" --reps 1 --warmup 0 --threads 1 --format json >"$WORK/out" 2>"$WORK/err"; then
    for key in '"seq": 100' '"kv_seq": 77' '"heads": 2' '"head_dim": 5' '"threads": 1' attention_ms attention_gflops attention_best_ms ratio_best ratio_paired \
        sgemm_gflops openblas_core ratio; do
        grep -q "$key" "$WORK/out" || { echo "FAIL json lacks $key: $(cat "$WORK/out")"; fail=1; }
    done
    echo "ok   json run"
else
    echo "FAIL json run: $(cat "$WORK/err")"; fail=1
fi
"$DITGEN" bench attention --help | grep -q -- "--head-dim" || { echo "FAIL attention --help"; fail=1; }

refused "missing --heads" "--heads is required" bench attention --seq 8 --head-dim 4
refused "zero seq" "--seq" "${A[@]}" --seq 0
refused "junk number" "--head-dim" "${A[@]}" --head-dim 4x
refused "negative warmup" "--warmup" "${A[@]}" --warmup -1
refused "zero reps" "--reps" "${A[@]}" --reps 0
refused "zero threads" "--threads" "${A[@]}" --threads 0
refused "unknown flag" "unknown option" "${A[@]}" --bogus
refused "missing value" "needs a value" "${A[@]}" --reps
refused "stray argument" "unexpected argument" "${A[@]}" extra
refused "bad format" "text or json" "${A[@]}" --format xml

# Method sweep: every method on one small geometry, in each format.
M=(bench attention --method all --heads 2 --head-dim 8 --geometry 2x8x8 --reps 1 --warmup 0 --threads 1)
if "$DITGEN" "${M[@]}" --format json >"$WORK/out" 2>"$WORK/err"; then
    for key in '"benchmark": "attention_methods"' '"method": "dense"' '"method": "sta"' '"method": "natten"' \
        '"method": "vdit_tile"' '"geometry": \[2, 8, 8\]' '"tokens": 128' efficiency density speedup; do
        grep -q "$key" "$WORK/out" || { echo "FAIL sweep json lacks $key: $(cat "$WORK/out")"; fail=1; }
    done
    echo "ok   sweep json"
else
    echo "FAIL sweep json: $(cat "$WORK/err")"; fail=1
fi
"$DITGEN" bench attention --method sta --params '{"tile":[1,4,4],"window":[1,1,1]}' --heads 1 --head-dim 8 \
    --geometry 2x8x8 --reps 1 --warmup 0 --format csv >"$WORK/out" 2>"$WORK/err"
if [ $? -ne 0 ] || ! head -1 "$WORK/out" | grep -q "^method,geometry,tokens,median_ms" \
    || ! grep -q "^sta,2x8x8,128,.*,0.125000," "$WORK/out"; then
    echo "FAIL sweep csv: $(cat "$WORK/out" "$WORK/err")"; fail=1
else
    echo "ok   sweep csv (sta density 0.125)"
fi
S=(bench attention --method sta --heads 1 --head-dim 8 --geometry 2x8x8)
# bench wan checks a size with the pipeline's rules (multiples of VAE factor x patch, 4k+1 frames)
WAN=(bench wan -m "$TESTS/fixtures/wan_tiny/transformer" --reps 1 --warmup 0)
refused "bench wan width" "--width 72 is not a multiple of 16" "${WAN[@]}" -W 72 -H 48 --frames 5
refused "bench wan frames" "--frames 4: this model needs 4k+1" "${WAN[@]}" -W 64 -H 48 --frames 4
refused "unknown method" "unknown --method 'nope'" bench attention --method nope --heads 1 --head-dim 8
refused "params with all" "single --method" bench attention --method all --params '{}' --heads 1 --head-dim 8
refused "bad geometry" "--geometry expects TxHxW" "${S[@]}" --geometry 2x8
refused "bad sweep format" "text, csv or json" "${S[@]}" --format xml
refused "sweep missing heads" "--heads is required" bench attention --method sta --head-dim 8
refused "sweep with --seq" "unknown option '--seq'" "${S[@]}" --seq 10
"$DITGEN" "${S[@]}" --params '{"window":[2]}' --reps 1 --warmup 0 >"$WORK/out" 2>&1
[ $? -eq 1 ] && grep -q "skipped: .*does not divide" "$WORK/out" && echo "ok   refused params reported" \
    || { echo "FAIL bad params: $(cat "$WORK/out")"; fail=1; }

for args in "bench" "bench nosuch"; do
    # shellcheck disable=SC2086
    "$DITGEN" $args >"$WORK/out" 2>"$WORK/err"
    rc=$?
    if [ $rc -ne 2 ] || ! grep -q "usage: ditgen bench" "$WORK/err"; then
        echo "FAIL '$args': exit $rc, stderr: $(head -1 "$WORK/err")"; fail=1
    else
        echo "ok   '$args' prints usage"
    fi
done
exit $fail
