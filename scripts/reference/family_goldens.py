"""Goldens for the Llama-style families (Llama, Mistral, Qwen2, Qwen3): transformers 5 builds tiny random-weight
checkpoints covering what the Go loader and network must handle, and records their logits, greedy continuations and
training losses; internal/model, internal/generate and internal/train tests compare against them. Also the parameter
counts, FLOPs (transformers 5's Trainer.floating_point_ops: 6 × tokens × parameters without embeddings), memory footprint and module tree of the real configs under testdata/families/configs.

    ~/.cache/golamini/venv-ref5/bin/python scripts/reference/family_goldens.py

Writes testdata/families/<case>/ (config.json and weights: safetensors single or sharded, or pytorch_model.bin, in
fp32, fp16 or bf16), testdata/families/goldens.json and testdata/families/report.json.

Weights are drawn wider than HF's initialisation (std 0.2; norm weights 1 ± 0.2; biases ± 0.1) so that logits have
clear maxima: with std 0.02 a tiny model's logits are nearly flat and greedy ties would test rounding, not the model.
Everything the reference computes runs in float32 on the weights as stored (fp16/bf16 values widened).
"""
import json
import os
import shutil
from types import SimpleNamespace as Namespace

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, Trainer
from transformers.optimization import Adafactor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "testdata", "families")
V = 128
ARCH = dict(llama="LlamaForCausalLM", mistral="MistralForCausalLM", qwen2="Qwen2ForCausalLM", qwen3="Qwen3ForCausalLM")

BASE = dict(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=64, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2, pad_token_id=0)

CASES = [
    # name, model_type, config overrides, storage dtype, format
    ("llama-gqa-tied", "llama", dict(num_key_value_heads=2, tie_word_embeddings=True), "float32", "safetensors"),
    ("llama-bias-llama3", "llama",
     dict(num_key_value_heads=1, attention_bias=True, mlp_bias=True, rope_theta=500000.0,
          rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                            original_max_position_embeddings=16)), "float16", "safetensors"),
    ("llama-linear-bf16-bin", "llama",
     dict(num_key_value_heads=4, rope_scaling=dict(rope_type="linear", factor=2.0)), "bfloat16", "bin"),
    ("llama-dynamic-sharded", "llama",
     dict(num_key_value_heads=2, max_position_embeddings=16, rope_scaling=dict(rope_type="dynamic", factor=2.0)),
     "float32", "sharded"),
    ("mistral-window", "mistral", dict(num_key_value_heads=2, sliding_window=6, rope_theta=1000000.0), "float32",
     "safetensors"),
    ("qwen2-bias-tied", "qwen2", dict(num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1000000.0),
     "bfloat16", "safetensors"),
    ("qwen3-qknorm-yarn", "qwen3",
     dict(num_key_value_heads=2, head_dim=16, tie_word_embeddings=False,
          rope_scaling=dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=16)), "float16",
     "safetensors"),
    ("qwen3-tied", "qwen3", dict(num_key_value_heads=4, head_dim=8, tie_word_embeddings=True, attention_bias=True),
     "float32", "safetensors"),
]

PROMPTS = [[5, 17, 99, 3, 42, 8, 77, 23, 61, 12, 90, 31], [9, 44, 101, 7, 56]]
NEW_TOKENS = 10


def build(name, model_type, over, dtype, fmt):
    cfg = AutoConfig.for_model(model_type, **{**BASE, **over})
    cfg.architectures = [ARCH[model_type]]
    torch.manual_seed(sum(map(ord, name)))
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif n.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
        st = getattr(torch, dtype)
        for p in model.parameters():  # round to the storage dtype
            p.copy_(p.to(st).float())
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    stored = AutoModelForCausalLM.from_config(cfg, dtype=st)
    stored.load_state_dict({k: v.to(st) for k, v in model.state_dict().items()})
    if fmt == "bin":
        stored.config.save_pretrained(d)
        sd = {k: v.contiguous() for k, v in stored.state_dict().items()}
        if cfg.tie_word_embeddings:
            sd.pop("lm_head.weight", None)
        torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    elif fmt == "sharded":
        stored.save_pretrained(d, max_shard_size="20KB")
    else:
        stored.save_pretrained(d)
    for f in ("generation_config.json",):
        p = os.path.join(d, f)
        if os.path.exists(p):
            os.remove(p)
    # The reference model is what a user gets from the directory, in float32.
    if fmt == "bin":
        ref = model
    else:
        ref = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
        for (n, a), b in zip(ref.state_dict().items(), model.state_dict().values()):
            assert torch.equal(a, b), n
    return ref.eval(), cfg


