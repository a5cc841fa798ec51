"""HF transformers side of bench/families: greedy decode speed (batch 1, KV cache) and training tokens/s (AdamW,
plain PyTorch loop as a Trainer step does: forward, loss, backward, clip at 1.0, step) for a model of a real
config.json's shape with random fp32 weights. Prints one JSON line, like bench/families/main.go.

  python bench/families/hf_families.py --config FILE --mode decode|train [--override JSON] [--threads N]
"""
import argparse
import json
import resource
import sys
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--override", default="")
    p.add_argument("--mode", default="decode")
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    d = json.load(open(a.config))
    if a.override:
        d.update(json.loads(a.override))
    cfg = AutoConfig.for_model(**d)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    out = dict(impl="hf", torch=torch.__version__, transformers=transformers.__version__,
               threads=torch.get_num_threads(), attn=getattr(model.config, "_attn_implementation", "?"),
               parameters=model.num_parameters())
    V = cfg.vocab_size
    if a.mode == "decode":
        model.eval()
        ids = torch.tensor([[(100 + i * 37) % V for i in range(a.prompt)]])
        mask = torch.ones_like(ids)
        model.generation_config.eos_token_id = None
        gen = dict(max_new_tokens=a.new_tokens, do_sample=False, use_cache=True, pad_token_id=0, eos_token_id=None)
        model.generate(ids, attention_mask=mask, **dict(gen, max_new_tokens=8))
        runs = []
        for _ in range(a.reps):
            start = time.perf_counter()
            o = model.generate(ids, attention_mask=mask, **gen)
            n = o.shape[1] - ids.shape[1]
            if n != a.new_tokens:
                sys.exit(f"generated {n} tokens, want {a.new_tokens}")
            runs.append(n / (time.perf_counter() - start))
        out.update(mode="decode", new_tokens=a.new_tokens, tokens_per_s=max(runs), runs=runs)
    else:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
        g = torch.Generator().manual_seed(1)
        times = []
        for step in range(a.steps + 1):
            ids = torch.randint(3, V, (a.batch, a.seq), generator=g)
            start = time.perf_counter()
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if step > 0:
                times.append(time.perf_counter() - start)
            else:
                ru0 = resource.getrusage(resource.RUSAGE_SELF)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        user, sys_ = ru.ru_utime - ru0.ru_utime, ru.ru_stime - ru0.ru_stime
        out.update(mode="train", batch=a.batch, seq=a.seq, steps=a.steps,
                   tokens_per_s=a.batch * a.seq / min(times),
                   kernel_cpu_share=sys_ / (user + sys_), peak_rss_mb=ru.ru_maxrss / 1024)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
