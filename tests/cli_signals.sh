#!/usr/bin/env bash
# SIGINT/SIGTERM stop a generation at a step boundary with one line and leave no output and no
# temp file; a second SIGINT quits at once; batch keeps the finished jobs and reports; a frame
# sequence is written all or nothing; a file-size limit is an error, not a SIGXFSZ kill.
# usage: cli_signals.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_signals.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
MODEL=$TESTS/fixtures/wan_tiny
CTX=$TESTS/fixtures/wan_tiny_context.safetensors
fail=0
cd "$WORK" || exit 1
LONG=(generate -m "$MODEL" --context "$CTX" -W 256 -H 256 --frames 1 --steps 1000)

# Starts ditgen "$@" in the background (stderr to $WORK/err) and waits until stderr matches $1.
start_until() {
    local want=$1; shift
    "$DITGEN" "$@" 2>"$WORK/err" &
    pid=$!
    for _ in $(seq 600); do
        grep -q -- "$want" "$WORK/err" 2>/dev/null && return 0
        kill -0 $pid 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# failed_late NAME WANT OUT ARGS...: a non-zero exit without a crash after the run started, WANT
# on the last line of stderr, no file starting with OUT.
failed_late() {
    local name=$1 want=$2 out=$3; shift 3
    "$DITGEN" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! tail -1 "$WORK/err" | grep -q -- "$want"; then
        echo "FAIL $name: exit $rc: $(tail -1 "$WORK/err")"; fail=1
    elif ls "$out"* >/dev/null 2>&1; then echo "FAIL $name: left $(ls "$out"*)"; fail=1
    else echo "ok   $name: $(tail -1 "$WORK/err")"
    fi
}
# no_debris NAME: nothing but the listed files in the folder (temp files start with '.').
no_debris() {
    local left; left=$(ls -A "$WORK" | grep -v -e '^err$' -e '^out$' -e '^jobs.json$' -e "${2:-^$}")
    [ -z "$left" ] || { echo "FAIL $1: left $left"; fail=1; }
}

for sig in INT TERM; do
    if start_until " 2/1000" "${LONG[@]}" -o "$WORK/int.png"; then
        kill -$sig $pid; wait $pid; rc=$?
        want=$([ $sig = INT ] && echo 130 || echo 143)
        if [ $rc -ne "$want" ] || ! grep -q "interrupted by SIG$sig, '.*int.png' not written: cancelled before step [0-9]* of 1000" "$WORK/err"
        then echo "FAIL SIG$sig: exit $rc: $(tail -1 "$WORK/err")"; fail=1
        else echo "ok   SIG$sig: exit $rc: $(tail -1 "$WORK/err")"
        fi
        no_debris "SIG$sig"
    else echo "FAIL SIG$sig: the run did not start: $(tail -1 "$WORK/err")"; fail=1; kill $pid 2>/dev/null
    fi
done

# a second SIGINT quits at once, in the middle of a step: it is sent as soon as the first one is
# acknowledged, early in a step (the progress line ends one) that takes ~0.5 s at 512x512x33
# (a fixed 20 ms gap lost the race once steps got faster than ~60 ms)
if start_until " 2/1000" "${LONG[@]/256/512}" --frames 33 -o "$WORK/twice.safetensors"; then
    kill -INT $pid
    for _ in $(seq 1000); do grep -q "interrupted; stopping" "$WORK/err" && break; sleep 0.005; done
    kill -INT $pid; wait $pid; rc=$?
    if [ $rc -ne 130 ] || ! grep -q "interrupted twice; quitting now" "$WORK/err"; then
        echo "FAIL second SIGINT: exit $rc: $(tail -1 "$WORK/err")"; fail=1
    else echo "ok   second SIGINT: $(tail -1 "$WORK/err")"
    fi
    no_debris "second SIGINT"
else echo "FAIL second SIGINT: the run did not start"; fail=1; kill $pid 2>/dev/null
fi

# batch: the interrupted job is dropped, the finished one kept, and the report still comes
cat > jobs.json <<JSON
{"defaults": {"context": "$CTX", "width": 256, "height": 256, "frames": 1},
 "jobs": [{"steps": 2, "output": "$WORK/first.safetensors"},
          {"steps": 1000, "output": "$WORK/second.safetensors"},
          {"steps": 2, "output": "$WORK/third.safetensors"}]}
JSON
if start_until " 2/1000" batch jobs.json -m "$MODEL"; then
    kill -INT $pid; wait $pid; rc=$?
    if [ $rc -ne 130 ] || ! grep -q "batch: 1 of 3 jobs done, 1 generations in .*; interrupted by SIGINT, 2 not run" "$WORK/err"
    then echo "FAIL batch SIGINT: exit $rc: $(tail -1 "$WORK/err")"; fail=1
    else echo "ok   batch SIGINT: $(tail -1 "$WORK/err")"
    fi
    [ -s first.safetensors ] || { echo "FAIL batch SIGINT: the finished job's output is gone"; fail=1; }
    no_debris "batch SIGINT" '^first.safetensors$'
    rm -f first.safetensors
else echo "FAIL batch SIGINT: the second job did not start"; fail=1; kill $pid 2>/dev/null
fi

# a frame sequence is all or nothing: frame 3 cannot be renamed into place, so none stays
mkdir f_003.png
failed_late "frame sequence, one frame unwritable" "cannot rename onto '.*f_003.png'" "$WORK/f_00[0-24]" \
    generate -m "$MODEL" --context "$CTX" -W 64 -H 48 --frames 5 --steps 1 -o "$WORK/f_%03d.png"
no_debris "frame sequence" '^f_003.png$'
rmdir f_003.png

# past a file-size limit the write fails with a message (SIGXFSZ would kill without one)
(ulimit -f 4
 failed_late "file-size limit" "File too large" "$WORK/big.png" \
     generate -m "$MODEL" --context "$CTX" -W 256 -H 256 --frames 1 --steps 1 -o "$WORK/big.png"
 exit $fail) || fail=1
no_debris "file-size limit"

exit $fail
