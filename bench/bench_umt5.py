"""Encoding one 512-token prompt with the umT5-XXL widths: ditgen vs transformers on PyTorch CPU.

Builds a random UMT5EncoderModel with the umT5-XXL widths (d_model 4096, d_ff 10240, 64 heads x
d_kv 64, 32 buckets, max_distance 128) but fewer layers and a small vocabulary (the lookup costs
nothing), saves it with save_pretrained into a temp dir, times transformers' forward (warm-up +
median, torch.set_num_threads(threads)), then the C driver bench/umt5_bench.c on the same
checkpoint, ids and thread count; the driver also reports its max abs error against torch's output.
With --dtype bfloat16 both run the bf16 checkpoint in bf16 (transformers: bf16 end to end through
oneDNN; ditgen: the bf16 GEMM where the CPU has it, see DG_CPU_BF16); --torch-f32 runs transformers
in float32 on the same (bf16-rounded) values instead, as the reference for ditgen's error.

    python bench/bench_umt5.py --layers 2 --threads 2 [--dtype float32|bfloat16]

The driver is built through CMake (bench/driver.py: cmake --build build --target umt5_bench).
Needs torch, transformers, safetensors (pip).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import torch
from driver import build_driver
from safetensors.torch import save_file
from transformers import UMT5Config, UMT5EncoderModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                    help="checkpoint dtype, and the dtype transformers computes in")
    ap.add_argument("--torch-f32", action="store_true", help="transformers computes in float32 on the same values")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = UMT5Config(vocab_size=args.vocab, d_model=4096, d_kv=64, num_heads=64, d_ff=10240, num_layers=args.layers,
                     relative_attention_num_buckets=32, relative_attention_max_distance=128,
                     feed_forward_proj="gated-gelu", dropout_rate=0.0, layer_norm_epsilon=1e-6,
                     tie_word_embeddings=False)
    model = UMT5EncoderModel(cfg).eval()  # default init: T5-style scaled normals
    if args.dtype == "bfloat16":
        model = model.to(torch.bfloat16)  # the values of the bf16 checkpoint
        if args.torch_f32:
            model = model.float()
    ids = torch.randint(2, args.vocab, (1, args.tokens))
    mask = torch.ones_like(ids)
    times = []
    with torch.no_grad():
        for i in range(1 + args.reps):
            t0 = time.perf_counter()
            out = model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
            if i:
                times.append(time.perf_counter() - t0)
    torch_s = statistics.median(times)

    with tempfile.TemporaryDirectory() as tmp:
        enc = os.path.join(tmp, "text_encoder")
        model.to(getattr(torch, args.dtype)).save_pretrained(enc)
        del model
        io = os.path.join(tmp, "io.safetensors")
        save_file({"ids": ids[0].to(torch.float32), "out": out[0].contiguous()}, io)
        exe = build_driver("umt5_bench", args.build_dir)
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
        res = subprocess.run([exe, enc, io, str(args.threads), str(args.reps)], check=True, capture_output=True,
                             text=True, env=env).stdout
    ours = json.loads(res)
    torch_dt = "float32" if args.torch_f32 else args.dtype
    print(f"umT5-XXL widths, {args.tokens} tokens, {args.layers} layers, {args.threads} threads, "
          f"weights {args.dtype}, transformers computes in {torch_dt}, ditgen CPU dtype "
          f"{'f32' if os.environ.get('DG_CPU_BF16') == '0' else 'default'}")
    print(f"  transformers (torch {torch.__version__}) {torch_s:.3f} s")
    print(f"  ditgen                         {ours['seconds']:.3f} s   "
          f"(max abs err {ours['max_abs_err']:.3g} of {ours['max_abs_ref']:.3g})")
    print(f"  ratio ditgen / torch           {ours['seconds'] / torch_s:.2f}")


if __name__ == "__main__":
    main()
