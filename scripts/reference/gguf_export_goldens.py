#!/usr/bin/env python3
"""A tiny HuggingFace Llama directory for internal/gguf's exporter, and the check of an exported file.

    python scripts/reference/gguf_export_goldens.py              # (re)write testdata/gguf/export-llama/
    python scripts/reference/gguf_export_goldens.py --check DIR F.gguf...
        # load each F.gguf with transformers' GGUF loader (and the gguf package's reader) and print one
        # JSON line per file: the largest logit difference from the HF model in DIR, whether the
        # tokenizer and chat template agree, and what the gguf package reads

Run from the repository root with the transformers-5 reference venv's python. The directory holds a
random LlamaForCausalLM (saved with save_pretrained, safetensors) and the tokenizer transformers
builds from testdata/gguf/tok-smollm.gguf (tokenizer.json, tokenizer_config.json, chat_template.jinja).
"""
import json
import os
import shutil
import sys
import tempfile

import torch
import gguf
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

OUT = os.path.join("testdata", "gguf", "export-llama")
IDS = [[1, 262, 267, 13, 272, 2, 283, 35]]


def make():
    d = tempfile.mkdtemp()
    try:
        os.symlink(os.path.abspath(os.path.join("testdata", "gguf", "tok-smollm.gguf")), os.path.join(d, "t.gguf"))
        tok = AutoTokenizer.from_pretrained(d, gguf_file="t.gguf")
    finally:
        shutil.rmtree(d)
    torch.manual_seed(7)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5,
                      rope_theta=10000.0, bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    shutil.rmtree(OUT, ignore_errors=True)
    model.save_pretrained(OUT)
    tok.save_pretrained(OUT)
    for f in ("generation_config.json",):
        if os.path.exists(os.path.join(OUT, f)):
            os.remove(os.path.join(OUT, f))
    print("wrote", OUT, sorted(os.listdir(OUT)))


def check(hf_dir, paths):
    ref = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    ref_tok = AutoTokenizer.from_pretrained(hf_dir)
    for path in paths:
        check_one(ref, ref_tok, path)


def check_one(ref, ref_tok, path):
    d = tempfile.mkdtemp()
    try:
        os.symlink(os.path.abspath(path), os.path.join(d, "m.gguf"))
        got = AutoModelForCausalLM.from_pretrained(d, gguf_file="m.gguf", dtype=torch.float32).eval()
        tok = AutoTokenizer.from_pretrained(d, gguf_file="m.gguf")
    finally:
        shutil.rmtree(d)
    with torch.no_grad():
        a = ref(torch.tensor(IDS)).logits
        b = got(torch.tensor(IDS)).logits
    texts = ["Hello world", "<|im_start|>user\nhi<|im_end|>", " hello  there\n\nnew"]
    r = gguf.GGUFReader(path)
    print(json.dumps({
        "max_logit_diff": float((a - b).abs().max()),
        "tokenizer_equal": all(ref_tok(t)["input_ids"] == tok(t)["input_ids"] for t in texts),
        "chat_template_equal": ref_tok.chat_template == tok.chat_template,
        "tensor_types": {t.name: t.tensor_type.name for t in r.tensors},
        "keys": [k for k in r.fields if not k.startswith("GGUF.")],
    }), flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3:])
    else:
        make()
