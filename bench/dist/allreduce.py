"""bench/dist/allreduce.py: the same all-reduce from torch.distributed (Python),
for bench/dist/run.sh: Gloo over loopback, the gradient in DDP's 25 MB buckets
(flattened per bucket as DDP does), after one warm-up; rank 0 prints one JSON line.

    python bench/dist/allreduce.py --nproc 2 --numel 70426624 --iters 5
"""
import argparse, json, os, socket, time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

BUCKET = 25 << 20


def rank(r, a, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=r, world_size=a.nproc)
    ts, left = [], a.numel
    while left > 0:
        n = min(left, 1 << 20)
        ts.append(torch.zeros(n))
        left -= n
    buckets, cur, size = [], [], 0
    for t in ts:
        if cur and size + t.numel() * 4 > BUCKET:
            buckets.append(cur); cur, size = [], 0
        cur.append(t); size += t.numel() * 4
    buckets.append(cur)

    def step():
        flats = [torch.cat([t.reshape(-1) for t in b]) for b in buckets]
        works = [dist.all_reduce(f, async_op=True) for f in flats]
        for w in works:
            w.wait()
        for b, f in zip(buckets, flats):
            off = 0
            for t in b:
                t.copy_(f[off:off + t.numel()]); off += t.numel()

    step()
    start = time.perf_counter()
    for _ in range(a.iters):
        step()
    sec = (time.perf_counter() - start) / a.iters
    if r == 0:
        b = a.numel * 4
        print(json.dumps({"impl": "torch.distributed " + torch.__version__, "backend": "gloo", "world_size": a.nproc, "numel": a.numel,
                          "seconds": sec, "algbw_gb_s": b / sec / 1e9, "busbw_gb_s": b / sec / 1e9 * 2 * (a.nproc - 1) / a.nproc}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--numel", type=int, default=70426624)
    p.add_argument("--iters", type=int, default=5)
    a = p.parse_args()
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    mp.spawn(rank, args=(a, port), nprocs=a.nproc)
