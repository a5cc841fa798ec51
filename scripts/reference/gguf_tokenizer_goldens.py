#!/usr/bin/env python3
"""Goldens for internal/gguf's tokenizer builder: what transformers builds from a GGUF's tokenizer metadata.

    python scripts/reference/gguf_tokenizer_goldens.py   # (re)write testdata/gguf/tok-*.gguf and tok-*.json

Run from the repository root with the transformers-5 reference venv's python (transformers 5.24,
tokenizers 0.23.3, gguf 0.19). Each case is a small GGUF (no tensors) whose tokenizer.* metadata
is laid out as llama.cpp's converter writes it; the JSON holds
AutoTokenizer.from_pretrained(dir, gguf_file=...)'s backend_tokenizer.to_str(), its special tokens,
add_bos/add_eos flags and chat template, and the ids it gives a few texts.
"""
import json
import os
import shutil
import tempfile

import gguf
from transformers import AutoTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

OUT = os.path.join("testdata", "gguf")
TEXTS = ["Hello world", " hello  there\n\nnew", "<|im_start|>user\nhi<|im_end|>", "<think>é 123 4567</think>", ""]
TEMPLATE = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"

B2U = bytes_to_unicode()


def byte_level_vocab(words):
    """A small byte-level BPE vocabulary: the 256 byte symbols, then merged words, with their merges."""
    tokens = [B2U[b] for b in range(256)]
    merges = []
    for w in words:
        w = "".join(B2U[b] for b in w.encode("utf-8"))
        cur = w[0]
        for ch in w[1:]:
            if cur + ch not in tokens:
                merges.append(f"{cur} {ch}")
                tokens.append(cur + ch)
            cur = cur + ch
    return tokens, merges


def write(name, arch, kv):
    path = os.path.join(OUT, f"tok-{name}.gguf")
    w = gguf.GGUFWriter(path, arch=arch)
    for key, (kind, val) in kv.items():
        if kind == "str":
            w.add_string(key, val)
        elif kind == "u32":
            w.add_uint32(key, val)
        elif kind == "bool":
            w.add_bool(key, val)
        elif kind == "strs":
            w.add_array(key, val)
        elif kind == "i32s":
            w.add_key_value(key, val, gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.INT32)
        elif kind == "f32s":
            w.add_key_value(key, val, gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.FLOAT32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    d = tempfile.mkdtemp()
    try:
        os.symlink(os.path.abspath(path), os.path.join(d, "t.gguf"))
        tok = AutoTokenizer.from_pretrained(d, gguf_file="t.gguf")
    finally:
        shutil.rmtree(d)
    golden = {
        "tokenizer": json.loads(tok.backend_tokenizer.to_str()),
        "bos_token": tok.bos_token, "eos_token": tok.eos_token, "unk_token": tok.unk_token, "pad_token": tok.pad_token,
        "add_bos_token": getattr(tok, "add_bos_token", None), "add_eos_token": getattr(tok, "add_eos_token", None),
        "chat_template": tok.chat_template,
        "encodings": [{"text": t, "ids": tok(t)["input_ids"]} for t in TEXTS],
    }
    with open(os.path.join(OUT, f"tok-{name}.json"), "w") as f:
        json.dump(golden, f, ensure_ascii=False)
        f.write("\n")


def gpt2_case(name, pre, specials, types, extra_kv, words):
    toks, merges = byte_level_vocab(words)
    tokens = specials + toks
    token_type = types + [1] * len(toks)
    kv = {"tokenizer.ggml.model": ("str", "gpt2"), "tokenizer.ggml.pre": ("str", pre),
          "tokenizer.ggml.tokens": ("strs", tokens), "tokenizer.ggml.token_type": ("i32s", token_type),
          "tokenizer.ggml.merges": ("strs", merges)}
    kv.update(extra_kv)
    write(name, "llama", kv)


WORDS = ["Hello", " world", " hello", " there", "new", "user", "hi", "\n\n", " 123", "think"]

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    # SmolLM2-like: control tokens first, <|endoftext|> present, no BOS added, pad = eos, a chat template.
    gpt2_case("smollm", "smollm", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], [3, 3, 3],
              {"tokenizer.ggml.bos_token_id": ("u32", 1), "tokenizer.ggml.eos_token_id": ("u32", 2),
               "tokenizer.ggml.unknown_token_id": ("u32", 0), "tokenizer.ggml.padding_token_id": ("u32", 2),
               "tokenizer.ggml.add_bos_token": ("bool", False), "tokenizer.ggml.add_space_prefix": ("bool", False),
               "tokenizer.chat_template": ("str", TEMPLATE)}, WORDS)
    # Llama-3-like: no <|endoftext|>, BOS added, a user-defined <think>, a control token outside the byte
    # alphabet (a llama.cpp mislabel transformers skips), a split regex from tokenizer.ggml.pre.
    gpt2_case("llama3", "llama-bpe", ["<|begin_of_text|>", "<|eot_id|>", "<think>", "<｜bad｜>"], [3, 3, 4, 3],
              {"tokenizer.ggml.bos_token_id": ("u32", 0), "tokenizer.ggml.eos_token_id": ("u32", 1),
               "tokenizer.ggml.add_bos_token": ("bool", True)}, WORDS)
    # Qwen2-like: pad id, no BOS id, its split regex.
    gpt2_case("qwen2", "qwen2", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], [3, 3, 3],
              {"tokenizer.ggml.eos_token_id": ("u32", 2), "tokenizer.ggml.padding_token_id": ("u32", 0),
               "tokenizer.ggml.bos_token_id": ("u32", 0), "tokenizer.ggml.add_bos_token": ("bool", False)}, WORDS)
    # SentencePiece (tokenizer.ggml.model llama): <unk>/<s>/</s>, byte tokens, pieces with scores; one file
    # with merges, one without (transformers derives them from the scores).
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    words = ["▁", "H", "e", "l", "o", "w", "r", "d", "h", "t", "n", "1", "2", "3", "▁h", "el", "lo", "▁w", "or",
             "ld", "hel", "hello", "▁hello", "▁world", "▁t", "he", "re", "▁the", "▁there", "▁1", "▁12", "▁123"]
    spm_merges = ["▁ h", "e l", "l o", "▁ w", "o r", "l d", "h el", "hel lo", "▁h ello", "▁w orld",
                  "▁ t", "h e", "r e", "▁t he", "▁the re", "▁ 1", "▁1 2", "▁12 3"]
    spm_merges = [m for m in spm_merges if "".join(m.split(" ")) in words and all(p in words for p in m.split(" "))]
    tokens = pieces + words
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(len(words))]
    base = {"tokenizer.ggml.model": ("str", "llama"), "tokenizer.ggml.pre": ("str", "default"),
            "tokenizer.ggml.tokens": ("strs", tokens), "tokenizer.ggml.scores": ("f32s", scores),
            "tokenizer.ggml.token_type": ("i32s", types + [1] * len(words)),
            "tokenizer.ggml.bos_token_id": ("u32", 1), "tokenizer.ggml.eos_token_id": ("u32", 2),
            "tokenizer.ggml.unknown_token_id": ("u32", 0), "tokenizer.ggml.add_space_prefix": ("bool", True)}
    write("spm-merges", "llama", dict(base, **{"tokenizer.ggml.merges": ("strs", spm_merges),
                                               "tokenizer.ggml.add_bos_token": ("bool", True),
                                               "tokenizer.ggml.add_eos_token": ("bool", False)}))
    write("spm-nomerges", "llama", base)
    print("wrote", OUT)
