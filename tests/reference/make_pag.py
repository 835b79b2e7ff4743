"""Fixtures for SoftPAG / PAG guidance parity (tests/test_pag.c).

Head-level perturbation guidance (guidance-and-clip-parallel.md A3/A4) on the tiny Wan transformer of
make_wan.py: the chosen (layer, head) pairs of self-attention get O_h = (1-u) O_h + u V_h (their attention
map blended toward identity), and each step combines three passes as HeadHunter's pipeline does:

    v = v_u + s_cfg (v_c - v_u)        (diffusers' CFG, only when s_cfg > 1)
    v = v + s_pag (v_c - v_p)          (v_p: the cond pass with the heads perturbed)

The blend is applied by wrapping torch's scaled_dot_product_attention inside the chosen blocks' attn1, so
diffusers' own Wan attention code runs unchanged. The loop is WanPipeline's (same noise, scheduler, dtype);
with s_pag = 0 it reproduces WanPipeline's latents, which the script asserts.
Run from the repo root after make_wan.py and make_pipeline.py:  python tests/reference/make_pag.py
"""
import os

import torch
import torch.nn.functional as F
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from safetensors.torch import load_file, save_file

FIX = os.path.join(os.path.dirname(__file__), "..", "fixtures")
STATE = {"layer": None, "u": None}  # u: {layer: tensor [heads]} while the perturbed pass runs
_sdpa = F.scaled_dot_product_attention


def perturbed_sdpa(query, key, value, *args, **kwargs):
    out = _sdpa(query, key, value, *args, **kwargs)
    u = STATE["u"].get(STATE["layer"]) if STATE["u"] is not None and STATE["layer"] is not None else None
    if u is None:
        return out
    u = u.view(1, -1, 1, 1).to(out.dtype)  # [B, H, S, D] layout inside SDPA
    return (1 - u) * out + u * value


def install(transformer):
    F.scaled_dot_product_attention = perturbed_sdpa
    for i, blk in enumerate(transformer.blocks):
        blk.attn1.register_forward_pre_hook(lambda m, a, i=i: STATE.__setitem__("layer", i))
        blk.attn1.register_forward_hook(lambda m, a, o: STATE.__setitem__("layer", None))


def u_table(heads, layers, n_heads, u):
    t = {}
    for layer, head in heads:
        t.setdefault(layer, torch.zeros(n_heads))
        for h in (range(n_heads) if head == "*" else [head]):
            t[layer][h] = u
    return t


def sample(transformer, scheduler, prompt, negative, seed, steps, cfg, pag, heads, u):
    pipe = WanPipeline(tokenizer=None, text_encoder=None, transformer=transformer, vae=None, scheduler=scheduler)
    lat = pipe.prepare_latents(1, 16, 48, 64, 9, torch.float32, torch.device("cpu"),
                               torch.Generator().manual_seed(seed))
    scheduler.set_timesteps(steps, device="cpu")
    table = u_table(heads, len(transformer.blocks), transformer.config.num_attention_heads, u)
    with torch.no_grad():
        for t in scheduler.timesteps:
            ts = t.expand(lat.shape[0])
            vc = transformer(hidden_states=lat, timestep=ts, encoder_hidden_states=prompt, return_dict=False)[0]
            v = vc
            if cfg > 1:
                vu = transformer(hidden_states=lat, timestep=ts, encoder_hidden_states=negative, return_dict=False)[0]
                v = vu + cfg * (vc - vu)
            if pag > 0:
                STATE["u"] = table
                vp = transformer(hidden_states=lat, timestep=ts, encoder_hidden_states=prompt, return_dict=False)[0]
                STATE["u"] = None
                v = v + pag * (vc - vp)
            lat = scheduler.step(v, t, lat, return_dict=False)[0]
    return lat


def unipc(shift):
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000,
                                   flow_shift=shift)


def main():
    transformer = WanTransformer3DModel.from_pretrained(os.path.join(FIX, "wan_tiny", "transformer")).eval()
    ctx = load_file(os.path.join(FIX, "wan_tiny_context.safetensors"))
    prompt, negative = ctx["prompt_embeds"], ctx["negative_prompt_embeds"]
    install(transformer)

    # the loop without PAG is WanPipeline's
    ref = load_file(os.path.join(FIX, "wan_tiny_pipeline.safetensors"))["unipc.latents"]
    lat = sample(transformer, unipc(3.0), prompt, negative, 42, 4, 5.0, 0.0, [], 0.0)
    assert torch.equal(lat[0], ref), float((lat[0] - ref).abs().max())

    # (name, sampler, seed, cfg, pag scale, heads as (layer, head or "*"), u)
    cases = [
        ("softpag_cfg", "unipc", 42, 5.0, 2.0, [(0, 1), (1, 0)], 0.5),
        ("pag_layer", "euler", 7, 1.0, 3.0, [(1, "*")], 1.0),
    ]
    out = {}
    for name, sampler, seed, cfg, pag, heads, u in cases:
        sched = unipc(3.0) if sampler == "unipc" else FlowMatchEulerDiscreteScheduler(shift=3.0)
        lat = sample(transformer, sched, prompt, negative, seed, 4, cfg, pag, heads, u)
        base = sample(transformer, unipc(3.0) if sampler == "unipc" else FlowMatchEulerDiscreteScheduler(shift=3.0),
                      prompt, negative, seed, 4, cfg, 0.0, [], 0.0)
        out[f"{name}.latents"] = lat[0].contiguous()
        print(name, tuple(lat.shape), "max |lat|", float(lat.abs().max()), "PAG moved it by",
              float((lat - base).abs().max()))
    save_file(out, os.path.join(FIX, "wan_tiny_pag.safetensors"))


if __name__ == "__main__":
    main()
