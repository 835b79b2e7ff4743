"""Fixture for tests/test_tokenizer.c: a small SentencePiece Unigram model
converted to tokenizer.json by transformers' T5Converter (so the Precompiled
nmt_nfkc charsmap path is real), a test corpus, and the ids Hugging Face
produces for it.

Writes tests/fixtures/tokenizer/:
  tokenizer.json  current converter form: Precompiled, Strip(right),
                  Replace(" {2,}" -> "▁"), Metaspace(prepend_scheme always)
  corpus.json     {"texts": [...], "variants": {name: {"normalizer", "pre_tokenizer"}},
                   "padded": [indices encoded with padding="max_length"]}
                  Variants are other converter forms (old T5/umT5 JSON) that the
                  C test patches into tokenizer.json before encoding.
  ids.bin         little-endian uint16: for each variant in order ("current",
                  then corpus.json's variants), for each text: count, ids
                  (max_length=512, truncation=True, no padding); then for each
                  padded index of "current": 512 ids and 512 mask bytes.

Needs sentencepiece, tokenizers, transformers (5.x), protobuf. Deterministic.
"""
import io
import json
import os
import random
import struct
import tempfile
import unicodedata

import sentencepiece as spm
from tokenizers import AddedToken, Tokenizer
from transformers import PreTrainedTokenizerFast
from transformers.convert_slow_tokenizer import T5Converter

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizer")
MAX_LEN = 512
EXTRA_IDS = 20

WORDS = (
    "the a an of and to in is on with for at by from as it this that video shows cat dog bird fish "
    "city street night day sunset sunrise ocean wave mountain river forest tree flower sky cloud rain snow "
    "car train plane boat walking running flying swimming slowly quickly bright dark red blue green yellow "
    "white black golden silver camera moves close up wide shot cinematic realistic style light shadow "
    "people man woman child old young happy sad dancing playing music garden house window door table "
    "coffee cup book reading writing painting beautiful large small tiny huge ancient modern futuristic"
).split()
ACCENTED = "café naïve résumé façade Zürich São Paulo Ångström Łódź Dvořák crème brûlée jalapeño piñata über Fußball coöperate señor élan déjà vu".split()
CJK = "我们在城市的夜晚看到美丽的灯光一只猫坐在窗户旁边海浪拍打着沙滩山上有很多树东京北京上海视频画面慢慢移动"
JA = "ねこがまどのそばにすわっているカメラがゆっくりうごく"
KO = "고양이가 창문 옆에 앉아 있다 카메라가 천천히 움직인다"
PUNCT = list(".,!?;:-()[]\"'/&%$#@*+=")


def train_text(rng):
    lines = []
    for _ in range(6000):
        n = rng.randint(4, 14)
        ws = [rng.choice(WORDS) for _ in range(n)]
        if rng.random() < 0.3:
            ws.insert(rng.randrange(len(ws) + 1), rng.choice(ACCENTED))
        if rng.random() < 0.3:
            ws.insert(rng.randrange(len(ws) + 1), str(rng.randint(0, 99999)))
        s = " ".join(ws)
        if rng.random() < 0.5:
            s += rng.choice(PUNCT)
        lines.append(s.capitalize() if rng.random() < 0.5 else s)
    for _ in range(1500):
        i = rng.randrange(len(CJK) - 8)
        lines.append(CJK[i : i + rng.randint(3, 12)])
    for _ in range(300):
        lines.append(JA[rng.randrange(10) :] + " " + KO[rng.randrange(10) :])
    return lines


