"""Training-curve goldens: PyTorch + transformers train the tiny test checkpoint on fixed rows in a
fixed order and record every step's loss; the Go trainer must reproduce them (internal/train tests).

    $(scripts/reference-venv) scripts/reference/train_goldens.py

Writes testdata/train/goldens.json with the token ids used (so the Go test needs no tokenizer) and, per
case, the settings and the loss of each optimizer step. The loss of a step is the mean next-token
cross-entropy over all label tokens of its micro-batches (gradient accumulation normalised by the total
number of label tokens, not a mean of per-batch means).
"""
import json
import os

import torch
from tokenizers import Tokenizer
from transformers import GPTNeoXForCausalLM
from transformers.optimization import Adafactor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "testdata", "models", "tiny-seq")
OUT = os.path.join(ROOT, "testdata", "train")
MAX_LEN = 48
EOS = 0


def rows(n):
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    out = []
    with open(os.path.join(ROOT, "testdata", "sdk_qa.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            ids = tok.encode(r["question"] + r["answer"], add_special_tokens=False).ids + [EOS]
            out.append(ids[-MAX_LEN:])  # truncation from the left
            if len(out) == n:
                break
    return out


def run(case, data):
    torch.manual_seed(0)
    model = GPTNeoXForCausalLM.from_pretrained(MODEL, torch_dtype=torch.float32)
    model.train()
    params = list(model.parameters())
    if case["optim"] == "adamw":
        opt = torch.optim.AdamW(params, lr=case["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    else:
        opt = Adafactor(params, lr=case["lr"], scale_parameter=False, relative_step=False, warmup_init=False)
    bs, ga = case["batch_size"], case["grad_accum"]
    batches = [data[i:i + bs] for i in range(0, len(data), bs)]  # no shuffling: file order, epoch after epoch
    losses, b = [], 0
    for step in range(case["steps"]):
        micro = []
        for _ in range(ga):
            micro.append(batches[b % len(batches)])
            b += 1
        tensors = []
        for mb in micro:
            T = max(len(r) for r in mb)
            ids = torch.full((len(mb), T), EOS, dtype=torch.long)
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
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100, reduction="sum")
            (loss_sum / n_tokens).backward()
            total += loss_sum.item()
        opt.step()  # constant learning rate, no clipping
        opt.zero_grad(set_to_none=True)
        losses.append(total / n_tokens)
    return losses


def main():
    torch.set_num_threads(1)
    data = rows(16)
    cases = [
        dict(name="adamw-b1", optim="adamw", lr=1e-3, batch_size=1, grad_accum=1, steps=10, rows=12),
        dict(name="adafactor-b1", optim="adafactor", lr=1e-3, batch_size=1, grad_accum=1, steps=10, rows=12),
        dict(name="adamw-b2-ga4", optim="adamw", lr=1e-3, batch_size=2, grad_accum=4, steps=10, rows=16),
    ]
    for c in cases:
        c["losses"] = run(c, data[:c["rows"]])
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump({"eos": EOS, "rows": data, "cases": cases}, f, indent=1)
    for c in cases:
        print(c["name"], [round(x, 4) for x in c["losses"]])


if __name__ == "__main__":
    main()
