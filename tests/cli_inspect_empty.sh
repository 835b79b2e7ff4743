#!/usr/bin/env bash
# ditgen inspect on valid empty tensors whose other dimensions are as large as safetensors
# allows (2^53): the parameter count comes from the byte size, with no overflow (UBSan caught
# the shape product [2^53, 2^53, 0] before). No config beside it and none to infer: refused.
# usage: cli_inspect_empty.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_inspect_empty.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
fail=0
source "$TESTS/shell_assert.sh"

# safetensors: u64 little-endian header length, JSON header, no data
header='{"big":{"dtype":"F32","shape":[9007199254740992,9007199254740992,0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
while [ $(( ${#header} % 8 )) -ne 0 ]; do header="$header "; done # data aligned for F32
n=${#header}
printf "$(printf '\\x%02x\\x%02x' $((n & 255)) $((n >> 8)))\\x00\\x00\\x00\\x00\\x00\\x00%s" "$header" > "$WORK/empty.safetensors"
printf '\x00\x00\x80\x3f\x00\x00\x00\x40' >> "$WORK/empty.safetensors"
refused "inspect empty tensors" "refused (transformer)" "" inspect "$WORK/empty.safetensors"
grep -q "parameters: 2 " "$WORK/out" || { echo "FAIL parameter count: $(grep parameters "$WORK/out")"; fail=1; }
grep -q "tensors:    2" "$WORK/out" || { echo "FAIL tensor count: $(cat "$WORK/out")"; fail=1; }
exit $fail
