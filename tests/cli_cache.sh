#!/usr/bin/env bash
# ditgen generate --cache: step caching on the shipped model reports the steps it reused, records
# the preset in the metadata (and --from runs it again to the same bytes), `--cache none` is the
# uncached run, batch jobs take "cache" and give generate's file, PAG runs cached too; unknown
# presets (listed) and bad preset files are refused with one line and no output.
# usage: cli_cache.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_cache.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/xdg
MODEL=$TESTS/../assets/shapes-tiny
fail=0
source "$TESTS/shell_assert.sh"
cd "$WORK" || exit 1
P="a red circle on a blue background"

ok "cached generation" generate -m "$MODEL" -p "$P" --steps 30 -t 1 --cache fbcache_fast -o c.png
n=$(sed -n 's/^cache: \([0-9]*\) of 30 steps reused (fbcache_fast)$/\1/p' "$WORK/err")
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -le 27 ] || { echo "FAIL reused steps '$n' (want 1..27 of 30)"; fail=1; }
ok "uncached" generate -m "$MODEL" -p "$P" --steps 30 -t 1 -o u.png
ok "cache none" generate -m "$MODEL" -p "$P" --steps 30 -t 1 --cache none -o n.png
grep -q "^cache:" "$WORK/err" && { echo "FAIL --cache none reports a cache"; fail=1; }
cmp -s u.png n.png || { echo "FAIL --cache none differs from no --cache"; fail=1; }
cmp -s u.png c.png && { echo "FAIL the cached picture is the uncached one: nothing was reused"; fail=1; }

ok "metadata" metadata c.png
grep -q ", Cache: fbcache_fast, " "$WORK/out" || { echo "FAIL metadata lacks the cache: $(tail -1 "$WORK/out")"; fail=1; }
ok "metadata of the uncached" metadata u.png
grep -q "Cache:" "$WORK/out" && { echo "FAIL an uncached picture records a cache"; fail=1; }
ok "--from" generate --from c.png -t 1 -o again.png
cmp -s c.png again.png || { echo "FAIL --from of a cached picture differs"; fail=1; }

# a preset by path and as NAME.json
cp "$TESTS/../configs/cache/fbcache_fast.json" mine.json
ok "preset by path" generate -m "$MODEL" -p "$P" --steps 30 -t 1 --cache ./mine.json -o path.png
ok "preset as NAME.json" generate -m "$MODEL" -p "$P" --steps 30 -t 1 --cache fbcache_fast.json -o json.png
grep -q "^cache: $n of 30 steps reused" "$WORK/err" || { echo "FAIL fbcache_fast.json: $(grep cache: "$WORK/err")"; fail=1; }

cat > jobs.json <<JSON
{"model": "$MODEL", "jobs": [{"prompt": "$P", "steps": 30, "cache": "fbcache_fast", "output": "b.png"}]}
JSON
ok "batch job with a cache" batch jobs.json -t 1
cmp -s c.png b.png || { echo "FAIL the batch job's file differs from generate's"; fail=1; }

refused "unknown preset" "presets: fbcache, fbcache_fast" x.png generate -m "$MODEL" -p "$P" --cache nope -o x.png
echo '{"method": "first_block_cache", "threshold": 0.1, "warmup": 2}' > typo.json
refused "unknown key" "unknown key 'warmup'" x.png generate -m "$MODEL" -p "$P" --cache typo.json -o x.png
echo '{"method": "teacache", "threshold": 0.1}' > tea.json
refused "other method" "method 'teacache'" x.png generate -m "$MODEL" -p "$P" --cache tea.json -o x.png
refused "missing file" "nothere.json" x.png generate -m "$MODEL" -p "$P" --cache ./nothere.json -o x.png
ok "cached with PAG" generate -m "$MODEL" -p "$P" --steps 30 -t 1 --cache fbcache_fast --pag-scale 2 \
    --pag-heads "1:*" -o pag.png
grep -q "^cache: [1-9][0-9]* of 30 steps reused (fbcache_fast)$" "$WORK/err" ||
    { echo "FAIL cached PAG reused no step: $(grep cache: "$WORK/err")"; fail=1; }
exit $fail