# Characters chosen to exercise the charsmap and grapheme rules.
POOL = (
    list("abcXYZ019 ")
    + ["é", "e\u0301", "n\u0303", "a\u0308\u0301", "\u0301", "\u0308", "ﬁ", "ﬀ", "①", "⑳", "㎏", "㍿", "½", "Ⅻ", "™", "℃", "…"]
    + ["ｆ", "ｕ", "Ｌ", "０", "ｶ", "ﾞ", "ｰ", "\u3000", "\u00a0", "\u2002", "\u2009", "\u202f", "\u205f"]
    + ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad", "\t", "\r", "\n", "\r\n", "\x0b", "\x0c", "\x1f", "\x7f", "\x85", "\u2028", "\u2029"]
    + ["😀", "👍", "🏽", "👨\u200d👩\u200d👧", "❤\ufe0f", "\u2764", "🇫🇷", "🇫", "🇷", "1\ufe0f\u20e3", "🏳\ufe0f\u200d🌈", "©", "\ufe0f"]
    + ["한", "\u1100", "\u1161", "\u11a8", "가", "각", "\u0600", "\u0903", "क", "्", "ष", "\u094d", "ि", "ำ", "ก", "\u0e33"]
    + ["東", "京", "猫", "𠀀", "\ue000", "α", "Ω", "ж", "ש\u05b8", "ب", "∑", "√", "§", "¶", "ß", "ẞ", "İ", "ı", "Ꭰ"]
    + ["<", ">", "/", "s", "</s>", "<pad>", "<unk>", "<extra_id_0>", "<extra_id_19>", "<extra_id_20>"]
)


def corpus(rng):
    texts = ["", " ", "   ", "\n", "\t \r\n", "hello </s> world", "</s>", "</s></s>", "a</s", "</s >", "<pad><unk>",
             "<extra_id_0> x <extra_id_1>", "hello  world", " leading", "trailing ", "  both  ", "a\n\nb", "a\r\nb",
             "ｆｕｌｌ ｗｉｄｔｈ", "① ﬁ ㎏", "Ｈｅｌｌｏ　ｗｏｒｌｄ", "zero\u200bwidth", "zwj\u200djoiner", "\ufeffbom",
             "👨\u200d👩\u200d👧\u200d👦 family", "🏳\ufe0f\u200d🌈", "👍🏽👍🏿", "🇫🇷🇩🇪🇯🇵", "नमस्ते क्षत्रिय", "สวัสดี", "مرحبا",
             "Ελληνικά", "Привет мир", "ﬁne ﬂow ﬃ", "e\u0301e\u0301e\u0301", "ﬁ\u0301", "①\u0301", "\u0301start",
             "Ａ\u0301", "ｶﾞｷﾞ", "a\u3000\u3000b", "x\u00a0\u00a0y", "tab\tsep", "cr\ronly", "many\n\n\n\nlines"]
    for _ in range(700):  # English-like prompts
        n = rng.randint(1, 25)
        ws = [rng.choice(WORDS) for _ in range(n)]
        for _ in range(rng.randint(0, 2)):
            ws.insert(rng.randrange(len(ws) + 1), rng.choice(ACCENTED + [str(rng.randint(0, 10**6))] + PUNCT))
        sep = rng.choice([" ", " ", " ", "  ", "\n", ", "])
        s = sep.join(ws)
        if rng.random() < 0.2:
            s = " " * rng.randint(1, 3) + s
        if rng.random() < 0.2:
            s += " " * rng.randint(1, 3)
        if rng.random() < 0.3:
            s = s.capitalize() + rng.choice(PUNCT)
        texts.append(s)
    for _ in range(200):  # accents, composed and decomposed
        ws = [rng.choice(ACCENTED) for _ in range(rng.randint(1, 6))]
        s = " ".join(ws)
        texts.append(unicodedata.normalize(rng.choice(["NFC", "NFD", "NFKD"]), s))
    for _ in range(250):  # CJK / Japanese / Korean, some mixed with Latin
        src = rng.choice([CJK, JA, KO, CJK + "abc 123"])
        i = rng.randrange(len(src) - 3)
        s = src[i : i + rng.randint(1, 20)]
        if rng.random() < 0.3:
            s = rng.choice(WORDS) + " " + s + " " + rng.choice(WORDS)
        texts.append(s)
    for _ in range(850):  # random mixes of the special pool
        n = rng.randint(1, 16)
        texts.append("".join(rng.choice(POOL) for _ in range(n)))
    for k in range(3):  # past 512 tokens
        n = 400 + 250 * k
        texts.append(" ".join(rng.choice(WORDS + ACCENTED + list(CJK)) for _ in range(n)))
    texts.append("猫" * 700)
    return texts


