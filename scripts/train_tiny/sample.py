"""Python reference sampler for assets/shapes-tiny (pixel space: latents are pixels in [-1, 1]).

Mirrors diffusers' WanPipeline loop (WanPipeline itself assumes a VAE with 8x/4x compression,
so it cannot run a pixel-space model): T5 embeddings zero-filled past the real tokens,
negative prompt "" for CFG, latents = randn((B, 3, F, H, W)) from a torch.Generator seeded per
sample, scheduler from scheduler/scheduler_config.json (UniPC, flow_prediction) or
FlowMatchEulerDiscreteScheduler(shift=flow_shift).

  python sample.py assets/shapes-tiny "a red circle on a blue background" --out /tmp/x.png
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def load(model_dir, dtype=torch.float32):
    from diffusers import WanTransformer3DModel
    from transformers import T5TokenizerFast, UMT5EncoderModel
    tok = T5TokenizerFast.from_pretrained(os.path.join(model_dir, "tokenizer"))
    te = UMT5EncoderModel.from_pretrained(os.path.join(model_dir, "text_encoder")).to(dtype).eval()
    tr = WanTransformer3DModel.from_pretrained(os.path.join(model_dir, "transformer")).to(dtype).eval()
    return tr, te, tok


def make_scheduler(name, shift, model_dir=None):
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
    if name == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    if model_dir is not None:
        cfg = UniPCMultistepScheduler.load_config(os.path.join(model_dir, "scheduler"))
        cfg["flow_shift"] = shift
        return UniPCMultistepScheduler.from_config(cfg)
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                   flow_shift=shift, num_train_timesteps=1000)


@torch.no_grad()
def generate(tr, te, tok, prompts, seeds, height=32, width=32, frames=1, steps=20, cfg=5.0,
             shift=2.0, sampler="unipc", negative="", max_len=32, model_dir=None):
    """Returns uint8 (B, F, H, W, 3)."""
    from model import encode_text
    B = len(prompts)

    def emb(ps):
        t = tok(ps, padding="max_length", max_length=max_len, truncation=True,
                add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        return encode_text(te, t.input_ids, t.attention_mask)

    cond = emb(list(prompts))
    unc = emb([negative] * B)
    lat = torch.cat([torch.randn((1, 3, frames, height, width), generator=torch.Generator().manual_seed(int(s)),
                                 dtype=torch.float32) for s in seeds])
    sch = make_scheduler(sampler, shift, model_dir)
    sch.set_timesteps(steps)
    for t in sch.timesteps:
        ts = t.expand(B)
        if cfg != 1.0:
            out = tr(torch.cat([lat, lat]), torch.cat([ts, ts]), torch.cat([cond, unc]), return_dict=False)[0]
            c, u = out.chunk(2)
            v = u + cfg * (c - u)
        else:
            v = tr(lat, ts, cond, return_dict=False)[0]
        lat = sch.step(v.float(), t, lat, return_dict=False)[0]
    x = ((lat.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 4, 1).numpy()


@torch.no_grad()
def wanpipeline_generate(model_dir, prompt, seed, height=32, width=32, frames=1, steps=20, cfg=5.0, shift=2.0):
    """Same thing through diffusers' own WanPipeline: vae is None (model_index "vae": [null, null]);
    passing `latents` skips its VAE-shaped prepare_latents and output_type="latent" skips decoding,
    so the returned latents are the pixels in [-1, 1]."""
    from diffusers import UniPCMultistepScheduler, WanPipeline
    pipe = WanPipeline.from_pretrained(model_dir, dtype=torch.float32, vae=None, transformer_2=None)
    pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=shift)
    lat = torch.randn((1, 3, frames, height, width), generator=torch.Generator().manual_seed(int(seed)))
    # the text length ditgen reads from model_index.json (diffusers' 512 when the folder has none)
    idx = json.load(open(os.path.join(model_dir, "model_index.json")))
    text_len = idx.get("_ditgen_defaults", {}).get("max_sequence_length", 512)
    out = pipe(prompt=prompt, negative_prompt="", height=height, width=width, num_frames=frames,
               num_inference_steps=steps, guidance_scale=cfg, latents=lat, output_type="latent",
               max_sequence_length=text_len).frames
    x = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 4, 1).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("prompt")
    ap.add_argument("--out", default="/tmp/shapes_sample.png")
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=None)
    ap.add_argument("--shift", type=float, default=None)
    ap.add_argument("--sampler", default="unipc")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-pipeline", action="store_true",
                    help="also run diffusers' WanPipeline and report the max pixel difference")
    a = ap.parse_args()
    torch.set_num_threads(2)
    idx = json.load(open(os.path.join(a.model_dir, "model_index.json")))
    d = idx.get("_ditgen_defaults", {})
    cfg = a.cfg if a.cfg is not None else d.get("guidance_scale", 5.0)
    shift = a.shift if a.shift is not None else d.get("flow_shift", 2.0)
    tr, te, tok = load(a.model_dir)
    v = generate(tr, te, tok, [a.prompt], [a.seed], a.size, a.size, a.frames, a.steps, cfg, shift,
                 a.sampler, max_len=tok.model_max_length, model_dir=a.model_dir)
    from PIL import Image
    Image.fromarray(np.concatenate(list(v[0]), axis=1)).save(a.out)
    print("wrote", a.out)
    if a.check_pipeline:
        w = wanpipeline_generate(a.model_dir, a.prompt, a.seed, a.size, a.size, a.frames, a.steps, cfg, shift)
        d = np.abs(w.astype(int) - v.astype(int))
        print(f"WanPipeline vs this sampler: max |diff| {d.max()} (uint8), mean {d.mean():.4f}")


if __name__ == "__main__":
    main()
