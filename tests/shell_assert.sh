# Assertions for the CLI test scripts (sourced; not a test itself). Needs DITGEN, WORK and fail=0.
# ok NAME ARGS...: the command exits 0.
# refused NAME WANT OUT ARGS...: a non-zero exit without a crash, WANT on stderr, at most two
#   lines there, and nothing left whose path starts with OUT (empty OUT: no file check).

ok() {
    local name=$1; shift
    "$DITGEN" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL $name: exit $rc ($(tail -1 "$WORK/err"))"; fail=1
    else
        echo "ok   $name"
    fi
}

refused() {
    local name=$1 want=$2 out=$3; shift 3
    "$DITGEN" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    local lines; lines=$(grep -c . "$WORK/err")
    if [ $rc -eq 0 ]; then echo "FAIL $name: accepted"; fail=1
    elif [ $rc -ge 128 ]; then echo "FAIL $name: crashed (exit $rc)"; fail=1
    elif ! grep -q -- "$want" "$WORK/err"; then echo "FAIL $name: stderr lacks '$want': $(cat "$WORK/err")"; fail=1
    elif [ "$lines" -gt 2 ]; then echo "FAIL $name: $lines lines on stderr: $(cat "$WORK/err")"; fail=1
    elif [ -n "$out" ] && ls "$out"* >/dev/null 2>&1; then echo "FAIL $name: left $(ls "$out"*)"; fail=1
    else echo "ok   $name: $(tail -1 "$WORK/err")"
    fi
}