def main():
    rng = random.Random(20240611)
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "sp.model")
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(train_text(rng)), model_writer=buf, vocab_size=1500, model_type="unigram",
            normalization_rule_name="nmt_nfkc", character_coverage=0.9995, pad_id=0, eos_id=1, unk_id=2,
            bos_id=-1, minloglevel=2)
        with open(model_path, "wb") as f:
            f.write(buf.getvalue())

        class Slow:  # what T5Converter reads from a slow T5Tokenizer
            vocab_file = model_path
            _extra_ids = EXTRA_IDS
            legacy = True
            add_prefix_space = True

            @staticmethod
            def convert_tokens_to_ids(tok):
                return {"<pad>": 0, "</s>": 1, "<unk>": 2}[tok]

        tok = T5Converter(Slow()).converted()
    # The special tokens a T5TokenizerFast registers (pad, eos, unk, sentinels).
    specials = ["<pad>", "</s>", "<unk>"] + [f"<extra_id_{i}>" for i in range(EXTRA_IDS)]
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    tok_path = os.path.join(OUT, "tokenizer.json")
    tok.save(tok_path, pretty=False)
    j = json.load(open(tok_path, encoding="utf-8"))
    assert j["model"]["type"] == "Unigram" and j["normalizer"]["normalizers"][0]["type"] == "Precompiled"

    texts = corpus(rng)
    charsmap = j["normalizer"]["normalizers"][0]
    # corpus.json names the charsmap instead of repeating it; the test substitutes tokenizer.json's.
    ref = {"type": "Precompiled", "precompiled_charsmap": "@tokenizer.json"}
    variants = {
        # Older T5/umT5 JSON: no Strip, runs of spaces -> one space, legacy add_prefix_space.
        "legacy": {
            "normalizer": {"type": "Sequence", "normalizers": [
                ref, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
            "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True, "str_rep": "▁"},
        },
        # transformers 5 T5Tokenizer default: WhitespaceSplit then Metaspace; plain string Replace.
        "wsplit_first": {
            "normalizer": {"type": "Sequence", "normalizers": [
                ref, {"type": "Strip", "strip_left": True, "strip_right": True},
                {"type": "Replace", "pattern": {"String": "  "}, "content": " "}]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"},
                {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}]},
        },
        "never": {
            "normalizer": ref,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": True},
        },
    }

    def hf(tokenizer_json, padding):
        t = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(tokenizer_json), eos_token="</s>",
                                    pad_token="<pad>", unk_token="<unk>")
        return t(texts if not padding else [texts[i] for i in padding], max_length=MAX_LEN, truncation=True,
                 padding="max_length" if padding else False, add_special_tokens=True)

    out = bytearray()

    def put_ids(ids):
        assert all(0 <= i < 65536 for i in ids)
        out.extend(struct.pack("<%dH" % len(ids), *ids))

    base = json.dumps(j, ensure_ascii=False)
    enc = hf(base, None)
    # Cross-check transformers against the bare tokenizers pipeline.
    raw = Tokenizer.from_str(base)
    raw.enable_truncation(MAX_LEN)
    assert [e.ids for e in raw.encode_batch(texts)] == enc["input_ids"]
    for ids in enc["input_ids"]:
        put_ids([len(ids)] + ids)
    for name, v in variants.items():
        norm = json.loads(json.dumps(v["normalizer"]).replace(json.dumps(ref), json.dumps(charsmap)))
        jv = dict(j, normalizer=norm, pre_tokenizer=v["pre_tokenizer"])
        for ids in hf(json.dumps(jv, ensure_ascii=False), None)["input_ids"]:
            put_ids([len(ids)] + ids)
    padded = [0, 1, 5, 44] + [i for i, t in enumerate(texts) if len(t) > 2000] + rng.sample(range(len(texts)), 12)
    penc = hf(base, padded)
    for ids, mask in zip(penc["input_ids"], penc["attention_mask"]):
        put_ids(ids)
        out.extend(bytes(mask))
    with open(os.path.join(OUT, "ids.bin"), "wb") as f:
        f.write(out)
    with open(os.path.join(OUT, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump({"texts": texts, "variants": variants, "padded": padded}, f, ensure_ascii=False)
        f.write("\n")
    long_max = max(len(ids) for ids in enc["input_ids"])
    print(f"{len(texts)} texts, vocab {len(j['model']['vocab'])}, longest {long_max} ids, "
          f"unk-containing {sum(2 in ids for ids in enc['input_ids'])}")


if __name__ == "__main__":
    main()
