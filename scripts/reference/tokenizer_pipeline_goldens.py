#!/usr/bin/env python3
"""Write testdata/tokenizers/goldens.jsonl: what HF tokenizers 0.23 and transformers 5
give for the real tokenizers in ../shared/data/tokenizers/ (qwen2.5, smollm2, mistral-v1)
and ../shared/data/pythia-tokenizer.json, plus variants of them whose pipeline
components are replaced (so every normalizer, pre-tokenizer, decoder and
post-processor the Go package implements is checked against HF).

The tokenizer files are read from ../shared at test time, never copied here.

Rows (one JSON object per line):
  {"kind": "tokenizer", "name", "file", "dir", "patch"}
      file: path under ../shared/data; dir: the model folder under ../shared/data for
      AutoTokenizer (absent for variants); patch: top-level tokenizer.json keys replaced
      by the given JSON before loading (variants only).
  {"kind": "encode", "tok", "text", "ids", "plain", "offsets", "decode", "decode_skip", "auto"}
      ids: Tokenizer.from_file(file).encode(text).ids; plain: the same with
      add_special_tokens=False; offsets: plain's offsets converted from characters to
      UTF-8 bytes; decode / decode_skip: decode(ids, skip_special_tokens=False / True);
      auto: AutoTokenizer.from_pretrained(dir)(text)["input_ids"] (model folders only).
      Fields equal to another are left out: decode (= text), decode_skip (= decode),
      ids (= plain), auto (= ids).
  {"kind": "meta", "tok", "bos", "eos", "unk", "pad", "vocab_size", "special_ids",
   "clean_up_tokenization_spaces"}: AutoTokenizer's special-token ids (null when none),
      len(tokenizer) and all_special_ids, for model folders.
  {"kind": "config", "name", "dir", "config_patch"}: a model folder whose
      tokenizer_config.json gets the given keys (add_bos_token / add_eos_token), and
  {"kind": "auto", "tok", "text", "auto"}: what AutoTokenizer gives with it.
  {"kind": "decode", "tok", "ids", "decode", "decode_skip"}: ids chosen to decode
      (byte-fallback pieces, split UTF-8, specials).

Run from the repository root:
    ~/.cache/golamini/venv-ref5/bin/python scripts/reference/tokenizer_pipeline_goldens.py
"""
import json
import os
import random
import sys

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("GOLAMINI_SHARED") or os.path.join(ROOT, "..", "shared")
DATA = os.path.join(SHARED, "data")
OUT = os.path.join(ROOT, "testdata", "tokenizers", "goldens.jsonl")

assert tokenizers.__version__ == "0.23.3", tokenizers.__version__


def texts():
    rng = random.Random(12)
    out = [
        "", " ", "Hello world", "Hello, my dog is cute", " Hello  world\n\n x",
        "  leading spaces", "trailing spaces   ", "a\n\nb", "\t\tx", "x\r\n\r\ny",
        " " * 30 + "y", "\n\n\n", "line one\nline two\n\n  indented\n",
        "I'M HERE it's we'LL they'Re", "'s'll'VE 'd", "don't won't can't",
        "1,000.5e-3 and 123456789 and 3.14159", "0123 45 6789 10000000", "٣٤٥ ½ Ⅻ",
        "café naïve résumé Ångström Ωmega", "cafe\u0301 A\u030a \u212b \u2126 \uf900", "\u1100\u1161\u11a8",
        "日本語のモデルを訓練する。", "中文分词测试，包括标点符号！", "한국어 텍스트 처리",
        "Привет, мир! Ελληνικά. مرحبا بالعالم. שלום עולם",
        "👩‍💻👍🏽🇫🇷 emoji 🎉🎉", "a\u00a0b\u3000c\u200bd\u2028e",
        "def f(x):\n    return x ** 2  # square\n\nprint(f(3))\n",
        "func main() {\n\tfmt.Println(\"hi\")\n}\n",
        "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
        "https://example.com/path?q=1&r=two#frag mail@example.org",
        "?????!!!...---***", "aaaaaaaaaaaaaaaaaaaaaaaaa", "ſt ſs 'ſ 'S 'K 'İ 'ſx 'ſtop 'Sx 'LLx 'ʟʟx 'ᵈx",
        "İstanbul DŽ ǅ ß ẞ ﬁ ﬂ", "<|endoftext|>", "<s>Hi</s> there", "<|im_start|>user\nHi<|im_end|>\n",
        "text<|endoftext|>more", "<unk> <pad>", "▁already▁metaspace", "\x00\x01\x7f control",
        "### Question:\nWhat is Lamini?\n\n### Answer:",
        "MiXeD CaSe WoRdS AND ALLCAPS", "tabs\tand\tspaces \t mixed",
        "  \n  \n", "end with newline\n", "x" + "\u0301" * 5,
        "漢字かなカナ！？「」", "ＦＵＬＬＷＩＤＴＨ１２３", "math: ∑ ∫ √ ≤ ≥ ≠ ∞ π",
    ]
    path = os.path.join(DATA, "lamini_docs.jsonl")
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    for i in rng.sample(range(len(rows)), 6):
        out.append(rows[i]["question"] + rows[i]["answer"])
    alphabet = "ab cD1 2\n\t.,'!é日👍\u0301ſ<>|s_" + "\u2581"
    for _ in range(16):
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))))
    return out


