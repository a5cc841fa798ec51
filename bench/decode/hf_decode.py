"""HF transformers side of bench/decode: greedy decode speed of a
pythia-70m-shaped GPTNeoXForCausalLM (random weights, fp32, batch 1, KV cache)
and from_pretrained load time. Prints one JSON line per measurement, like the
Go side (bench/decode/main.go), with wall-clock tokens/s and process CPU
seconds per token (all threads). Runs in any venv with torch + transformers;
bench/run.sh runs it with torch 2.1.0 + transformers 4.44.2 and with
torch 2.15.0 + transformers 5.24.0.

  python bench/decode/hf_decode.py decode [--threads N] [--reps R]
  python bench/decode/hf_decode.py write-checkpoint DIR   # fp16 safetensors
  python bench/decode/hf_decode.py load DIR [--reps R]
"""

import argparse
import json
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
        use_cache=True,
        bos_token_id=0,
        eos_token_id=0,
        tie_word_embeddings=False,
        use_parallel_residual=True,
    )


def versions():
    return {"torch": torch.__version__, "transformers": transformers.__version__}


def decode(args):
    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(pythia70m_config()).eval()
    # The same prompt as the Go side: 16 ids 100, 137, 174, …
    ids = torch.tensor([[100 + i * 37 for i in range(args.prompt)]], dtype=torch.long)
    mask = torch.ones_like(ids)
    gen = dict(
        max_new_tokens=args.new_tokens,
        do_sample=False,
        use_cache=True,
        pad_token_id=0,
        eos_token_id=None,  # never stop early: exactly new_tokens like the Go side
    )
    model.generation_config.eos_token_id = None
    model.generate(ids, attention_mask=mask, **dict(gen, max_new_tokens=8))  # warm-up
    runs, cpu = [], []
    for _ in range(args.reps):
        c0, start = time.process_time(), time.perf_counter()
        out = model.generate(ids, attention_mask=mask, **gen)
        elapsed, c = time.perf_counter() - start, time.process_time() - c0
        n = out.shape[1] - ids.shape[1]
        if n != args.new_tokens:
            sys.exit(f"hf_decode: generated {n} tokens, want {args.new_tokens}")
        runs.append(n / elapsed)
        cpu.append(c / n)
    print(json.dumps(dict(
        impl="hf", **versions(), threads=torch.get_num_threads(),
        attn=getattr(model.config, "_attn_implementation", "?"),
        new_tokens=args.new_tokens, tokens_per_s=max(runs), runs=runs, cpu_s_per_token=min(cpu))))


def write_checkpoint(args):
    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(pythia70m_config()).half()
    model.save_pretrained(args.dir, safe_serialization=True)
    print(json.dumps(dict(wrote=args.dir, **versions())))


def load(args):
    runs = []
    for _ in range(args.reps):
        start = time.perf_counter()
        # float32 like the Go side (its default compute dtype), whatever the file holds.
        try:
            model = GPTNeoXForCausalLM.from_pretrained(args.dir, dtype=torch.float32)
        except TypeError:  # transformers < 4.56 names it torch_dtype
            model = GPTNeoXForCausalLM.from_pretrained(args.dir, torch_dtype=torch.float32)
        runs.append(time.perf_counter() - start)
        assert model.get_output_embeddings().weight.dtype == torch.float32
        del model
    print(json.dumps(dict(impl="hf", **versions(), load_s=min(runs), runs=runs)))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("decode")
    d.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    d.add_argument("--new-tokens", type=int, default=128)
    d.add_argument("--prompt", type=int, default=16)
    d.add_argument("--reps", type=int, default=3)
    w = sub.add_parser("write-checkpoint")
    w.add_argument("dir")
    l = sub.add_parser("load")
    l.add_argument("dir")
    l.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    {"decode": decode, "write-checkpoint": write_checkpoint, "load": load}[args.cmd](args)


if __name__ == "__main__":
    main()
