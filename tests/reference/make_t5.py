"""Fixtures for the umT5 / T5 encoder parity test (tests/test_umt5.c).

Builds tiny random UMT5EncoderModel and T5EncoderModel instances (transformers
classes, same code paths as umT5-XXL / T5 v1.1 with small widths), saves them
with save_pretrained as text_encoder folders (umT5 also as a bf16 copy, and a
non-gated relu T5), and records last_hidden_state in float32 for a few id
sequences, plus the relative position buckets for the tiny and the XXL bucket
settings. Run from the repo root:  python tests/reference/make_t5.py
Needs torch, transformers, safetensors (not needed by CI: outputs are committed).
"""
import os

import torch
from safetensors.torch import save_file
from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel
from transformers.models.umt5.modeling_umt5 import UMT5Attention

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")
VOCAB = 256
WIDTHS = dict(vocab_size=VOCAB, d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=2,
              relative_attention_num_buckets=8, relative_attention_max_distance=16, dropout_rate=0.0,
              layer_norm_epsilon=1e-6, tie_word_embeddings=False,
              attn_implementation="eager")


def randomise(model, seed):
    # Default init leaves the norms at one; randomise everything so every path is exercised.
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn_like(p))
            elif name.endswith("shared.weight") or "embed_tokens" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * p.shape[1] ** -0.5)
    return model.eval()


def cases():
    g = torch.Generator().manual_seed(3)
    ids_a = torch.randint(0, VOCAB, (7,), generator=g)
    ids_b = torch.randint(0, VOCAB, (1,), generator=g)
    ids_c = torch.randint(0, VOCAB, (40,), generator=g)  # 40 > max_distance 16: the log buckets
    return {
        "a": (ids_a, torch.tensor([1] * 5 + [0] * 2)),
        "b": (ids_b, torch.tensor([1])),
        "c": (ids_c, torch.tensor([1] * 33 + [0] * 7)),
    }


def run(model, out, prefix):
    for name, (ids, mask) in cases().items():
        with torch.no_grad():
            y = model(input_ids=ids[None], attention_mask=mask[None]).last_hidden_state[0]
        out[f"{prefix}.{name}.out"] = y.float().contiguous()


def buckets(nb, md, span):
    cfg = UMT5Config(d_model=8, d_kv=2, num_heads=4, relative_attention_num_buckets=nb,
                     relative_attention_max_distance=md)
    attn = UMT5Attention(cfg, has_relative_attention_bias=True)
    r = torch.arange(-span, span + 1)
    return attn._relative_position_bucket(r).to(torch.float32)


def main():
    out = {}
    for name, (ids, mask) in cases().items():
        out[f"{name}.ids"] = ids.to(torch.float32)
        out[f"{name}.mask"] = mask.to(torch.float32)

    umt5 = randomise(UMT5EncoderModel(UMT5Config(feed_forward_proj="gated-gelu", **WIDTHS)), 1)
    umt5.save_pretrained(os.path.join(OUT, "umt5_tiny"), safe_serialization=True)
    run(umt5, out, "umt5")

    # bf16 copy; its reference is the same maths on the bf16-rounded weights in f32.
    umt5_bf16 = randomise(UMT5EncoderModel(UMT5Config(feed_forward_proj="gated-gelu", **WIDTHS)), 1).to(torch.bfloat16)
    umt5_bf16.save_pretrained(os.path.join(OUT, "umt5_tiny_bf16"), safe_serialization=True)
    run(umt5_bf16.float(), out, "umt5_bf16")

    t5 = randomise(T5EncoderModel(T5Config(feed_forward_proj="gated-gelu", **WIDTHS)), 2)
    t5.save_pretrained(os.path.join(OUT, "t5_tiny"), safe_serialization=True)
    run(t5, out, "t5")

    t5r = randomise(T5EncoderModel(T5Config(feed_forward_proj="relu", **WIDTHS)), 4)
    t5r.save_pretrained(os.path.join(OUT, "t5_relu_tiny"), safe_serialization=True)
    run(t5r, out, "t5_relu")

    # The default (sdpa) attention path must agree with eager: the fixture is not eager-specific.
    sd = UMT5EncoderModel.from_pretrained(os.path.join(OUT, "umt5_tiny")).eval()
    for name, (ids, mask) in cases().items():
        with torch.no_grad():
            y = sd(input_ids=ids[None], attention_mask=mask[None]).last_hidden_state[0]
        assert torch.allclose(y, out[f"umt5.{name}.out"], atol=1e-5), name

    out["buckets_8_16"] = buckets(8, 16, 600)
    out["buckets_32_128"] = buckets(32, 128, 600)
    save_file(out, os.path.join(OUT, "t5_tiny_io.safetensors"))


if __name__ == "__main__":
    main()
