"""HF transformers side of bench/train: training speed and memory of a
pythia-70m-shaped GPTNeoXForCausalLM (random weights, fp32) in a plain
PyTorch loop doing what a Trainer step does: forward with labels (the
model's own shifted cross-entropy), backward, gradient clipping at 1.0,
torch.optim.AdamW, zero_grad. Prints one JSON line per measurement, like
the Go side (bench/train/main.go), with wall-clock and process CPU seconds
(all threads) and peak RSS. bench/train/run.sh runs it with torch 2.1.0 +
transformers 4.44.2 and with torch 2.15.0 + transformers 5.24.0.

  python bench/train/hf_train.py tokens [--steps N] [--warmup W] [--batch B] [--seq T]
  python bench/train/hf_train.py profile [--steps N] [--batch B] [--seq T]
  python bench/train/hf_train.py epoch [--fraction F] [--data FILE] [--tokenizer FILE]
"""

import argparse
import json
import os
import resource
import sys
import time

import torch
import transformers
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM


def pythia70m_config():
    # The configuration of EleutherAI/pythia-70m (model.Pythia70M on the Go side).
    return GPTNeoXConfig(
        vocab_size=50304,
        hidden_size=512,
        num_hidden_layers=6,
        num_attention_heads=8,
        intermediate_size=2048,
        hidden_act="gelu",
        rotary_pct=0.25,
        rotary_emb_base=10000,
        max_position_embeddings=2048,
        initializer_range=0.02,
        layer_norm_eps=1e-5,
        use_cache=False,
        bos_token_id=0,
        eos_token_id=0,
        tie_word_embeddings=False,
        use_parallel_residual=True,
    )


def common():
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    return dict(impl="hf", torch=torch.__version__, transformers=transformers.__version__,
                threads=torch.get_num_threads(), peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                load=load)


def new_model():
    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(pythia70m_config()).train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    return model, opt


def step(model, opt, ids, mask, labels):
    """One training step as HF Trainer does it (lr schedule aside)."""
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return out.loss.item()


def tokens(args):
    model, opt = new_model()
    g = torch.Generator().manual_seed(1)
    total = args.warmup + args.steps
    ids = torch.randint(0, 50277, (total, args.batch, args.seq), generator=g)
    mask = torch.ones(args.batch, args.seq, dtype=torch.long)
    wall, cpu, losses = [], [], []
    for i in range(total):
        c0, t0 = time.process_time(), time.perf_counter()
        losses.append(step(model, opt, ids[i], mask, ids[i]))
        if i >= args.warmup:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    n = args.batch * args.seq
    print(json.dumps(dict(
        bench="tokens", **common(), attn=getattr(model.config, "_attn_implementation", "?"),
        batch=args.batch, seq=args.seq, steps=len(wall), tokens_per_s=n / min(wall),
        tokens_per_s_median=n / sorted(wall)[len(wall) // 2], step_s=wall, cpu_s_per_step=min(cpu), cpu_s=cpu,
        losses=losses)), flush=True)


def head_loss(model, logits, labels):
    """The loss GPTNeoXForCausalLM.forward computes from its logits: the
    model's loss_function where transformers has one (≥ 4.46), else 4.44's
    shift-and-CrossEntropyLoss."""
    if hasattr(model, "loss_function"):
        return model.loss_function(logits=logits, labels=labels, vocab_size=model.config.vocab_size)
    shift = logits[:, :-1, :].contiguous()
    return torch.nn.functional.cross_entropy(shift.view(-1, shift.size(-1)), labels[:, 1:].contiguous().view(-1))


def profile(args):
    """Where a step's time goes, timed like the Go side's profile mode: the
    model body forward, the head (embed_out + the model's shifted
    cross-entropy) forward and backward from a detached copy of the final
    hidden states, backward through the body, clipping, AdamW, zero_grad."""
    model, opt = new_model()
    g = torch.Generator().manual_seed(1)
    total = args.steps + 1
    ids = torch.randint(0, 50277, (total, args.batch, args.seq), generator=g)
    mask = torch.ones(args.batch, args.seq, dtype=torch.long)
    times = {}
    order = []

    def lap(name, t):
        now = (time.perf_counter(), time.process_time())
        if name not in times:
            times[name] = []
            order.append(name)
        times[name].append((now[0] - t[0], now[1] - t[1]))
        return now

    for i in range(total):
        t = (time.perf_counter(), time.process_time())
        h = model.gpt_neox(input_ids=ids[i], attention_mask=mask).last_hidden_state
        t = lap("forward", t)
        hd = h.detach().requires_grad_(True)
        logits = model.get_output_embeddings()(hd)
        loss = head_loss(model, logits, ids[i])
        loss.item()
        t = lap("loss forward", t)
        loss.backward()
        t = lap("loss backward", t)
        h.backward(hd.grad)
        t = lap("backward", t)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t = lap("grad norm + clip", t)
        opt.step()
        t = lap("adamw", t)
        opt.zero_grad(set_to_none=True)
        t = lap("zero grad", t)
        del h, hd, logits, loss
        if i == 0:
            times.clear()
            order.clear()
    med = lambda v: sorted(v)[len(v) // 2]
    wall = {k: med([w for w, _ in v]) for k, v in times.items()}
    cpu = {k: med([c for _, c in v]) for k, v in times.items()}
    print(json.dumps(dict(
        bench="profile", **common(), attn=getattr(model.config, "_attn_implementation", "?"),
        batch=args.batch, seq=args.seq, steps=args.steps, phases=order, median_wall_s=wall, median_cpu_s=cpu,
        step_wall_s=sum(wall.values()), step_cpu_s=sum(cpu.values()),
        tokens_per_s=args.batch * args.seq / sum(wall.values()))), flush=True)


def epoch(args):
    """The course's way: batch 1, every example padded to the longest of
    the split (labels −100 on padding), the first `fraction` of the split
    in file order."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(args.tokenizer)
    rows = []
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                text = r["question"] + r["answer"]
                rows.append(tok.encode(text, add_special_tokens=False).ids + [0])
    rows = [r for r in rows if len(r) > 1]
    max_len = max(len(r) for r in rows)
    n = max(1, round(len(rows) * args.fraction))
    model, opt = new_model()
    # Warm-up on one padded example (not counted), as the Go side warms up too.
    def batch(r):
        ids = torch.tensor([r + [0] * (max_len - len(r))])
        mask = torch.tensor([[1] * len(r) + [0] * (max_len - len(r))])
        labels = torch.tensor([r + [-100] * (max_len - len(r))])
        return ids, mask, labels
    step(model, opt, *batch(rows[0]))
    c0, t0 = time.process_time(), time.perf_counter()
    real = 0
    for r in rows[:n]:
        step(model, opt, *batch(r))
        real += len(r)
    wall, c = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps(dict(
        bench="epoch", **common(), attn=getattr(model.config, "_attn_implementation", "?"),
        rows=len(rows), examples=n, fraction=n / len(rows), max_len=max_len, batch=1, steps=n,
        padded_tokens=n * max_len, real_tokens=real, wall_s=wall, cpu_s=c,
        epoch_wall_s=wall * len(rows) / n, epoch_cpu_s=c * len(rows) / n)), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tokens", "profile", "epoch"])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--fraction", type=float, default=0.1)
    p.add_argument("--data", default="../shared/data/lamini_docs_train.jsonl")
    p.add_argument("--tokenizer", default="../shared/data/pythia-tokenizer.json")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    {"tokens": tokens, "profile": profile, "epoch": epoch}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
