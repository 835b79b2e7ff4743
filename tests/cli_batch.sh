#!/usr/bin/env bash
# ditgen batch: jobs from a JSON file with one model load give the same files as the same
# flags given to `ditgen generate`; every bad file or job is refused with one line, before
# anything is written.
# usage: cli_batch.sh DITGEN TESTS_DIR BUILD_DIR
set -u
DITGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); TESTS=$(cd "$2" && pwd); WORK=$(cd "$3" && pwd)/cli_batch.$$
mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
MODEL=$TESTS/../assets/shapes-tiny
fail=0
source "$TESTS/shell_assert.sh"
cd "$WORK" || exit 1

cat > jobs.json <<JSON
{
  "model": "$MODEL",
  "defaults": {"steps": 8, "cfg-scale": 4},
  "jobs": [
    {"prompt": "a red circle on a blue background", "output": "red.png", "seed": 7},
    {"prompt": "a yellow triangle on a black background", "output": "tri.png", "batch-count": 2, "sampler": "euler"},
    {"prompt": "a red circle on a blue background", "frames": 5, "output": "clip_%02d.png", "cfg-scale": 5.5,
     "flow-shift": 2.5, "seed": 3},
    {"prompt": "a white square on a green background", "output": "sq.safetensors", "cfg-scale": 1, "steps": 3},
    {"prompt": "a red circle on a blue background", "output": "pag.png", "seed": 7, "pag-scale": 2,
     "pag-heads": "1:*,2:0", "pag-u": 0.5}
  ]
}
JSON
ok "batch run" batch jobs.json
grep -q "batch: 5 of 5 jobs done, 6 generations" err || { echo "FAIL summary: $(tail -1 err)"; fail=1; }
# three distinct prompts and the empty negative prompt, each encoded once
grep -q "loaded and 4 prompt(s) encoded" err || { echo "FAIL prompt count: $(grep loaded err)"; fail=1; }
# the default thread count is generate's: one per physical core
tb=$(sed -n 's/.*encoded in .* s, \([0-9]*\) threads*$/\1/p' err)
"$DITGEN" generate -m "$MODEL" -p "a" --steps 1 -o t.safetensors >/dev/null 2>gerr
tg=$(sed -n 's/.*loaded in .* s, \([0-9]*\) threads*$/\1/p' gerr)
[ -n "$tb" ] && [ "$tb" = "$tg" ] || { echo "FAIL batch threads '$tb', generate's default '$tg'"; fail=1; }
for f in pag.png red.png tri_0.png tri_1.png clip_00.png clip_04.png sq.safetensors; do
    [ -s "$f" ] || { echo "FAIL batch did not write $f"; fail=1; }
done

# the same flags through generate give the same bytes (PNG metadata included)
same() { # name, batch's file, generate's file, generate args...
    local name=$1 want=$2 got=$3; shift 3
    if "$DITGEN" generate -m "$MODEL" "$@" >out 2>err && cmp -s "$want" "$got"; then echo "ok   $name"
    else echo "FAIL $name: $(tail -1 err)"; fail=1; fi
}
same "job 1 = generate" red.png g_red.png -p "a red circle on a blue background" --steps 8 --cfg-scale 4 -s 7 -o g_red.png
same "batch-count seed+1" tri_1.png g_tri1.png -p "a yellow triangle on a black background" --steps 8 --cfg-scale 4 \
    --sampler euler -s 43 -o g_tri1.png
same "job overrides defaults" clip_04.png g_clip_04.png -p "a red circle on a blue background" --steps 8 --frames 5 \
    --cfg-scale 5.5 --flow-shift 2.5 -s 3 -o g_clip_%02d.png

same "softpag job = generate" pag.png g_pag.png -p "a red circle on a blue background" --steps 8 --cfg-scale 4 \
    -s 7 --pag-scale 2 --pag-heads 1:*,2:0 --pag-u 0.5 -o g_pag.png
cmp -s pag.png red.png && { echo "FAIL SoftPAG made no difference"; fail=1; }

