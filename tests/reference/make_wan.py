"""Fixtures for the Wan2.1 transformer parity tests (tests/test_wan.c, tests/test_ops.c).

Builds a tiny random WanTransformer3DModel (the diffusers class, same code path
as Wan2.1-T2V-1.3B with small widths), saves it in the diffusers folder layout
(f32 and a bf16 copy), and records per-op, per-block and full-model outputs in
float32. Run from the repo root:  python tests/reference/make_wan.py
Needs torch, diffusers, safetensors (not needed by CI: the outputs are committed).
"""
import json
import os

import torch
import torch.nn.functional as F
from diffusers import WanTransformer3DModel
from diffusers.models.embeddings import get_timestep_embedding
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")

CONFIG = dict(
    patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
    text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
    qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=32,
)


def make_model(seed):
    torch.manual_seed(seed)
    model = WanTransformer3DModel(**CONFIG).eval()
    # Default init leaves some tensors at zero/one; randomise everything so every path is exercised.
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.ndim > 1 else 0.5))
    return model


def run_case(model, x, t, ctx, prefix, out):
    """Full output plus intermediate activations captured with hooks."""
    caps = {}
    hooks = [
        model.blocks[i].register_forward_hook(lambda m, a, o, i=i: caps.__setitem__(f"block{i}", o.detach().clone()))
        for i in range(len(model.blocks))
    ]
    hooks.append(model.condition_embedder.register_forward_hook(
        lambda m, a, o: caps.update(temb=o[0].detach().clone(), tproj=o[1].detach().clone(), ctx=o[2].detach().clone())))
    hooks.append(model.patch_embedding.register_forward_hook(
        lambda m, a, o: caps.__setitem__("patch", o.detach().flatten(2).transpose(1, 2).contiguous())))
    with torch.no_grad():
        y = model(x, torch.tensor([t], dtype=torch.int64), ctx, return_dict=False)[0]
        cos, sin = model.rope(x)
    for h in hooks:
        h.remove()
    out[f"{prefix}.x"] = x[0].clone()
    out[f"{prefix}.t"] = torch.tensor([float(t)])
    out[f"{prefix}.context"] = ctx[0].clone()
    out[f"{prefix}.out"] = y[0].contiguous()
    out[f"{prefix}.rope_cos"] = cos[0, :, 0].float().contiguous()
    out[f"{prefix}.rope_sin"] = sin[0, :, 0].float().contiguous()
    for k, v in caps.items():
        out[f"{prefix}.{k}"] = v[0].contiguous()


def save_folder(model, path, dtype):
    os.makedirs(os.path.join(path, "transformer"), exist_ok=True)
    sd = {k: v.to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(path, "transformer", "diffusion_pytorch_model.safetensors"))
    cfg = dict(model.config)
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items() if not k.startswith("_")}
    cfg["_class_name"] = "WanTransformer3DModel"
    with open(os.path.join(path, "transformer", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def op_fixtures():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(5, 24, generator=g) * 3 + 0.5
    gamma = torch.randn(24, generator=g)
    beta = torch.randn(24, generator=g)
    w = torch.randn(10, 24, generator=g)
    b = torch.randn(10, generator=g)
    out = {"x": x, "gamma": gamma, "beta": beta, "w": w, "b": b}
    out["layernorm"] = F.layer_norm(x, (24,), eps=1e-6)
    out["layernorm_affine"] = F.layer_norm(x, (24,), gamma, beta, eps=1e-6)
    out["rmsnorm"] = torch.nn.RMSNorm(24, eps=1e-6, elementwise_affine=False)(x)
    rms = torch.nn.RMSNorm(24, eps=1e-6)
    with torch.no_grad():
        rms.weight.copy_(gamma)
        out["rmsnorm_affine"] = rms(x)
        out["gelu_tanh"] = F.gelu(x, approximate="tanh")
        out["silu"] = F.silu(x)
        out["linear"] = F.linear(x, w, b)
        out["linear_bf16w"] = F.linear(x, w.bfloat16().float(), b)
        ts = torch.tensor([0, 1, 500, 937, 999])
        out["timesteps"] = ts.float()
        out["sinusoid"] = get_timestep_embedding(ts, 256, flip_sin_to_cos=True, downscale_freq_shift=0)
        q = torch.randn(1, 3, 37, 16, generator=g)
        k = torch.randn(1, 3, 53, 16, generator=g)
        v = torch.randn(1, 3, 53, 16, generator=g)
        out["sdpa_q"], out["sdpa_k"], out["sdpa_v"] = q[0], k[0], v[0]
        out["sdpa"] = F.scaled_dot_product_attention(q, k, v)[0]
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, "ops.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    op_fixtures()
    model = make_model(0)
    g = torch.Generator().manual_seed(1)
    video = torch.randn(1, 16, 3, 6, 10, generator=g)  # 3 latent frames, non-square -> 3x3x5 tokens
    image = torch.randn(1, 16, 1, 8, 6, generator=g)   # T=1, portrait
    ctx = torch.randn(1, 7, 32, generator=g)
    ctx[:, 5:] = 0  # Wan zero-fills the slots past the prompt
    out = {}
    run_case(model, video, 937, ctx, "video", out)
    run_case(model, image, 500, ctx, "image", out)
    save_folder(model, os.path.join(OUT, "wan_tiny"), torch.float32)
    save_file(out, os.path.join(OUT, "wan_tiny_io.safetensors"))

    # bf16 checkpoint: the reference runs the bf16-rounded weights in float32.
    save_folder(model, os.path.join(OUT, "wan_tiny_bf16"), torch.bfloat16)
    rounded = make_model(0)
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.bfloat16().float())
    out16 = {}
    run_case(rounded, video, 937, ctx, "video", out16)
    save_file({k: v for k, v in out16.items() if k in ("video.out",)}, os.path.join(OUT, "wan_tiny_bf16_io.safetensors"))


if __name__ == "__main__":
    main()
