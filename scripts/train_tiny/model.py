"""Model definitions and Wan-pipeline conventions shared by train/export/sample."""
import torch
from diffusers import WanTransformer3DModel
from transformers import UMT5Config, UMT5EncoderModel

MAX_LEN = 32  # text max length (Wan uses 512)
TEXT_DIM = 64

TRANSFORMER_CFG = dict(
    patch_size=(1, 4, 4), num_attention_heads=2, attention_head_dim=64, in_channels=3,
    out_channels=3, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=384, num_layers=4,
    cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=None,
    added_kv_proj_dim=None, rope_max_seq_len=64)


def make_text_encoder(vocab_size):
    cfg = UMT5Config(
        vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=16, d_ff=128, num_layers=2,
        num_decoder_layers=2, num_heads=4, relative_attention_num_buckets=32,
        relative_attention_max_distance=128, dropout_rate=0.0, layer_norm_epsilon=1e-6,
        feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0, tie_word_embeddings=False)
    return UMT5EncoderModel(cfg)


def make_transformer():
    return WanTransformer3DModel(**TRANSFORMER_CFG)


def tokenize(tok, prompts):
    t = tok(prompts, padding="max_length", max_length=MAX_LEN, truncation=True,
            add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    return t.input_ids, t.attention_mask


def encode_text(te, ids, mask):
    """diffusers WanPipeline._get_t5_prompt_embeds: embeddings past each prompt's real token
    count are zero-filled (equivalent to multiplying by the mask, since the mask is a prefix)."""
    h = te(ids, mask).last_hidden_state
    return h * mask[..., None].to(h.dtype)
