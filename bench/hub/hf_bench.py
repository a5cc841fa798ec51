#!/usr/bin/env python3
"""huggingface_hub side of the hub download benchmark (run by bench/hub/run.sh).

Downloads golamini-test/big from a running stand-in hub (hubserve) with
snapshot_download into a fresh cache, --repeats times, and prints one JSON
line: the best seconds and MB/s (1 MB = 1e6 bytes).
"""
import argparse
import json
import os
import shutil
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    import huggingface_hub
    from huggingface_hub import snapshot_download

    best, size = None, 0
    for _ in range(args.repeats):
        cache = tempfile.mkdtemp(prefix="hf_bench_")
        try:
            t0 = time.perf_counter()
            snap = snapshot_download("golamini-test/big", cache_dir=cache, endpoint=args.endpoint, token=False)
            dt = time.perf_counter() - t0
            size = os.path.getsize(os.path.join(snap, "model.safetensors"))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        best = dt if best is None else min(best, dt)
    print(json.dumps({"huggingface_hub": huggingface_hub.__version__, "bytes": size,
                      "seconds": best, "mb_per_s": size / best / 1e6}))


if __name__ == "__main__":
    main()
