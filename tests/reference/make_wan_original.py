"""The tiny Wan transformer (tests/fixtures/wan_tiny, from make_wan.py) in the
ORIGINAL Wan layout (Wan-AI/Wan2.1-T2V-*: WanModel config.json, original tensor
names) for tests/test_wan.c. The renaming is the inverse of diffusers'
convert_wan_transformer_to_diffusers, which checks it: converting the written
state dict back must give the diffusers one exactly. Run from the repo root:
python tests/reference/make_wan_original.py (needs diffusers, safetensors, torch).
"""
import json
import os
import re

from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers
from safetensors.torch import load_file, save_file

FIX = os.path.join(os.path.dirname(__file__), "..", "fixtures")

TOP = [
    ("condition_embedder.time_embedder.linear_1.", "time_embedding.0."),
    ("condition_embedder.time_embedder.linear_2.", "time_embedding.2."),
    ("condition_embedder.time_proj.", "time_projection.1."),
    ("condition_embedder.text_embedder.linear_1.", "text_embedding.0."),
    ("condition_embedder.text_embedder.linear_2.", "text_embedding.2."),
    ("scale_shift_table", "head.modulation"),
    ("proj_out.", "head.head."),
]
BLOCK = [
    ("scale_shift_table", "modulation"),
    ("attn1.to_out.0.", "self_attn.o."),
    ("attn2.to_out.0.", "cross_attn.o."),
    ("attn1.to_", "self_attn."),
    ("attn2.to_", "cross_attn."),
    ("attn1.", "self_attn."),
    ("attn2.", "cross_attn."),
    ("norm2.", "norm3."),  # original norm3 is the cross-attention norm
    ("ffn.net.0.proj.", "ffn.0."),
    ("ffn.net.2.", "ffn.2."),
]


def original_name(name):
    m = re.match(r"(blocks\.\d+\.)(.*)", name)
    head, rest, table = (m.group(1), m.group(2), BLOCK) if m else ("", name, TOP)
    for d, o in table:
        if rest.startswith(d):
            return head + o + rest[len(d):]
    return name


def main():
    src = os.path.join(FIX, "wan_tiny", "transformer")
    sd = load_file(os.path.join(src, "diffusion_pytorch_model.safetensors"))
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    orig = {original_name(k): v for k, v in sd.items()}
    assert len(orig) == len(sd)
    back = convert_wan_transformer_to_diffusers(dict(orig))
    assert sorted(back) == sorted(sd), set(back) ^ set(sd)
    assert all(back[k].equal(sd[k]) for k in sd)

    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    out = os.path.join(FIX, "wan_tiny_original")
    os.makedirs(out, exist_ok=True)
    save_file({k: v.contiguous() for k, v in orig.items()}, os.path.join(out, "diffusion_pytorch_model.safetensors"))
    config = {  # the fields of Wan-AI/Wan2.1-T2V-1.3B/config.json
        "_class_name": "WanModel", "_diffusers_version": "0.30.0", "dim": dim, "eps": cfg["eps"],
        "ffn_dim": cfg["ffn_dim"], "freq_dim": cfg["freq_dim"], "in_dim": cfg["in_channels"], "model_type": "t2v",
        "num_heads": cfg["num_attention_heads"], "num_layers": cfg["num_layers"], "out_dim": cfg["out_channels"],
        "text_len": 512,
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