def greedy(model, prompts, use_cache):
    pad = 0
    T = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (T - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (T - len(p)) + [1] * len(p) for p in prompts])
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False,
                         use_cache=use_cache, pad_token_id=pad, eos_token_id=None)
    return out[:, T:].tolist()


def train(cfg_dir, rows, optim, batch_size, grad_accum, steps, lr):
    bs, ga = batch_size, grad_accum
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(cfg_dir, dtype=torch.float32)
    model.train()
    params = list(model.parameters())
    if optim == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    else:
        opt = Adafactor(params, lr=lr, scale_parameter=False, relative_step=False, warmup_init=False)
    batches = [rows[i:i + bs] for i in range(0, len(rows), bs)]
    losses, b = [], 0
    for _ in range(steps):
        micro = []
        for _ in range(ga):
            micro.append(batches[b % len(batches)])
            b += 1
        tensors = []
        for mb in micro:
            T = max(len(r) for r in mb)
            ids = torch.full((len(mb), T), 2, dtype=torch.long)  # padded with EOS on the right
            labels = torch.full((len(mb), T), -100, dtype=torch.long)
            mask = torch.zeros((len(mb), T), dtype=torch.long)
            for i, r in enumerate(mb):
                ids[i, :len(r)] = torch.tensor(r)
                labels[i, :len(r)] = torch.tensor(r)
                mask[i, :len(r)] = 1
            tensors.append((ids, labels, mask))
        n_tokens = sum(int((l[:, 1:] != -100).sum()) for _, l, _ in tensors)
        total = 0.0
        for ids, labels, mask in tensors:
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss_sum = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100,
                reduction="sum")
            (loss_sum / n_tokens).backward()
            total += loss_sum.item()
        opt.step()  # constant learning rate, no clipping
        opt.zero_grad(set_to_none=True)
        losses.append(total / n_tokens)
    return losses


def report():
    out = {}
    cdir = os.path.join(OUT, "configs")
    for f in sorted(os.listdir(cdir)):
        cfg = AutoConfig.from_pretrained(os.path.join(cdir, f))
        with torch.device("meta"):
            m = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        out[f] = dict(parameters=m.num_parameters(), parameters_without_embeddings=m.num_parameters(
            exclude_embeddings=True), flops_1024=Trainer.floating_point_ops(Namespace(model=m), {"input_ids": torch.zeros(1, 1024)}),
            memory_footprint_fp32=m.get_memory_footprint(), module_tree=str(m))
    return out


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(7)
    rows = [torch.randint(3, V, (int(n),), generator=g).tolist() for n in [14, 9, 20, 11, 17, 6, 12, 19]]
    goldens = {"transformers": transformers.__version__, "torch": torch.__version__, "prompts": PROMPTS,
               "new_tokens": NEW_TOKENS, "train_rows": rows, "cases": []}
    for name, mt, over, dtype, fmt in CASES:
        model, cfg = build(name, mt, over, dtype, fmt)
        with torch.no_grad():
            ids = torch.tensor([PROMPTS[0] + PROMPTS[1] + PROMPTS[0][:6]])  # 23 positions: past windows, dynamic
            logits = model(ids).logits[0]
        case = {"name": name, "model_type": mt, "dtype": dtype, "format": fmt, "logits_ids": ids[0].tolist(),
                "logits": [[round(x, 6) for x in row] for row in logits.tolist()]}
        case["greedy"] = [greedy(model, [p], True)[0] for p in PROMPTS]
        case["greedy_no_cache"] = [greedy(model, [p], False)[0] for p in PROMPTS]
        case["greedy_batch"] = greedy(model, PROMPTS, True)
        if name in ("llama-gqa-tied", "qwen3-qknorm-yarn", "mistral-window"):
            case["train"] = []
            for optim in ("adamw", "adafactor"):
                c = dict(optim=optim, lr=1e-3, batch_size=2, grad_accum=2, steps=10)
                c["losses"] = train(os.path.join(OUT, name) if fmt != "bin" else None, rows, **c)
                case["train"].append(c)
        goldens["cases"].append(case)
        print(name, case["greedy"], case["greedy_batch"], [round(x, 4) for x in case.get("train", [{}])[0].get(
            "losses", [])])
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(goldens, f, separators=(",", ":"))
    with open(os.path.join(OUT, "report.json"), "w") as f:
        json.dump(report(), f, indent=1)


if __name__ == "__main__":
    main()
