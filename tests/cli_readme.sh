#!/usr/bin/env bash
# The README stays true: its first command's generate step runs as written, its second command
# exists, every ditgen command is documented, every ditgen flag in the table next to
# stable-diffusion.cpp's is one ditgen accepts, and it says what the shipped model knows.
# usage: cli_readme.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_readme.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache
ROOT=$(cd "$TESTS/.." && pwd); README=$ROOT/README.md
fail=0
source "$TESTS/shell_assert.sh"
cd "$WORK" || exit 1

# the first two commands: the first code block's last step, and the second block's script
first=$(awk '/^```sh$/{n++; next} /^```$/{if(n==1) exit} n==1' "$README")
gen=${first##*&& }
case "$gen" in
    "./build/ditgen generate "*) eval "ok 'README first command' ${gen#./build/ditgen }" ;;
    *) echo "FAIL the first command does not end in ./build/ditgen generate: $gen"; fail=1 ;;
esac
[ -s out.png ] && "$DITGEN" metadata out.png | head -1 | grep -q "^a red circle on a blue background$" ||
    { echo "FAIL the first command did not write out.png with its prompt"; fail=1; }
second=$(awk '/^```sh$/{n++; next} /^```$/{if(n==2) exit} n==2' "$README")
[ "$second" = "bash scripts/test.sh" ] && [ -f "$ROOT/scripts/test.sh" ] && echo "ok   README second command" ||
    { echo "FAIL README second command: '$second'"; fail=1; }

# every command of `ditgen --help` is in the Commands section
ok "help" --help
for c in $(awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}' out); do
    grep -q "^ditgen $c\b\|^ditgen --$c\b" "$README" || { echo "FAIL README's commands lack 'ditgen $c'"; fail=1; }
done

# the ditgen column of the flags table: flags generate or batch accept, commands that exist
"$DITGEN" generate --help > gen_help 2>&1; "$DITGEN" batch --help > batch_help 2>&1
rows=$(awk '/^\| ditgen \| stable-diffusion.cpp/{on=1; next} on && /^\|/{print} on && !/^\|/{exit}' "$README" | tail -n +2)
[ "$(wc -l <<<"$rows")" -ge 8 ] || { echo "FAIL no flags table next to stable-diffusion.cpp's"; fail=1; }
while IFS= read -r row; do
    col=$(cut -d'|' -f2 <<<"$row")
    for flag in $(grep -oE -- '--?[a-zA-Z][a-z-]*' <<<"$col"); do
        grep -qE -- "(^|[ ,])$flag[ ,]" gen_help batch_help || { echo "FAIL table flag $flag is not a ditgen flag"; fail=1; }
    done
    for cmd in $(grep -oE 'ditgen [a-z]+' <<<"$col" | cut -d' ' -f2); do
        grep -q "^  $cmd " out || { echo "FAIL table command '$cmd' is not a ditgen command"; fail=1; }
    done
done <<<"$rows"
echo "ok   flags table checked ($(wc -l <<<"$rows") rows)"

# what the shipped model knows, next to the first command
intro=$(awk '/^## /{exit} {print}' "$README")
for word in 32x32 circle square triangle red green blue yellow white black left right top bottom center moving; do
    grep -qw -- "$word" <<<"$intro" || { echo "FAIL the README's opening does not name '$word'"; fail=1; }
done

[ $fail -eq 0 ] && echo "all README checks passed"
exit $fail
