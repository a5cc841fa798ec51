"""LoRA goldens: HF PEFT creates adapters over the tiny test checkpoints and records logits, merged logits and
10-step training curves that golamini's LoRA (internal/lora, internal/train) must reproduce.

    ~/.cache/golamini/venv-ref5/bin/python scripts/reference/lora_goldens.py   # torch 2.15, transformers 5, peft 0.21

For each model in MODELS it writes, under testdata/lora/<name>/:
  adapter/         a PEFT adapter (save_pretrained: adapter_config.json + adapter_model.safetensors) over
                   every linear projection named in targets, lora_B drawn non-zero so the adapter matters;
  adapter-rslora/  the same A and B over the family's PEFT default targets, with use_rslora;
  goldens.json     the rows used, logits of the base + adapter at a few positions (both adapters), the merged
                   model's logits (merge_and_unload), and the per-step losses of a plain PyTorch + PEFT loop
                   (AdamW and Adafactor; batch 2 right-padded, gradient accumulation 2, constant lr, no clipping,
                   no weight decay, dropout 0) starting from adapter/, as scripts/reference/train_goldens.py
                   sets up full fine-tuning.
Adding a family is one more MODELS entry (its tiny checkpoint directory, or a function making one, and its module
names); the Llama entry's checkpoint is made here (testdata/lora/llama/model).
"""
import json
import os

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM
from transformers.optimization import Adafactor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "testdata", "lora")

MODELS = {
    "gpt-neox": dict(
        dir=os.path.join(ROOT, "testdata", "models", "tiny-seq"),
        # attention.dense is matched by the suffix "dense" (PEFT's rule: the key or its last dotted parts), the
        # MLP's two projections by their own names: every projection path golamini has (plain and GELU-fused).
        targets=["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
        default_targets=["query_key_value"],
        pad=0,
    ),
    # A tiny Llama (grouped-query attention, tied embeddings) this script makes itself (make_llama).
    "llama": dict(
        dir=os.path.join(OUT, "llama", "model"),
        make="llama",
        targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        default_targets=["q_proj", "v_proj"],
        pad=0,
    ),
}


def make_llama(dir):
    """A seeded random LlamaForCausalLM small enough for testdata (vocab 1024: the rows' ids)."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(3)
    cfg = LlamaConfig(vocab_size=1024, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True, bos_token_id=1, eos_token_id=0, initializer_range=0.1)
    LlamaForCausalLM(cfg).save_pretrained(dir)

R, ALPHA = 4, 8
STEPS, BATCH, ACCUM = 10, 2, 2
CASES = [dict(name="adamw", optim="adamw", lr=5e-3), dict(name="adafactor", optim="adafactor", lr=5e-3)]
POSITIONS = 3  # logits kept per row: first, middle, last real position


def train_rows():
    with open(os.path.join(ROOT, "testdata", "train", "goldens.json")) as f:
        return json.load(f)["rows"][:12]


def base(spec):
    m = AutoModelForCausalLM.from_pretrained(spec["dir"], dtype=torch.float32)
    m.config.use_cache = False
    return m


def padded(rows, pad):
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad, dtype=torch.long)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        labels[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, labels, mask


def picked_logits(model, rows, pad):
    ids, _, mask = padded(rows, pad)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    out = []
    for i, r in enumerate(rows):
        n = len(r)
        for p in sorted({0, n // 2, n - 1}):
            out.append(dict(row=i, pos=p, logits=logits[i, p].tolist()))
    return out


def make_adapter(spec, targets, rslora, seed):
    torch.manual_seed(seed)
    cfg = LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM",
                     use_rslora=rslora)
    pm = get_peft_model(base(spec), cfg)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.2)  # PEFT starts B at zero; a golden must see the adapter's effect
    return pm


def save(pm, spec, dir):
    pm.peft_config["default"].base_model_name_or_path = os.path.relpath(spec["dir"], ROOT)  # not this machine's path
    pm.save_pretrained(dir)
    os.remove(os.path.join(dir, "README.md"))  # PEFT's model card template: nothing a test reads


def train(spec, adapter_dir, case, data):
    torch.manual_seed(0)
    model = PeftModel.from_pretrained(base(spec), adapter_dir, is_trainable=True)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    if case["optim"] == "adamw":
        opt = torch.optim.AdamW(params, lr=case["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    else:
        opt = Adafactor(params, lr=case["lr"], scale_parameter=False, relative_step=False, warmup_init=False)
    batches = [data[i:i + BATCH] for i in range(0, len(data), BATCH)]  # file order, epoch after epoch
    losses, b = [], 0
    for _ in range(STEPS):
        micro = []
        for _ in range(ACCUM):
            micro.append(padded(batches[b % len(batches)], spec["pad"]))
            b += 1
        n_tokens = sum(int((l[:, 1:] != -100).sum()) for _, l, _ in micro)
        total = 0.0
        for ids, labels, mask in micro:
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss_sum = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100,
                reduction="sum")
            (loss_sum / n_tokens).backward()
            total += loss_sum.item()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(total / n_tokens)
    return losses


def main():
    torch.set_num_threads(1)
    data = train_rows()
    probe = [data[0], data[1][:len(data[1]) // 2]]  # two rows of different lengths: the second is right-padded
    for name, spec in MODELS.items():
        out = os.path.join(OUT, name)
        os.makedirs(out, exist_ok=True)
        if spec.get("make") == "llama":
            make_llama(spec["dir"])
        g = dict(model=os.path.relpath(spec["dir"], ROOT), r=R, lora_alpha=ALPHA, rows=data, probe_rows=probe,
                 pad=spec["pad"])

        pm = make_adapter(spec, spec["targets"], False, 1)
        save(pm, spec, os.path.join(out, "adapter"))
        g["logits"] = picked_logits(pm, probe, spec["pad"])
        merged = pm.merge_and_unload()
        g["merged_logits"] = picked_logits(merged, probe, spec["pad"])

        pr = make_adapter(spec, spec["default_targets"], True, 2)
        save(pr, spec, os.path.join(out, "adapter-rslora"))
        g["rslora_logits"] = picked_logits(pr, probe, spec["pad"])

        g["cases"] = []
        for c in CASES:
            c = dict(c, batch_size=BATCH, grad_accum=ACCUM, steps=STEPS, rows=len(data))
            c["losses"] = train(spec, os.path.join(out, "adapter"), c, data)
            g["cases"].append(c)
            print(name, c["name"], [round(x, 5) for x in c["losses"]])
        for k in ("logits", "merged_logits", "rslora_logits"):
            for e in g[k]:
                e["logits"] = [round(v, 6) for v in e["logits"]]
        with open(os.path.join(out, "goldens.json"), "w") as f:
            json.dump(g, f)
        diff = max(max(abs(a - b) for a, b in zip(x["logits"], y["logits"])) for x, y in zip(g["logits"], g["merged_logits"]))
        print(name, "merged vs unmerged max |Δlogit|", diff)


if __name__ == "__main__":
    main()
