#!/usr/bin/env python3
"""HF tokenizers side of the tokenizer benchmark (run by bench/tokenizer/run.sh).

Encodes the 1,400 question+answer texts of lamini_docs.jsonl with the Pythia
tokenizer (or --tokenizer FILE, e.g. tokenizers/qwen2.5/tokenizer.json), one at a time (tokenizer.encode) and as a batch (encode_batch), warm
cache, best of --repeats passes (wall-clock and process CPU time, the latter
being steadier on a busy shared machine). Prints one JSON line of seconds per pass and
writes the ids to --ids-out for the Go side to compare.

Thread count is set by the caller: RAYON_NUM_THREADS=1 for single-threaded.
"""
import argparse
import json
import os
import sys
import time

from tokenizers import Tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("GOLAMINI_SHARED", os.path.join("..", "shared")))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--ids-out", default="")
    ap.add_argument("--tokenizer", default="pythia-tokenizer.json",
                    help="tokenizer.json under the shared data folder (e.g. tokenizers/qwen2.5/tokenizer.json)")
    args = ap.parse_args()
    data = os.path.join(args.shared, "data")
    t0 = time.process_time()
    tok = Tokenizer.from_file(os.path.join(data, args.tokenizer))
    load_cpu = time.process_time() - t0
    texts = []
    with open(os.path.join(data, "lamini_docs.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            texts.append(r["question"] + r["answer"])
    if len(texts) != 1400:
        sys.exit(f"hf_bench: {len(texts)} rows, want 1400")

    ids = [tok.encode(s, add_special_tokens=False).ids for s in texts]  # also warms the cache
    one = batch = one_cpu = batch_cpu = float("inf")
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for s in texts:
            tok.encode(s, add_special_tokens=False)
        t1, c1 = time.perf_counter(), time.process_time()
        tok.encode_batch(texts, add_special_tokens=False)
        t2, c2 = time.perf_counter(), time.process_time()
        one, batch = min(one, t1 - t0), min(batch, t2 - t1)
        one_cpu, batch_cpu = min(one_cpu, c1 - c0), min(batch_cpu, c2 - c1)
    if args.ids_out:
        with open(args.ids_out, "w") as f:
            json.dump(ids, f)
    print(json.dumps({
        "one_at_a_time_s": one,
        "batch_s": batch,
        "one_at_a_time_cpu_s": one_cpu,
        "batch_cpu_s": batch_cpu,
        "load_cpu_s": load_cpu,
        "tokens": sum(len(x) for x in ids),
        "rayon_threads": os.environ.get("RAYON_NUM_THREADS", "all"),
        "tokenizers": __import__("tokenizers").__version__,
    }))


if __name__ == "__main__":
    main()
