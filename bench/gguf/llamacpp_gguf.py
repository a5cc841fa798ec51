"""Decode speed of llama.cpp (llama-cpp-python, built by scripts/llamacpp-venv) on a GGUF file, run as
it is stored (quantized blocks), for bench/gguf/run.sh. Prints one JSON line.

  python bench/gguf/llamacpp_gguf.py --gguf FILE --prompt-ids JSON [--prompt-text TEXT] [--new-tokens 128] [--reps 2] [--threads N]

The prompt is given as token ids (the reference's apply_chat_template ids, so all three implementations
start from the same tokens); when --prompt-text is given, llama.cpp's own tokenization of it is reported
too. Greedy (argmax) at batch 1; EOS does not stop generation, so every run yields exactly --new-tokens
tokens; tokens/s is those tokens over the whole run (prefill of the prompt included), best of --reps
after a short warm-up.
"""
import argparse
import json
import sys
import time


def generate(llm, ids, n):
    llm.reset()
    out = []
    for t in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True):
        out.append(int(t))
        if len(out) == n:
            break
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", required=True)
    p.add_argument("--prompt-ids", required=True)
    p.add_argument("--prompt-text", default=None)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    import llama_cpp

    ids = [int(i) for i in json.loads(a.prompt_ids)]
    kw = {}
    if a.threads:
        kw = dict(n_threads=a.threads, n_threads_batch=a.threads)
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=a.gguf, n_ctx=len(ids) + a.new_tokens + 16, n_batch=512, verbose=False, **kw)
    load_s = time.perf_counter() - t0
    own = None
    if a.prompt_text is not None:
        own = llm.tokenize(a.prompt_text.encode(), add_bos=False, special=True)
    generate(llm, ids, 8)
    runs, new = [], None
    for _ in range(a.reps):
        start = time.perf_counter()
        new = generate(llm, ids, a.new_tokens)
        el = time.perf_counter() - start
        if len(new) != a.new_tokens:
            sys.exit(f"generated {len(new)} tokens, want {a.new_tokens}")
        runs.append(a.new_tokens / el)
    print(json.dumps(dict(impl="llama.cpp", version=f"llama-cpp-python {llama_cpp.__version__}",
                          threads=llm.n_threads if hasattr(llm, "n_threads") else a.threads, load_s=load_s,
                          new_tokens=a.new_tokens, tokens_per_s=max(runs), runs=runs, prompt_ids=ids,
                          own_prompt_ids=own, new_ids=new,
                          text=llm.detokenize(new, special=True).decode("utf-8", "replace"))))


if __name__ == "__main__":
    main()
