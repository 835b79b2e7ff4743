#!/usr/bin/env bash
# Under an address-space limit (ulimit -v) too small to run in, ditgen refuses with one line
# saying how much it needs instead of hanging in OpenBLAS's buffer allocation; at the limit it
# names, the shipped model runs. Limits too small for the dynamic loader to map the libraries
# fail in the loader (exit 127, its own message) before ditgen runs.
# usage: cli_address_space.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); WORK=$(cd "$3" && pwd)/cli_as.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
fail=0
if ! (ulimit -v $((64 << 20)); "$DITGEN" --help >/dev/null 2>&1); then
    echo "skipped: this build cannot run under any ulimit -v (sanitizers reserve terabytes)"; exit 77
fi
GEN=(generate -p "a red circle" --steps 1 -o "$WORK/o.png")
need=
for mib in 256 512 640 768 1024 1280; do
    (ulimit -v $((mib << 10)); exec timeout 60 "$DITGEN" "${GEN[@]}") >/dev/null 2>"$WORK/err"
    rc=$?
    if [ $rc -eq 124 ]; then echo "FAIL ulimit -v ${mib} MiB: hung"; fail=1
    elif [ $rc -ge 128 ]; then echo "FAIL ulimit -v ${mib} MiB: crashed (exit $rc)"; fail=1
    elif [ $rc -eq 127 ] && grep -q "error while loading shared libraries" "$WORK/err"; then
        echo "ok   ulimit -v ${mib} MiB: the loader cannot map the libraries"
    elif [ $rc -ne 0 ] && grep -q "address-space limit (ulimit -v) of $mib MiB is too small" "$WORK/err"; then
        [ "$(grep -c . "$WORK/err")" -eq 1 ] || { echo "FAIL ulimit -v ${mib} MiB: more than one line"; fail=1; }
        need=$(sed -n 's/.*needs at least \([0-9]*\) MiB.*/\1/p' "$WORK/err")
        echo "ok   ulimit -v ${mib} MiB: $(cat "$WORK/err")"
    elif [ $rc -eq 0 ]; then echo "ok   ulimit -v ${mib} MiB: ran"
    else echo "FAIL ulimit -v ${mib} MiB: exit $rc: $(tail -1 "$WORK/err")"; fail=1
    fi
    rm -f "$WORK/o.png"
done
if [ -z "$need" ]; then echo "FAIL no limit was refused by ditgen's own check"; fail=1
elif (ulimit -v $((need << 10)); exec timeout 120 "$DITGEN" "${GEN[@]}") >/dev/null 2>"$WORK/err"; then
    echo "ok   the shipped model runs at the limit named: $need MiB"
else echo "FAIL at the limit named ($need MiB): $(tail -1 "$WORK/err")"; fail=1
fi
exit $fail
