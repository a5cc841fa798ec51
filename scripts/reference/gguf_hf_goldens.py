#!/usr/bin/env python3
"""Goldens for internal/gguf's GGUF → HuggingFace mapping, checked against transformers' GGUF loader.

    python scripts/reference/gguf_hf_goldens.py    # (re)write testdata/gguf/tiny-{llama,qwen2,qwen3}.{gguf,json}
                                                   # and, when the real file is cached, testdata/gguf/smollm2_hf.json

Run from the repository root with the transformers-5 reference venv's python (transformers 5.24, gguf 0.19).

For each architecture a tiny random HF model is converted to GGUF the way llama.cpp's
convert_hf_to_gguf.py does (its tensor names, its metadata keys, Q/K rows permuted for llama,
tensors quantized with gguf.quants.quantize to several types), written with gguf.GGUFWriter,
then loaded back with AutoConfig / AutoModelForCausalLM.from_pretrained(dir, gguf_file=...,
dtype=float32). The JSON holds the config transformers builds, the sha256 of every
state-dict tensor (float32, little-endian) and the logits for fixed input ids.

smollm2_hf.json: the same config and one sha256 over all state-dict tensors (sorted by name,
each as name + float32 bytes) for the real SmolLM2-135M-Instruct GGUF, whose path
scripts/smollm2-gguf prints (skipped when it is not cached).
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize
from transformers import AutoConfig, AutoModelForCausalLM
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

OUT = os.path.join("testdata", "gguf")
INPUT_IDS = [[1, 5, 17, 42, 3, 88, 60, 2]]
CONFIG_FIELDS = ["model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "head_dim", "max_position_embeddings", "rms_norm_eps", "vocab_size",
                 "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id"]

# GGUF type of each tensor kind: a mix, so every loader path is exercised.
TYPES = {"token_embd": T.Q8_0, "attn_q": T.Q4_1, "attn_k": T.Q5_0, "attn_v": T.Q8_0, "attn_output": T.F16,
         "ffn_gate": T.Q4_0, "ffn_up": T.Q5_1, "ffn_down": T.BF16, "output": T.F16}
BLOCK = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
         "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
         "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
         "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm"}


def permute(w, n_head, n_head_kv):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    n, rest, suffix = parts[2], ".".join(parts[3:-1]), parts[-1]
    return f"blk.{n}.{BLOCK[rest]}.{suffix}"


def make(arch, cls, cfg_cls, **kw):
    torch.manual_seed({"llama": 1, "qwen2": 2, "qwen3": 3}[arch])
    sizes = dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
                 bos_token_id=1, eos_token_id=2)
    sizes.update(kw)
    cfg = cfg_cls(**sizes)
    model = cls(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # norms away from 1, biases away from 0, so mistakes show
            p.add_(torch.randn_like(p) * 0.05)
    path = os.path.join(OUT, f"tiny-{arch}.gguf")
    w = gguf.GGUFWriter(path, arch=arch)
    w.add_name(f"tiny-{arch}")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    if arch == "llama":
        w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    if arch == "qwen3":
        w.add_key_length(cfg.head_dim)
        w.add_value_length(cfg.head_dim)
    w.add_uint32("tokenizer.ggml.bos_token_id", 1)
    w.add_uint32("tokenizer.ggml.eos_token_id", 2)
    w.add_uint32("tokenizer.ggml.padding_token_id", 0)
    for name, t in model.state_dict().items():
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        a = t.detach().numpy().astype(np.float32)
        g = gguf_name(name)
        if arch == "llama" and ".attn_q." in g:
            a = permute(a, cfg.num_attention_heads, cfg.num_attention_heads)
        if arch == "llama" and ".attn_k." in g:
            a = permute(a, cfg.num_attention_heads, cfg.num_key_value_heads)
        kind = g.split(".")[-2]
        qtype = TYPES.get(kind, T.F32) if a.ndim == 2 else T.F32
        if qtype == T.F32:
            w.add_tensor(g, a)
        elif qtype == T.F16:
            w.add_tensor(g, a.astype(np.float16))
        else:
            w.add_tensor(g, quantize(a, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    golden = load_with_transformers(path)
    golden["logits"] = golden.pop("logits")
    with open(os.path.join(OUT, f"tiny-{arch}.json"), "w") as f:
        json.dump(golden, f)
        f.write("\n")


def load_with_transformers(path, logits=True, per_tensor=True):
    d = tempfile.mkdtemp()
    try:
        os.symlink(os.path.abspath(path), os.path.join(d, "m.gguf"))
        config = AutoConfig.from_pretrained(d, gguf_file="m.gguf").to_dict()
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file="m.gguf", dtype=torch.float32).eval()
    finally:
        shutil.rmtree(d)
    out = {"config": {k: config.get(k) for k in CONFIG_FIELDS}}
    out["config"]["rope_theta"] = config["rope_parameters"]["rope_theta"]
    sd = model.state_dict()
    if per_tensor:
        out["tensors"] = {k: [list(v.shape), hashlib.sha256(v.float().contiguous().numpy().astype("<f4").tobytes()).hexdigest()]
                          for k, v in sorted(sd.items())}
    else:
        h = hashlib.sha256()
        for k, v in sorted(sd.items()):
            if k == "lm_head.weight" and config["tie_word_embeddings"]:
                continue
            h.update(k.encode())
            h.update(v.float().contiguous().numpy().astype("<f4").tobytes())
        out["all_tensors_sha256"] = h.hexdigest()
        out["tensor_count"] = len(sd)
    if logits:
        with torch.no_grad():
            out["input_ids"] = INPUT_IDS
            out["logits"] = model(torch.tensor(INPUT_IDS)).logits[0].tolist()
    return out


# "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n" in SmolLM2's ids
REAL_IDS = [[1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]]


def real_logits(path):
    """Logits of the real model at every position: the log-sum-exp and the values at fixed columns and
    at each position's top 5 (the whole 49152-wide rows would be megabytes)."""
    d = tempfile.mkdtemp()
    try:
        os.symlink(os.path.abspath(path), os.path.join(d, "m.gguf"))
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file="m.gguf", dtype=torch.float32).eval()
    finally:
        shutil.rmtree(d)
    with torch.no_grad():
        lg = model(torch.tensor(REAL_IDS)).logits[0]
    cols = sorted(set([0, 1, 2, 198, 504, 4649, 49151] + lg.topk(5, dim=-1).indices.flatten().tolist()))
    return {"input_ids": REAL_IDS, "columns": cols, "logits": lg[:, cols].tolist(),
            "logsumexp": torch.logsumexp(lg.double(), dim=-1).tolist()}


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make("llama", LlamaForCausalLM, LlamaConfig, tie_word_embeddings=False)
    make("qwen2", Qwen2ForCausalLM, Qwen2Config, tie_word_embeddings=True)
    # transformers' GGUF loader leaves Qwen3's head_dim at the config class's default (128), so the tiny
    # Qwen3 has heads of 128 (two query heads, one key/value head, one layer).
    make("qwen3", Qwen3ForCausalLM, Qwen3Config, tie_word_embeddings=True, head_dim=128, num_attention_heads=2,
         num_key_value_heads=1, num_hidden_layers=1)
    try:
        real = subprocess.check_output(["scripts/smollm2-gguf"], text=True).strip()
    except Exception as e:  # offline: the tiny goldens still stand
        print("skipping the real SmolLM2 file:", e)
        real = None
    if real:
        g = load_with_transformers(real, logits=False, per_tensor=False)
        g.update(real_logits(real))
        with open(os.path.join(OUT, "smollm2_hf.json"), "w") as f:
            json.dump(g, f, indent=1)
            f.write("\n")
    print("wrote", OUT)