# --resume: every output exists with the parameters it records, so nothing is redone
mkdir -p keep && cp pag.png red.png tri_0.png tri_1.png clip_00.png clip_04.png sq.safetensors keep/
ok "resume, all done" batch jobs.json --resume --summary sum.json
grep -q "resume: 6 of 6 generations are done already" err || { echo "FAIL resume count: $(grep resume: err)"; fail=1; }
grep -q "^denoise" err && { echo "FAIL resume redid a generation"; fail=1; }
[ "$(grep -Ec '"status":[[:space:]]*"skipped"' sum.json)" -eq 11 ] && grep -Eq '"skipped":[[:space:]]*5,' sum.json ||
    { echo "FAIL summary of a resumed batch: $(cat sum.json)"; fail=1; }
# a generation whose output is gone, and a job whose parameters changed, are redone; the rest is not
rm tri_1.png
sed 's/"seed": 7}/"seed": 8}/' jobs.json > jobs_seed8.json
ok "resume, two to redo" batch jobs_seed8.json --resume --summary sum2.json
grep -q "resume: 4 of 6 generations are done already" err || { echo "FAIL resume count: $(grep resume: err)"; fail=1; }
[ "$(grep -c "^denoise" err)" -eq 2 ] || { echo "FAIL expected 2 generations redone: $(grep -c "^denoise" err)"; fail=1; }
"$DITGEN" metadata red.png | grep -q "Seed: 8," || { echo "FAIL red.png not redone with seed 8"; fail=1; }
cmp -s tri_1.png keep/tri_1.png || { echo "FAIL tri_1.png not made again the same"; fail=1; }
for f in pag.png clip_04.png sq.safetensors; do cmp -s "$f" "keep/$f" || { echo "FAIL resume rewrote $f"; fail=1; }; done
grep -Eq '"done":[[:space:]]*2,' sum2.json && grep -Eq '"skipped":[[:space:]]*3,' sum2.json &&
    grep -Eq '"seed":[[:space:]]*43,' sum2.json && grep -Eq '"output":[[:space:]]*"tri_1.png"' sum2.json ||
    { echo "FAIL summary: $(cat sum2.json)"; fail=1; }
echo "ok   batch --resume and --summary"
cp keep/red.png red.png
# a job failing while it runs (its latents exceed the file-size limit; the checks before the run cannot
# see that) is recorded with its error, the rest still runs
printf '{"model": "%s", "jobs": [{"prompt": "a", "output": "sf_bad.safetensors", "frames": 17, "steps": 2}, {"prompt": "b", "output": "sf_ok.png", "steps": 2}]}' \
    "$MODEL" > sf.json
(ulimit -f 100; "$DITGEN" batch sf.json --summary sf_sum.json >out 2>err) && { echo "FAIL a failed job exits 0"; fail=1; }
grep -Eq '"status":[[:space:]]*"failed"' sf_sum.json && grep -Eq '"error":[[:space:]]*"writing .sf_bad.safetensors' sf_sum.json &&
    grep -Eq '"done":[[:space:]]*1,' sf_sum.json && [ -f sf_ok.png ] && [ ! -e sf_bad.safetensors ] && ! ls .sf_sum* >/dev/null 2>&1 ||
    { echo "FAIL summary of a failed job: $(cat sf_sum.json)"; fail=1; }
