"""HF side of bench/lora: LoRA training speed and memory with transformers + PEFT in a plain PyTorch loop doing
what a Trainer step does (forward with labels, backward, clipping at 1.0, AdamW over the adapter, zero_grad), on a
model of random float32 weights with the shape of pythia-410m or Qwen2.5-0.5B, an adapter of rank r and lora_alpha
2r on the attention projections. One JSON line, like the Go side (bench/lora/main.go).

    python bench/lora/hf_lora.py [--shape pythia-410m|qwen2.5-0.5b|tiny] [--r 16] [--batch 4] [--seq 512]
                                 [--steps 3] [--warmup 1] [--threads N] [--gradient-checkpointing]
"""
import argparse
import json
import resource
import time

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, Qwen2Config, Qwen2ForCausalLM


def build(shape):
    if shape in ("pythia-410m", "tiny"):
        big = shape == "pythia-410m"
        cfg = GPTNeoXConfig(vocab_size=50304 if big else 1024, hidden_size=1024 if big else 64,
                            num_hidden_layers=24 if big else 2, num_attention_heads=16 if big else 4,
                            intermediate_size=4096 if big else 256, rotary_pct=0.25,
                            max_position_embeddings=2048 if big else 512, use_cache=False, tie_word_embeddings=False,
                            use_parallel_residual=True, bos_token_id=0, eos_token_id=0)
        return GPTNeoXForCausalLM(cfg), ["query_key_value", "dense"]
    if shape == "qwen2.5-0.5b":  # Qwen/Qwen2.5-0.5B's config.json
        cfg = Qwen2Config(vocab_size=151936, hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                          num_key_value_heads=2, intermediate_size=4864, max_position_embeddings=32768,
                          rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, use_cache=False)
        return Qwen2ForCausalLM(cfg), ["q_proj", "k_proj", "v_proj", "o_proj"]
    raise SystemExit(f"unknown shape {shape}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="pythia-410m")
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--gradient-checkpointing", action="store_true")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    base, targets = build(a.shape)
    if a.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(base, LoraConfig(r=a.r, lora_alpha=2 * a.r, lora_dropout=0.0, target_modules=targets,
                                            task_type="CAUSAL_LM"))
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)
    vocab = model.config.vocab_size
    total = a.warmup + a.steps
    ids = torch.randint(0, vocab, (total, a.batch, a.seq), generator=g)
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    wall, cpu = [], []
    for i in range(total):
        t0, c0 = time.perf_counter(), time.process_time()
        out = model(input_ids=ids[i], attention_mask=mask, labels=ids[i])
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        out.loss.item()
        if i >= a.warmup:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    tokens = a.batch * a.seq
    s = sorted(wall)
    print(json.dumps(dict(impl="hf-peft", torch=torch.__version__, transformers=transformers.__version__,
                          peft=peft.__version__, shape=a.shape, r=a.r, batch=a.batch, seq=a.seq,
                          threads=torch.get_num_threads(), gradient_checkpointing=a.gradient_checkpointing,
                          trainable_parameters=sum(q.numel() for q in params), tokens_per_s=tokens / s[0],
                          tokens_per_s_median=tokens / s[len(s) // 2], step_s=wall, cpu_s_per_step=min(cpu),
                          peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))


if __name__ == "__main__":
    main()
