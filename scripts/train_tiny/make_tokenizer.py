"""Train a SentencePiece Unigram tokenizer on the captions and export it as an HF T5 tokenizer.

Ids follow T5: <pad>=0, </s>=1, <unk>=2, no BOS. nmt_nfkc normalisation. The result
(tokenizer.json, tokenizer_config.json, special_tokens_map.json, spiece.model) goes to
<out>/tokenizer/ with model_max_length = MAX_LEN.
"""
import io
import os
import sys

import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import all_caption_corpus  # noqa: E402

MAX_LEN = 32
VOCAB = 256


def main(out_dir):
    caps = all_caption_corpus(40000, seed=123)
    # a few extra lines so every lowercase letter, digit and common punctuation has a piece
    caps += ["", "a", "an", "the", "and", "with", "of", "in", "on", "at",
             "abcdefghijklmnopqrstuvwxyz", "0123456789", ". , ! ? - ' \" : ;",
             "a quick brown fox jumps over the lazy dog", "video image picture photo shape"]
    tok_dir = os.path.join(out_dir, "tokenizer")
    os.makedirs(tok_dir, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(caps), model_writer=model, model_type="unigram",
        vocab_size=VOCAB, hard_vocab_limit=False, normalization_rule_name="nmt_nfkc",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>",
        unk_piece="<unk>", character_coverage=1.0, byte_fallback=False,
        split_digits=True, num_threads=1, minloglevel=2)
    spm_path = os.path.join(tok_dir, "spiece.model")
    with open(spm_path, "wb") as f:
        f.write(model.getvalue())
    from transformers import T5TokenizerFast
    # from_pretrained on a folder holding only spiece.model converts it (transformers 5)
    tok = T5TokenizerFast.from_pretrained(tok_dir, extra_ids=0, model_max_length=MAX_LEN)
    tok.save_pretrained(tok_dir)
    smap = os.path.join(tok_dir, "special_tokens_map.json")
    if not os.path.exists(smap):  # transformers 5 no longer writes it; older loaders read it
        import json
        with open(smap, "w") as f:
            json.dump({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}, f, indent=2)
    sp = spm.SentencePieceProcessor(model_file=spm_path)
    print("spm vocab", sp.get_piece_size(), "hf vocab", len(tok))
    for c in caps[:3] + ["a red circle moving left on a blue background", ""]:
        a = sp.encode(c) + [1]
        b = tok(c)["input_ids"]
        print(c, a, b, "OK" if a == b else "MISMATCH")
    return tok


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "assets/shapes-tiny")