echo "ok   failed job in the summary"
refused "summary in a missing folder" "nodir/s.json" "" batch jobs.json --resume --summary nodir/s.json
# --deal under mpirun: each rank runs every second job; together they write the same files
if command -v mpirun >/dev/null && "$DITGEN" --version | grep -q mpi; then
    mkdir -p dealt && cd dealt || exit 1
    # OpenMPI's process-lifetime allocations are not ditgen's leaks (see lsan_mpi.supp)
    if OMP_NUM_THREADS=1 LSAN_OPTIONS=suppressions=$TESTS/lsan_mpi.supp:fast_unwind_on_malloc=0:malloc_context_size=40 \
        mpirun --allow-run-as-root --oversubscribe -np 2 "$DITGEN" batch ../jobs.json -t "$tb" --deal --summary s.json >out 2>err; then
        grep -q "rank 0 of 2): 3 of 3 jobs done" err && grep -q "rank 1 of 2): 2 of 2 jobs done" err ||
            { echo "FAIL deal summaries: $(grep 'jobs done' err)"; fail=1; }
        for f in pag.png red.png tri_0.png tri_1.png clip_00.png clip_04.png sq.safetensors; do
            cmp -s "$f" "../$f" || { echo "FAIL dealt $f differs from the one-process batch"; fail=1; }
        done
        # one summary, from rank 0, with every rank's jobs
        grep -Eq '"done":[[:space:]]*5,' s.json && grep -Eq '"pending":[[:space:]]*0,' s.json && [ "$(ls s*.json | wc -l)" -eq 1 ] ||
            { echo "FAIL deal summary: $(cat s.json)"; fail=1; }
        echo "ok   batch --deal over 2 ranks"
    else
        echo "FAIL batch --deal: $(tail -1 err)"; fail=1
    fi
    cd .. || exit 1
else
    refused "deal without MPI" "without MPI" "" batch jobs.json --deal
fi

