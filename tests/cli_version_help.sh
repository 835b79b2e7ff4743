#!/usr/bin/env bash
# --version names the version and the commit the build was configured from (git's HEAD in a
# checkout), the same string the outputs' metadata records; the help texts say what the
# shipped model knows, so a first "a cat" prompt does not look like a bug.
# usage: cli_version_help.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_version_help.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache
fail=0
source "$TESTS/shell_assert.sh"
cd "$WORK" || exit 1

ok "--version" --version
v=$(head -1 out)
if [[ "$v" =~ ^(ditgen [0-9]+\.[0-9]+\.[0-9]+ \(([0-9a-f]{12}|unknown)\))\ \[C11.*openblas ]]; then
    echo "ok   version line: $v"
else
    echo "FAIL version line: '$v'"; fail=1
fi
version=${BASH_REMATCH[1]:-none} commit=${BASH_REMATCH[2]:-none}
ok "version command" version
[ "$(head -1 out)" = "$v" ] || { echo "FAIL 'ditgen version' differs: $(head -1 out)"; fail=1; }
if head=$(git -C "$TESTS/.." rev-parse HEAD 2>/dev/null); then
    [ "${head#"$commit"}" != "$head" ] && echo "ok   commit $commit is git's HEAD" ||
        { echo "FAIL commit $commit is not HEAD $head (configure again)"; fail=1; }
else
    [ "$commit" = unknown ] && echo "ok   outside git: unknown" || { echo "FAIL commit $commit outside git"; fail=1; }
fi
ok "an image" generate -p "a red circle" --steps 1 -o a.png
"$DITGEN" metadata a.png | grep -q "Version: $version$" && echo "ok   the metadata's version" ||
    { echo "FAIL metadata lacks 'Version: $version'"; fail=1; }

# what the shipped model knows, in the help texts
for cmd in "--help" "generate --help"; do
    ok "$cmd" $cmd
    for word in 32x32 circle square triangle red green blue yellow white black left right top bottom center moving; do
        grep -qw -- "$word" out || { echo "FAIL '$cmd' does not name '$word'"; fail=1; }
    done
done
ok "help lists decode" --help
grep -q "^  decode " out && grep -q "^  metadata " out || { echo "FAIL --help lacks decode/metadata"; fail=1; }

[ $fail -eq 0 ] && echo "all version and help checks passed"
exit $fail
