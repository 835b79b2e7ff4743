"""Fixture for tests/test_tokenizer_classes.c: tokenizer folders whose tokenizer_config.json
names a class, loaded the way diffusers loads a pipeline's tokenizer
(getattr(transformers, class).from_pretrained(folder)) with transformers 5.25.0.

transformers 5 rebuilds a T5Tokenizer / T5TokenizerFast from tokenizer.json's vocabulary and
charsmap (normalizer, pre-tokenizer, post-processor and added tokens are its own) instead of
reading tokenizer.json literally; PreTrainedTokenizerFast reads it literally.

Reads tests/fixtures/tokenizer/{tokenizer.json,corpus.json} (make_tokenizer.py) and writes
tests/fixtures/tokenizer/:
  classes.json  {"extra_texts": [...], "variants": {name: {"tokenizer_config": {...},
                 "special_tokens_map": {...} (optional), "model": {...} / "normalizer": ...
                 (optional replacements in tokenizer.json)}}}
  classes.bin   little-endian uint16: for each variant in order: pad id, eos id, vocabulary
                size (len(tokenizer)), then for each text (corpus texts, then extra_texts):
                count, ids (max_length=512, truncation=True, add_special_tokens=True).
"""
import json
import os
import shutil
import struct
import tempfile

import transformers
from tokenizers import Tokenizer

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizer")
MAX_LEN = 512
TOK = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
       "special": True}

EXTRA_TEXTS = ["a <s> b", "x<new_tok>y", " <extra_id_0>  z ", "<zz><extra_id_1>", "w <extra_id_0>", "<extra_id_99>",
               "<extra_id_20> <extra_id_19>", "unknown ☃ glyph", "  spaced   out  "]

VARIANTS = {
    # What transformers does with a bare class name: extra_ids defaults to 100, so <extra_id_20..99>
    # (absent from this 20-sentinel vocabulary) become new tokens.
    "t5_default": {"tokenizer_config": {"tokenizer_class": "T5Tokenizer"}},
    "t5fast_extra20": {"tokenizer_config": {"tokenizer_class": "T5TokenizerFast", "extra_ids": 20,
                                            "model_max_length": 512}},
    # As assets/shapes-tiny ships it.
    "t5_shipped_form": {"tokenizer_config": {"tokenizer_class": "T5Tokenizer", "extra_ids": 0,
                                             "extra_special_tokens": ["<pad>", "</s>"], "eos_token": "</s>",
                                             "pad_token": "<pad>", "unk_token": "<unk>", "unk_id": 2}},
    # added_tokens_decoder with stripping flags and a token outside the vocabulary, a bos token,
    # an object eos token, explicit extra special tokens.
    "t5_decoder": {"tokenizer_config": {
        "tokenizer_class": "T5Tokenizer",
        "added_tokens_decoder": {
            "0": dict(TOK, content="<pad>"), "1": dict(TOK, content="</s>"), "2": dict(TOK, content="<unk>"),
            "1519": dict(TOK, content="<extra_id_0>", lstrip=True, rstrip=True),
            "1600": dict(TOK, content="<new_tok>")},
        "bos_token": "<s>", "eos_token": dict(TOK, content="</s>", __type="AddedToken"),
        "extra_special_tokens": ["<extra_id_1>", "<zz>"]}},
    # No added_tokens_decoder: special_tokens_map.json overrides the config's pad token;
    # tokenizer.json without a charsmap, with another unk_id and byte_fallback, which the
    # rebuild ignores.
    "t5_map_no_charsmap": {
        "tokenizer_config": {"tokenizer_class": "T5TokenizerFast", "extra_ids": 0, "pad_token": "<pad>"},
        "special_tokens_map": {"eos_token": "</s>", "pad_token": "<unk>", "unk_token": "<unk>"},
        "normalizer": {"type": "Strip", "strip_left": False, "strip_right": True},
        "model": {"unk_id": 0, "byte_fallback": True}},
    "literal": {"tokenizer_config": {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>",
                                     "pad_token": "<pad>"}},
}


def main():
    base = json.load(open(os.path.join(FIX, "tokenizer.json"), encoding="utf-8"))
    texts = json.load(open(os.path.join(FIX, "corpus.json"), encoding="utf-8"))["texts"] + EXTRA_TEXTS
    literal = Tokenizer.from_file(os.path.join(FIX, "tokenizer.json"))
    literal.enable_truncation(MAX_LEN)
    literal_ids = [e.ids for e in literal.encode_batch(texts)]
    out = bytearray()

    def put(ids):
        assert all(0 <= i < 65536 for i in ids)
        out.extend(struct.pack("<%dH" % len(ids), *ids))

    for name, v in VARIANTS.items():
        with tempfile.TemporaryDirectory() as d:
            j = json.loads(json.dumps(base))
            if "normalizer" in v:
                j["normalizer"] = v["normalizer"]
            j["model"].update(v.get("model", {}))
            json.dump(j, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
            json.dump(v["tokenizer_config"], open(os.path.join(d, "tokenizer_config.json"), "w"))
            if "special_tokens_map" in v:
                json.dump(v["special_tokens_map"], open(os.path.join(d, "special_tokens_map.json"), "w"))
            cls = getattr(transformers, v["tokenizer_config"]["tokenizer_class"])
            tok = cls.from_pretrained(d)
            auto = transformers.AutoTokenizer.from_pretrained(d)
            enc = tok(texts, max_length=MAX_LEN, truncation=True, add_special_tokens=True)["input_ids"]
            assert auto(texts, max_length=MAX_LEN, truncation=True)["input_ids"] == enc
            put([tok.pad_token_id, tok.eos_token_id, len(tok)])
            for ids in enc:
                put([len(ids)] + ids)
            n_diff = sum(a != b for a, b in zip(enc, literal_ids))
            print(f"{name}: {type(tok).__name__}, pad {tok.pad_token_id}, eos {tok.eos_token_id}, {len(tok)} ids, "
                  f"{n_diff} of {len(texts)} texts differ from the literal tokenizer.json")
    with open(os.path.join(FIX, "classes.bin"), "wb") as f:
        f.write(out)
    with open(os.path.join(FIX, "classes.json"), "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "extra_texts": EXTRA_TEXTS, "variants": VARIANTS}, f,
                  ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