def byte_offsets(text, offsets):
    pos = [0]
    for ch in text:
        pos.append(pos[-1] + len(ch.encode("utf-8")))
    return [[pos[a], pos[b]] for a, b in offsets]


# Variants: real files with pipeline components replaced. Each exercises
# components no real file here uses.
NFKC_SEQ = {"type": "Sequence", "normalizers": [
    {"type": "NFKC"}, {"type": "Lowercase"},
    {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
    {"type": "Strip", "strip_left": True, "strip_right": True},
    {"type": "Prepend", "prepend": "\u2581"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
VARIANTS = [
    ("smollm2-norm", "tokenizers/smollm2/tokenizer.json", {
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFD"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": False},
            {"type": "Replace", "pattern": {"String": "\t"}, "content": "    "}, {"type": "NFC"}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    }),
    ("smollm2-prefix", "tokenizers/smollm2/tokenizer.json", {
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}],
             "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]},
                                "<|im_end|>": {"id": "<|im_end|>", "ids": [2], "tokens": ["<|im_end|>"]}}}]},
    }),
    ("qwen-pretok", "tokenizers/qwen2.5/tokenizer.json", {
        "normalizer": {"type": "NFKC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "Punctuation", "behavior": "Isolated"},
            {"type": "Split", "pattern": {"String": "\n"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "Split", "pattern": {"Regex": "(?i:[aeiou]+)"}, "behavior": "MergedWithNext", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}]},
    }),
    ("qwen-whitespace", "tokenizers/qwen2.5/tokenizer.json", {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Whitespace"},
            {"type": "Digits", "individual_digits": False},
            {"type": "Split", "pattern": {"Regex": "\\p{L}+"}, "behavior": "Contiguous", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
    }),
    ("qwen-split-removed", "tokenizers/qwen2.5/tokenizer.json", {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Split", "pattern": {"String": "e"}, "behavior": "Removed", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": False}]},
    }),
    ("mistral-norm", "tokenizers/mistral-v1/tokenizer.json", {
        "normalizer": NFKC_SEQ,
        "pre_tokenizer": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 2, "stop": 0}]},
    }),
    ("mistral-always", "tokenizers/mistral-v1/tokenizer.json", {
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                                              "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
    }),
    ("mistral-never-nodecoder", "tokenizers/mistral-v1/tokenizer.json", {
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": False},
        "decoder": None, "post_processor": None,
    }),
    ("mistral-unk", "tokenizers/mistral-v1/tokenizer.json", {
        "model_patch": {"byte_fallback": False, "unk_token": "<unk>", "fuse_unk": True},
    }),
    ("mistral-unk-nofuse", "tokenizers/mistral-v1/tokenizer.json", {
        "model_patch": {"byte_fallback": False, "unk_token": "<unk>", "fuse_unk": False},
    }),
    ("pythia-ignore-merges", "pythia-tokenizer.json", {
        "model_patch": {"ignore_merges": True},
    }),
]


# tokenizer_config.json variants: transformers' add_bos_token / add_eos_token.
CONFIG_VARIANTS = [
    ("mistral-v1-bos-eos", "tokenizers/mistral-v1", {"add_bos_token": True, "add_eos_token": True}),
    ("mistral-v1-no-bos", "tokenizers/mistral-v1", {"add_bos_token": False}),
    ("qwen2.5-eos", "tokenizers/qwen2.5", {"add_eos_token": True}),
    ("smollm2-bos", "tokenizers/smollm2", {"add_bos_token": True}),
]


