"""Decode speed of HF transformers on a GGUF file (transformers dequantizes it to float32 with the
gguf package), the reference side of bench/gguf/run.sh. Prints one JSON line.

  python bench/gguf/hf_gguf.py --gguf FILE [--question TEXT] [--new-tokens 128] [--reps 2] [--threads N]
  python bench/gguf/hf_gguf.py --gguf FILE --prompt-only      (the chat-templated prompt's ids, no model)

The prompt is apply_chat_template([user question], add_generation_prompt=True) with the template from
the file's metadata. Greedy at batch 1 with the KV cache; EOS does not stop generation, so every run
yields exactly --new-tokens tokens; tokens/s is those tokens over the whole generate() call, best of
--reps after a short warm-up.
"""
import argparse
import json
import os
import sys
import time


def prompt_ids(tok, question):
    ids = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
        ids = ids["input_ids"]
    return [int(i) for i in ids]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", required=True)
    p.add_argument("--question", default="What is the capital of France?")
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--prompt-only", action="store_true")
    a = p.parse_args()
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if a.threads:
        torch.set_num_threads(a.threads)
    folder, name = os.path.split(os.path.abspath(a.gguf))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    ids = prompt_ids(tok, a.question)
    text = tok.apply_chat_template([{"role": "user", "content": a.question}], add_generation_prompt=True, tokenize=False)
    if a.prompt_only:
        print(json.dumps({"impl": "hf", "prompt_text": text, "prompt_ids": ids}))
        return
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    load_s = time.perf_counter() - t0
    model.generation_config.eos_token_id = None
    x = torch.tensor([ids])
    mask = torch.ones_like(x)
    gen = dict(max_new_tokens=a.new_tokens, do_sample=False, use_cache=True, pad_token_id=0, eos_token_id=None)
    runs, new = [], None
    with torch.inference_mode():
        model.generate(x, attention_mask=mask, **dict(gen, max_new_tokens=8))
        for _ in range(a.reps):
            start = time.perf_counter()
            o = model.generate(x, attention_mask=mask, **gen)
            el = time.perf_counter() - start
            n = o.shape[1] - x.shape[1]
            if n != a.new_tokens:
                sys.exit(f"generated {n} tokens, want {a.new_tokens}")
            runs.append(n / el)
            new = [int(i) for i in o[0, x.shape[1]:]]
    print(json.dumps(dict(impl="hf", version=f"transformers {transformers.__version__} / torch {torch.__version__.split('+')[0]}",
                          threads=torch.get_num_threads(), load_s=load_s, new_tokens=a.new_tokens,
                          tokens_per_s=max(runs), runs=runs, prompt_ids=ids, new_ids=new,
                          text=tok.decode(new, skip_special_tokens=False))))


if __name__ == "__main__":
    main()
