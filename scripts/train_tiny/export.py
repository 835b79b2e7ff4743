"""Export a training checkpoint (EMA weights) to assets/shapes-tiny in diffusers layout.

  python export.py /tmp/train_tiny/ckpt.pt assets/shapes-tiny --shift 2.0 --cfg 5.0 --steps 20

Writes model_index.json (WanPipeline, "vae": [null, null] = pixel space), transformer/,
text_encoder/ (f16 safetensors), scheduler/scheduler_config.json (UniPC, flow_prediction,
use_flow_sigmas, flow_shift). The tokenizer/ folder is written by make_tokenizer.py.
"""
import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import MAX_LEN, make_text_encoder, make_transformer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("--shift", type=float, default=2.0)
    ap.add_argument("--cfg", type=float, default=5.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--sampler", default="unipc")
    ap.add_argument("--raw", action="store_true", help="export raw (non-EMA) weights")
    ap.add_argument("--dtype", default="float16")
    a = ap.parse_args()
    import diffusers
    from diffusers import UniPCMultistepScheduler
    from transformers import T5TokenizerFast

    dt = getattr(torch, a.dtype)
    ck = torch.load(a.ckpt, map_location="cpu")
    tok = T5TokenizerFast.from_pretrained(os.path.join(a.out, "tokenizer"))
    tr, te = make_transformer(), make_text_encoder(len(tok))
    tr.load_state_dict(ck["tr" if a.raw else "ema_tr"])
    te.load_state_dict(ck["te" if a.raw else "ema_te"])
    for sub in ("transformer", "text_encoder", "scheduler"):
        shutil.rmtree(os.path.join(a.out, sub), ignore_errors=True)
    tr.to(dt).save_pretrained(os.path.join(a.out, "transformer"), safe_serialization=True)
    te.to(dt).save_pretrained(os.path.join(a.out, "text_encoder"), safe_serialization=True)
    # store the token embedding under both names real UMT5 checkpoints use
    from safetensors.torch import load_file, save_file
    p = os.path.join(a.out, "text_encoder", "model.safetensors")
    sd = load_file(p)
    if "encoder.embed_tokens.weight" not in sd:
        sd["encoder.embed_tokens.weight"] = sd["shared.weight"].clone()
        save_file(sd, p, metadata={"format": "pt"})
    sch = UniPCMultistepScheduler(num_train_timesteps=1000, prediction_type="flow_prediction",
                                  use_flow_sigmas=True, flow_shift=a.shift, solver_order=2,
                                  solver_type="bh2", predict_x0=True, lower_order_final=True,
                                  final_sigmas_type="zero")
    sch.save_config(os.path.join(a.out, "scheduler"))
    idx = {
        "_class_name": "WanPipeline",
        "_diffusers_version": diffusers.__version__,
        "scheduler": ["diffusers", "UniPCMultistepScheduler"],
        "text_encoder": ["transformers", "UMT5EncoderModel"],
        "tokenizer": ["transformers", "T5TokenizerFast"],
        "transformer": ["diffusers", "WanTransformer3DModel"],
        "transformer_2": [None, None],
        "vae": [None, None],
        "boundary_ratio": None,
        "expand_timesteps": False,
        # Read by ditgen (api/model_defaults.c): what `ditgen generate -p ...` uses when no flag says
        # otherwise. Pixel space: no vae/, 3-channel transformer; the scheduler comes from scheduler/.
        "_ditgen_defaults": {
            "width": 32, "height": 32, "num_frames": 1, "num_inference_steps": a.steps,
            "guidance_scale": a.cfg, "fps": 8, "negative_prompt": "", "max_sequence_length": MAX_LEN,
        },
        "_ditgen_trained_step": int(ck["step"]),
    }
    with open(os.path.join(a.out, "model_index.json"), "w") as f:
        json.dump(idx, f, indent=2)
        f.write("\n")
    tot = 0
    for root, _, files in os.walk(a.out):
        for fn in files:
            tot += os.path.getsize(os.path.join(root, fn))
    print(f"exported step {ck['step']} to {a.out}: {tot / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
