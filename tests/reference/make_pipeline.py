"""Fixtures for the end-to-end denoising parity test (tests/test_pipeline.c).

Runs diffusers' WanPipeline on the tiny transformer from make_wan.py (run that
first) with precomputed prompt embeddings, a CPU generator and fixed seeds, and
saves the final latents (output_type="latent") for UniPC and flow-match Euler.
Also writes the embeddings file the README's demo command and the CLI tests use.
Run from the repo root:  python tests/reference/make_pipeline.py
"""
import json
import os
import shutil

import torch
from diffusers import (AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler, WanPipeline,
                       WanTransformer3DModel)
from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

FIX = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def main():
    transformer = WanTransformer3DModel.from_pretrained(os.path.join(FIX, "wan_tiny", "transformer")).eval()
    g = torch.Generator().manual_seed(3)
    prompt = torch.randn(1, 7, 32, generator=g)
    prompt[:, 5:] = 0  # Wan zero-fills past the prompt's tokens
    negative = torch.randn(1, 7, 32, generator=g)
    negative[:, 2:] = 0
    save_file({"prompt_embeds": prompt, "negative_prompt_embeds": negative},
              os.path.join(FIX, "wan_tiny_context.safetensors"))
    save_file({"prompt_embeds": prompt}, os.path.join(FIX, "wan_tiny_context_noneg.safetensors"))

    out = {}
    cases = [
        ("unipc", UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                          num_train_timesteps=1000, flow_shift=3.0), 42, 5.0),
        ("euler", FlowMatchEulerDiscreteScheduler(shift=3.0), 7, 5.0),
        ("unipc_nocfg", UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                                num_train_timesteps=1000, flow_shift=5.0), 1234, 1.0),
    ]
    for name, scheduler, seed, cfg in cases:
        pipe = WanPipeline(tokenizer=None, text_encoder=None, transformer=transformer, vae=None, scheduler=scheduler)
        with torch.no_grad():
            lat = pipe(prompt_embeds=prompt, negative_prompt_embeds=negative if cfg > 1 else None,
                       height=48, width=64, num_frames=9, num_inference_steps=4, guidance_scale=cfg,
                       generator=torch.Generator().manual_seed(seed), output_type="latent").frames
        out[f"{name}.latents"] = lat[0].contiguous()
        out[f"{name}.seed"] = torch.tensor([float(seed)])
        out[f"{name}.cfg"] = torch.tensor([cfg])
        print(name, tuple(lat.shape), float(lat.abs().max()))
    out.update(text_pipeline(transformer))
    out.update(full_pipeline(transformer))
    save_file(out, os.path.join(FIX, "wan_tiny_pipeline.safetensors"))


PROMPTS = [("a red circle on a blue background", "blurry, low quality"), ("  Ｈello &amp; wörld  ", "")]


def text_pipeline(transformer):
    """Give wan_tiny a tokenizer (the tokenizer test's) and a tiny random umT5, then run
    WanPipeline from prompt strings: tokenizer + encoder + zero-fill + CFG + sampler."""
    root = os.path.join(FIX, "wan_tiny")
    tok_dir = os.path.join(root, "tokenizer")
    os.makedirs(tok_dir, exist_ok=True)
    shutil.copy(os.path.join(FIX, "tokenizer", "tokenizer.json"), tok_dir)
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(tok_dir, "tokenizer.json"), eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(5)
    enc = UMT5EncoderModel(UMT5Config(vocab_size=len(tok), d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=2,
                                      relative_attention_num_buckets=8, relative_attention_max_distance=16,
                                      feed_forward_proj="gated-gelu", dropout_rate=0.0, layer_norm_epsilon=1e-6,
                                      tie_word_embeddings=False)).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    enc.save_pretrained(os.path.join(root, "text_encoder"))
    with open(os.path.join(root, "model_index.json"), "w") as f:
        json.dump({"_class_name": "WanPipeline", "scheduler": ["diffusers", "UniPCMultistepScheduler"],
                   "text_encoder": ["transformers", "UMT5EncoderModel"], "tokenizer": ["transformers", "T5TokenizerFast"],
                   "transformer": ["diffusers", "WanTransformer3DModel"],
                   "vae": ["diffusers", "AutoencoderKLWan"]}, f, indent=2)
    out = {}
    for i, (prompt, negative) in enumerate(PROMPTS):
        pipe = WanPipeline(tokenizer=tok, text_encoder=enc, transformer=transformer, vae=None,
                           scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                                             num_train_timesteps=1000, flow_shift=3.0))
        with torch.no_grad():
            emb, neg = pipe.encode_prompt(prompt, negative, do_classifier_free_guidance=True, max_sequence_length=512)
            lat = pipe(prompt=prompt, negative_prompt=negative, height=48, width=64, num_frames=9,
                       num_inference_steps=3, guidance_scale=4.0, generator=torch.Generator().manual_seed(11),
                       output_type="latent").frames
        out[f"text{i}.prompt_embeds"] = emb[0].contiguous()
        out[f"text{i}.negative_prompt_embeds"] = neg[0].contiguous()
        out[f"text{i}.latents"] = lat[0].contiguous()
    return out


def full_pipeline(transformer):
    """Prompt to decoded frames with the tiny VAE (wan_tiny/vae -> wan_vae_tiny, made by
    make_wan_vae.py; its encoder weights are absent, which decoding never reads)."""
    root = os.path.join(FIX, "wan_tiny")
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(root, "tokenizer", "tokenizer.json"), eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>")
    enc = UMT5EncoderModel.from_pretrained(os.path.join(root, "text_encoder")).eval()
    vae_dir = os.path.join(root, "vae")
    with open(os.path.join(vae_dir, "config.json")) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    vae = AutoencoderKLWan(**cfg).eval()
    missing = vae.load_state_dict(load_file(os.path.join(vae_dir, "diffusion_pytorch_model.safetensors")),
                                  strict=False).missing_keys
    assert all(k.startswith("encoder.") for k in missing), missing
    out = {}
    cases = [("full_unipc", "unipc", 9, 21), ("full_euler", "euler", 9, 22), ("full_image", "unipc", 1, 23)]
    for name, sampler, frames, seed in cases:
        sched = (UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                         num_train_timesteps=1000, flow_shift=3.0) if sampler == "unipc"
                 else FlowMatchEulerDiscreteScheduler(shift=3.0))
        pipe = WanPipeline(tokenizer=tok, text_encoder=enc, transformer=transformer, vae=vae, scheduler=sched)
        with torch.no_grad():
            video = pipe(prompt="a red circle on a blue background", negative_prompt="blurry", height=48, width=64,
                         num_frames=frames, num_inference_steps=3, guidance_scale=4.0,
                         generator=torch.Generator().manual_seed(seed), output_type="np").frames
        out[f"{name}.frames"] = torch.from_numpy(video[0]).float().contiguous()  # [F, H, W, 3] in [0, 1]
        out[f"{name}.seed"] = torch.tensor([float(seed)])
        print(name, video.shape)
    return out


if __name__ == "__main__":
    main()