job() { # one-job file around the given job object
    printf '{"model": "%s", "jobs": [{"prompt": "a red circle", "output": "first.png"}, %s]}' "$MODEL" "$1" > "$2"
}
refused "no file" "give a JOBS.json" "" batch
refused "missing file" "nothing.json" "" batch nothing.json
refused "two files" "unexpected argument" "" batch jobs.json jobs.json
refused "unknown flag" "unknown option" "" batch --bogus jobs.json
printf '{"jobs": [' > trunc.json
refused "truncated JSON" "trunc.json" "" batch trunc.json
printf '[{"prompt": "x"}]' > array.json
refused "top level not an object" "array.json" "" batch array.json
printf '{"jobs": []}' > empty.json
refused "no jobs" "non-empty array" "" batch empty.json
printf '{"job": [{"prompt": "x"}]}' > typo.json
refused "unknown top-level key" "unknown top-level key 'job'" "" batch typo.json
printf '{"jobs": [{"prompt": "x"}], "defaults": {"stepz": 3}}' > dkey.json
refused "unknown key in defaults" "dkey.json defaults: unknown key 'stepz'" "" batch dkey.json
job '{"prompt": "x", "stepz": 3, "output": "b.png"}' k.json
refused "unknown key" "k.json job 2: unknown key 'stepz'" first.png batch k.json
job '{"prompt": "x", "mod": "/tmp", "output": "b.png"}' k2.json
refused "abbreviated key" "unknown key 'mod'" first.png batch k2.json
job '{"prompt": "x", "model": "/tmp", "output": "b.png"}' m.json
refused "model in a job" "whole batch" first.png batch m.json
job '{"prompt": "x", "dtype": "f32", "output": "b.png"}' dt.json
refused "dtype in a job" "set once for the whole batch" first.png batch dt.json
refused "bad --dtype" "--dtype 'f64': expected f32 or bf16" "" batch jobs.json --dtype f64
job '{"prompt": "x", "steps": true, "output": "b.png"}' t.json
refused "boolean value" "string or a number" first.png batch t.json
job '"x"' s.json
refused "job not an object" "job 2 must be an object" first.png batch s.json
job '{"prompt": "x", "steps": 0, "output": "b.png"}' z.json
refused "zero steps in job 2" "job 2: --steps" first.png batch z.json
job '{"prompt": "x", "steps": 1e300, "output": "b.png"}' huge.json
refused "huge number" "2^53" first.png batch huge.json
job '{"prompt": "x", "steps": 2.5, "output": "b.png"}' frac.json
refused "fractional steps" "job 2: --steps expects an integer" first.png batch frac.json
job '{"prompt": "x", "seed": "18446744073709551615", "output": "b.png"}' bigseed.json
refused "seed beyond int64" "job 2: --seed" first.png batch bigseed.json
job '{"prompt": "x", "cfg-scale": "5x", "output": "b.png"}' c.json
refused "bad number" "job 2: --cfg-scale" first.png batch c.json
job '{"context": "x.safetensors", "prompt": "x", "output": "b.png"}' pc.json
refused "prompt and context" "exactly one" first.png batch pc.json
job '{"prompt": "x", "output": "b.jpg"}' ext.json
refused "bad extension" "must end in" first.png batch ext.json
job '{"prompt": "x", "output": "first.png"}' dup.json
refused "two jobs, one output" "two generations write" first.png batch dup.json
printf '{"model": "%s", "jobs": [{"prompt": "a", "output": "first.png", "batch-count": 2}, {"prompt": "b", "output": "first_1.png"}]}' "$MODEL" > dup2.json
refused "batch-count output clash" "first_1.png" first batch dup2.json
touch a_file
job '{"prompt": "x", "output": "a_file/b.png"}' w.json
refused "unwritable output" "w.json job 2: cannot write" first.png batch w.json
job '{"prompt": "x", "width": 30, "output": "b.png"}' size.json
refused "impossible size" "--width 30" first.png batch size.json
job '{"prompt": "x", "frames": 5, "output": "b.png"}' pv.json
refused "frames into one png" "pattern" first.png batch pv.json
job '{"prompt": "x", "pag-scale": 2, "pag-heads": "4:0", "output": "b.png"}' ph.json
refused "pag head beyond the model" "ph.json job 2: --pag-heads: 4:0" first.png batch ph.json
job '{"prompt": "x", "attention": "nosuch", "output": "b.png"}' at.json
refused "unknown attention preset" "nosuch" first.png batch at.json
printf '{"model": "%s", "jobs": [{"prompt": "a red circle", "output": "first.png"}, {"prompt": "\xff\xfe", "output": "b.png"}]}' "$MODEL" > utf.json
refused "invalid UTF-8 prompt" "job 2" first.png batch utf.json
job '{"prompt": "x", "output": "b.png"}' valid.json
printf '{"model": "%s", "jobs": [{"prompt": "a", "frames": 5, "output": "first_%%d.png"}, {"prompt": "b", "output": "first_2.png"}]}' "$MODEL" > fp.json
refused "a pattern's frame clashes" "two generations write '.*first_2.png'" first batch fp.json
printf '{"model": "%s", "jobs": [{"prompt": "a", "output": "first.png"}, {"prompt": "b", "output": "./first.png"}]}' "$MODEL" > dot.json
refused "same file, other spelling" "two generations write '.*/first.png'" first batch dot.json
printf '{"model": "%s", "model": "%s", "jobs": [{"prompt": "a", "output": "first.png"}]}' "$MODEL" "$MODEL" > twice.json
refused "top-level key twice" "'model' given twice" first batch twice.json
job '{"prompt": "x", "width": 4096, "height": 4096, "output": "b.png"}' rope.json
refused "grid beyond RoPE, before job 1 runs" "job 2: .*rope_max_seq_len" first.png batch rope.json
job '{"prompt": "x", "attention": "grat_x", "output": "b.png"}' grat.json
refused "plan that does not fit the size" "job 2: .*grat" first.png batch grat.json
printf '{"jobs": [{"context": "%s", "width": 64, "height": 48, "frames": 9, "steps": 2, "output": "first.safetensors"}]}' \
    "$TESTS/fixtures/wan_tiny_context_noneg.safetensors" > noneg.json
refused "context file without negative embeddings" "negative_prompt_embeds" first batch -m "$TESTS/fixtures/wan_tiny" noneg.json
refused "missing model" "neither" first.png batch -m "$WORK/nothing" valid.json
printf '{"model": "%s", "defaults": {"pag-scale": 2, "pag-heads": "1:*", "steps": 4}, "jobs": [{"prompt": "a", "output": "np.png", "pag-scale": 0}, {"prompt": "b", "output": "wp.png"}]}' "$MODEL" > pagoff.json
ok "a job turns default PAG off" batch pagoff.json
[ "$(grep -c "PAG 2 on 1 head entry" err)" -eq 1 ] || { echo "FAIL expected PAG on job 2 only: $(grep generating err)"; fail=1; }
ok "help" batch --help

[ $fail -eq 0 ] && echo "all batch CLI checks passed"
exit $fail
