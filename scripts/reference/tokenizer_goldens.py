#!/usr/bin/env python3
"""Write testdata/tokenizer/goldens.jsonl: what HF tokenizers (and transformers)
give for the project's small test tokenizer (testdata/tokenizer/, made by
make_tokenizer.py) on strings chosen to cover every behaviour the Go tokenizer
must reproduce.

Rows (one JSON object per line):
  {"kind": "meta", ...}            vocab size, special ids, id_to_token for every id, and
                                   GPT-2's byte-to-character table (byte_chars[b])
  {"kind": "encode", "name", "text" | "bytes_hex", "ids", "decode", "decode_skip", "decode_transformers"}
      ids: Tokenizer.encode(text, add_special_tokens=False).ids (transformers gives the same ids,
      checked here); bytes_hex rows hold invalid UTF-8, decoded the Python way
      (errors="replace") before encoding; decode*: decode(ids) without / with
      skip_special_tokens, and transformers' tokenizer.decode(ids, skip_special_tokens=True)
      (which also applies clean_up_tokenization_spaces). To keep the file small, a decode
      field equal to the row's text is left out.
  {"kind": "decode", "name", "ids", "decode", "decode_skip", "decode_transformers"}
      ids chosen to decode (split UTF-8 sequences, unknown ids, specials).

Also writes testdata/tokenizer/transformers-saved/ (the tokenizer as transformers'
save_pretrained writes it) so the Go loader is tested on that form too.

Run from the repository root:
    ~/.cache/golamini/venv-ref/bin/python scripts/reference/tokenizer_goldens.py
"""
import json
import os
import random
import shutil
import sys

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()

DIR = os.path.join("testdata", "tokenizer")
OUT = os.path.join(DIR, "goldens.jsonl")
SAVED = os.path.join(DIR, "transformers-saved")

GO_CODE = (
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n"
    "\tfor i := 0; i < 3; i++ {\n\t\tif i%2 == 0 {\n\t\t\tfmt.Println(\"even\", i)\n\t\t}\n\t}\n}\n"
)
PY_CODE = "def f(x):\n    if x:\n        return [x,  x * 2]\n    return None\n"