def main():
    rows = []
    corpus = texts()
    tokenizers_ = [
        ("pythia", "pythia-tokenizer.json", None, {}),
        ("qwen2.5", "tokenizers/qwen2.5/tokenizer.json", "tokenizers/qwen2.5", {}),
        ("smollm2", "tokenizers/smollm2/tokenizer.json", "tokenizers/smollm2", {}),
        ("mistral-v1", "tokenizers/mistral-v1/tokenizer.json", "tokenizers/mistral-v1", {}),
    ] + [(n, f, None, p) for n, f, p in VARIANTS]
    for name, file, dir_, patch in tokenizers_:
        row = {"kind": "tokenizer", "name": name, "file": file}
        if dir_:
            row["dir"] = dir_
        if patch:
            row["patch"] = patch
        rows.append(row)
        patch = dict(patch)
        model_patch = patch.pop("model_patch", None)
        with open(os.path.join(DATA, file)) as f:
            doc = json.load(f)
        doc.update(patch)
        if model_patch:
            doc["model"].update(model_patch)
        tok = Tokenizer.from_str(json.dumps(doc))
        auto = AutoTokenizer.from_pretrained(os.path.join(DATA, dir_)) if dir_ else None
        if auto is not None:
            rows.append({"kind": "meta", "tok": name, "bos": auto.bos_token_id, "eos": auto.eos_token_id,
                         "unk": auto.unk_token_id, "pad": auto.pad_token_id, "vocab_size": len(auto),
                         "special_ids": sorted(set(auto.all_special_ids)),
                         "clean_up_tokenization_spaces": bool(auto.clean_up_tokenization_spaces)})
        # Variants get the short texts only, to keep the file small.
        for text in (corpus if dir_ or name == "pythia" else [t for t in corpus if len(t) < 120]):
            enc = tok.encode(text)
            plain = tok.encode(text, add_special_tokens=False)
            r = {"kind": "encode", "tok": name, "text": text, "ids": enc.ids, "plain": plain.ids,
                 "offsets": byte_offsets(text, plain.offsets),
                 "decode": tok.decode(enc.ids, skip_special_tokens=False),
                 "decode_skip": tok.decode(enc.ids, skip_special_tokens=True)}
            if auto is not None:
                r["auto"] = auto(text)["input_ids"]
            # Left out when equal: decode to the text, decode_skip to decode, ids to plain, auto to ids.
            if r["decode"] == text:
                del r["decode"]
            if r["decode_skip"] == r.get("decode", text):
                del r["decode_skip"]
            if r["ids"] == r["plain"]:
                del r["ids"]
            if "auto" in r and r["auto"] == enc.ids:
                del r["auto"]
            rows.append(r)
        vocab = tok.get_vocab_size(with_added_tokens=True)
        rng = random.Random(name)
        specials = [i for i in range(vocab) if tok.id_to_token(i) in ("<s>", "</s>", "<unk>", "<|endoftext|>", "<|im_start|>")]
        fallback = [tok.token_to_id("<0x%02X>" % b) for b in (0xE6, 0x97, 0xA5, 0xFF, 0x41)]
        fallback = [i for i in fallback if i is not None]
        cases = [specials + [5, 6, 7], fallback, fallback[:2] + [100] + fallback[2:], [vocab + 5, -1, 10]]
        for _ in range(6):
            cases.append([rng.randrange(vocab) for _ in range(rng.randint(1, 12))])
        for ids in cases:
            ok = [i for i in ids if 0 <= i < vocab]
            rows.append({"kind": "decode", "tok": name, "ids": ids,
                         "decode": tok.decode(ok, skip_special_tokens=False),
                         "decode_skip": tok.decode(ok, skip_special_tokens=True)})
    import shutil
    import tempfile
    for name, dir_, cpatch in CONFIG_VARIANTS:
        rows.append({"kind": "config", "name": name, "dir": dir_, "config_patch": cpatch})
        with tempfile.TemporaryDirectory() as tmp:
            for f in os.listdir(os.path.join(DATA, dir_)):
                shutil.copy(os.path.join(DATA, dir_, f), tmp)
            with open(os.path.join(tmp, "tokenizer_config.json")) as f:
                cfg = json.load(f)
            cfg.update(cpatch)
            with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
                json.dump(cfg, f)
            auto = AutoTokenizer.from_pretrained(tmp)
            for text in corpus[:20]:
                rows.append({"kind": "auto", "tok": name, "text": text, "auto": auto(text)["input_ids"]})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(rows)} rows to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
