"""Fixture for tests/test_text_slots.c: how many text slots WanPipeline encodes a prompt to.

diffusers pads and truncates to the pipeline's max_sequence_length (512 by default) whatever
the tokenizer's model_max_length says; a folder may choose its own length (ditgen reads it from
model_index.json's _ditgen_defaults.max_sequence_length). Uses wan_tiny's tokenizer (with
model_max_length 32, as a small model's tokenizer_config.json may say) and umT5 encoder, made by
make_pipeline.py. Run from the repo root:  python tests/reference/make_text_slots.py
Needs torch, diffusers, transformers, safetensors (not needed by CI: the output is committed).
"""
import inspect
import os

import torch
from diffusers import WanPipeline
from safetensors.torch import save_file
from transformers import PreTrainedTokenizerFast, UMT5EncoderModel

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
PROMPT = "a red circle on a blue background"
FOLDER_LENGTH = 24  # keep in step with tests/test_text_slots.c


def main():
    root = os.path.join(FIX, "wan_tiny")
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(root, "tokenizer", "tokenizer.json"), eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>", model_max_length=32)
    enc = UMT5EncoderModel.from_pretrained(os.path.join(root, "text_encoder")).eval()
    pipe = WanPipeline(tokenizer=tok, text_encoder=enc, transformer=None, vae=None, scheduler=None)
    default = inspect.signature(WanPipeline.__call__).parameters["max_sequence_length"].default
    out = {}
    with torch.no_grad():
        for name, length in (("default", default), ("folder", FOLDER_LENGTH)):
            emb, _ = pipe.encode_prompt(PROMPT, do_classifier_free_guidance=False, max_sequence_length=length)
            out[f"{name}.prompt_embeds"] = emb[0].contiguous()
    save_file(out, os.path.join(FIX, "wan_tiny_text_slots.safetensors"))
    print({k: tuple(v.shape) for k, v in out.items()})


if __name__ == "__main__":
    main()