def texts():
    """(name, text) pairs; each covers a behaviour."""
    t = [
        ("empty", ""),
        ("hello", "Hello, my dog is cute"),
        ("prose", "The quick brown fox jumps over the lazy dog."),
        ("one space", " "),
        ("leading space", " leading"),
        ("trailing space", "trailing "),
        ("trailing spaces", "trailing   "),
        ("two spaces mid", "Hello  world"),
        ("space run before word", "a        b"),
        ("space runs 1..12", "|".join(" " * n for n in range(1, 13))),
        ("9 spaces (8+1: longest match first)", "x" + " " * 9 + "y"),
        ("17 spaces", " " * 17),
        ("30 spaces", " " * 30),
        ("30 spaces before word", " " * 30 + "word"),
        ("spaces only 3", "   "),
        ("newline before word", "a\nb"),
        ("two newlines before word", "para one.\n\nPara two."),
        ("three newlines", "x\n\n\ny"),
        ("newlines at end", "end\n\n"),
        ("crlf", "line one\r\nline two\r\n"),
        ("tabs", "a\tb\t\tc\t\t\td"),
        ("tab then spaces", "\t  x"),
        ("space then tab", " \tx"),
        ("mixed whitespace run", " \n \t \n word"),
        ("vertical tab and form feed", "a\x0bb\x0cc"),
        ("contractions", "I'm sure they'll say it's fine, but we've never done it, haven't we? She'd agree; you're right."),
        ("upper-case contractions", "DON'T SHOUT! I'M HERE, WE'LL SEE. It'S mixed."),
        ("apostrophes", "'s 's ' 't 'x ''s rock'n'roll '"),
        ("numbers", "In 2024, 3.14159 and 1,000,000 and 0x1F and 1e-5 and 99.9%."),
        ("digits with space", " 123 456"),
        ("punctuation runs", "!!! ??? ... *** --- === ~~~ ((())) [[]] {{}}"),
        ("repeated a", "a" * 7),
        ("repeated a long", "a" * 2000),
        ("repeated stars", "*" * 9),
        ("repeated questions", "?" * 7),
        ("repeated equals", "=" * 40),
        ("repeated space-dot", ". " * 10),
        ("special eot", "<|endoftext|>"),
        ("special padding", "<|padding|>"),
        ("specials adjacent", "<|endoftext|><|padding|><|endoftext|>"),
        ("special inside text", "end of doc<|endoftext|>Start of the next"),
        ("special with spaces", "  <|endoftext|>  x"),
        ("special near misses", "<|endoftext| <endoftext> <|endoftext <|ENDOFTEXT|> <|padding |>"),
        ("special then combining", "<|endoftext|>\u0301e"),
        ("nfc e acute", "cafe\u0301 vs caf\u00e9"),
        ("nfc a ring", "A\u030angstr\u00f6m \u212b \u00c5"),
        ("nfc ohm", "\u2126 \u03a9"),
        ("nfc cjk compat", "\uf900"),
        ("nfc hangul jamo", "\u1100\u1161\u11a8"),
        ("nfc spaces then combining", "  \u0301x"),
        ("non-ascii words", "café naïve résumé Zürich São Paulo coöperate"),
        ("japanese", "日本語のモデル"),
        ("chinese", "我们的模型"),
        ("korean", "한국어 모델"),
        ("cyrillic", "модель обучения"),
        ("greek", "μοντέλο"),
        ("arabic", "نموذج اللغة"),
        ("hebrew", "מודל שפה"),
        ("emoji", "fine-tune 🚀🔥 👩‍💻 👍🏽 🇯🇵"),
        ("nbsp zwsp ideographic space", "a\u00a0b\u200bc\u3000d"),
        ("unicode line separators", "a\u2028b\u2029c\u0085d"),
        ("control chars", "a\x00b\x01c\x1b[0m\x7f"),
        ("url email", "See https://example.com/a?b=1&c=2#x or mail dev@example.org."),
        ("json", '{"question": "What is golamini?", "answer": ["a", 1, true, null]}'),
        ("go code with tabs", GO_CODE),
        ("python code with spaces", PY_CODE),
        ("symbols", "© ® ™ § ¶ † ‡ • … ‰ € £ ¥ ¢ ° ± × ÷ ≤ ≥ ≠ ∞ √ ∑ ∏ ∫ → ← ↑ ↓"),
        ("latin-1 range", "".join(chr(c) for c in range(0xa1, 0x100))),
        ("ascii printable", "".join(chr(c) for c in range(0x20, 0x7f))),
        ("ascii all", "".join(chr(c) for c in range(0, 0x80))),
        ("letters marks numbers", "x\u0301\u0327 Ⅻ ½ ² ٣ ३"),
        ("template", "### Question:\nWhat is golamini?\n\n### Answer:\nA Go SDK."),
        ("cleanup", "Hello , world ! Isn 't it ? I 'm sure we 've seen it 's done . They 're here ' "),
    ]
    with open(os.path.join("testdata", "sdk_qa.jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            row = json.loads(line)
            t.append((f"sdk_qa line {n}", row["question"] + row["answer"]))
    corpus = sorted(os.listdir(os.path.join("testdata", "corpus")))
    for name in corpus:
        with open(os.path.join("testdata", "corpus", name), encoding="utf-8") as f:
            t.append((f"corpus {name}", f.read()))
    return t


def random_texts(n=200, seed=20240501):
    """Seeded random mixes of the characters and fragments where tokenizers differ."""
    rng = random.Random(seed)
    chars = (list(" \t\n\r\x0b\x0c\u00a0\u2003\u3000\u0085\u2028") + list("abcXYZ'sdtmlrve")
             + list("0129\u0663\u00bd\u216b") + list("!?.,*-=~'\"<>|/\\")
             + ["\u0301", "\u0327", "\u00e9", "e", "A", "\u030a", "\u00c5", "\u212b", "\u00f1", "\u65e5", "\u672c",
                "\u8a9e", "\u043a", "\u00f6", "\U0001F44D", "\u200d", "\U0001F3FD", "\ud55c", "\u1100", "\u1161",
                "\u11a8", "\x00", "\x1b", "\u200b", "\ufeff", "\U0001F680"])
    frags = ["<|endoftext|>", "<|padding|>", "<|endoftext", "|>", "'s", "'ll", "'VE", "  ", "    ", " " * 8, " " * 9,
             " " * 17, "\n\n", "\r\n", "aaaa", "????", "....", "the", " model", "Go"]
    out = []
    for i in range(n):
        parts = [rng.choice(frags) if rng.random() < 0.2 else rng.choice(chars) for _ in range(rng.randint(1, 40))]
        out.append((f"random {i}", "".join(parts)))
    return out


# Invalid UTF-8, decoded the way Python does (errors="replace"), which is what HF sees.
INVALID = [
    ("invalid lone ff", b"\xff"),
    ("invalid truncated 3-byte then ascii", b"abc\xe2\x82Adef"),
    ("invalid truncated at end", b"abc\xe2\x82"),
    ("invalid surrogate", b"x\xed\xa0\x80y"),
    ("invalid truncated 4-byte", b"\xf0\x9f\x98 ok"),
    ("invalid overlong", b"\xc0\xaf\xe0\x80\xaf"),
    ("invalid above max", b"\xf4\x90\x80\x80"),
    ("invalid continuation bytes", b"\x80\x80  \xbf"),
    ("invalid mixed", "caf\u00e9 ".encode() + b"\xe9\xff\xfe" + " 日本".encode() + b"\xe6\x97"),
]

# ids chosen for decoding; filled in with ids of the tokenizer in decode_cases().
def decode_cases(tok):
    b2u = bytes_to_unicode()
    byte_ids = [tok.token_to_id(b2u[b]) for b in "é日".encode()]  # c3 a9, e6 97 a5
    jp = tok.encode("日本語", add_special_tokens=False).ids
    space2 = tok.token_to_id("  ")
    return [
        ("decode specials", [0, 1, 0]),
        ("decode specials around text", [0] + tok.encode("Hi there", add_special_tokens=False).ids + [1, 0]),
        ("decode space runs", [space2, tok.token_to_id("        "), space2]),
        ("decode unknown ids skipped", [tok.token_to_id("H"), 5000, 1024, tok.token_to_id("i")]),
        ("decode first byte of e-acute", byte_ids[:1]),
        ("decode e-acute from bytes", byte_ids[:2]),
        ("decode 2 of 3 bytes of 日 then text", byte_ids[2:4] + tok.encode("ok", add_special_tokens=False).ids),
        ("decode 日 from bytes", byte_ids[2:]),
        ("decode continuation byte alone", byte_ids[1:2]),
        ("decode japanese reversed", list(reversed(jp))),
        ("decode japanese without last", jp[:-1]),
        ("decode empty", []),
    ]


def main():
    if not os.path.exists(os.path.join(DIR, "tokenizer.json")):
        sys.exit("tokenizer_goldens: testdata/tokenizer/tokenizer.json missing (run make_tokenizer.py from the repository root)")
    tok = Tokenizer.from_file(os.path.join(DIR, "tokenizer.json"))
    tf = AutoTokenizer.from_pretrained(DIR)

    def decodes(ids):
        return {
            "decode": tok.decode(ids, skip_special_tokens=False),
            "decode_skip": tok.decode(ids, skip_special_tokens=True),
            "decode_transformers": tf.decode(ids, skip_special_tokens=True),
        }

    rows = []
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    if len(tf) != vocab_size:
        sys.exit(f"tokenizer_goldens: len(transformers tokenizer) {len(tf)} != {vocab_size}")
    rows.append({
        "kind": "meta",
        "vocab_size": vocab_size,
        "eos": tf.eos_token_id,
        "bos": tf.bos_token_id,
        "unk": tf.unk_token_id,
        "pad": tf.pad_token_id,
        "clean_up_tokenization_spaces": tf.clean_up_tokenization_spaces,
        "special_ids": sorted(i for i, a in tok.get_added_tokens_decoder().items() if a.special),
        "tokens": [tok.id_to_token(i) for i in range(vocab_size)],
        "byte_chars": [bytes_to_unicode()[b] for b in range(256)],
    })

    def encode_row(name, text, extra):
        ids = tok.encode(text, add_special_tokens=False).ids
        tf_ids = tf(text, add_special_tokens=True)["input_ids"]
        if tf_ids != ids:
            sys.exit(f"tokenizer_goldens: {name}: transformers ids differ from tokenizers ids")
        row = {"kind": "encode", "name": name}
        row.update(extra)
        row["ids"] = ids
        row.update({k: v for k, v in decodes(ids).items() if v != text})
        rows.append(row)

    names = set()
    for name, text in texts() + random_texts():
        assert name not in names, name
        names.add(name)
        encode_row(name, text, {"text": text})
    for name, raw in INVALID:
        encode_row(name, raw.decode("utf-8", errors="replace"), {"bytes_hex": raw.hex()})
    for name, ids in decode_cases(tok):
        row = {"kind": "decode", "name": name, "ids": ids}
        row.update(decodes(ids))
        rows.append(row)

    with open(OUT, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

    shutil.rmtree(SAVED, ignore_errors=True)
    tf.save_pretrained(SAVED)
    print(f"tokenizer_goldens: wrote {OUT} ({len(rows)} rows) and {SAVED}/", file=sys.stderr)


if __name__ == "__main__":
    main()
