#!/usr/bin/env bash
# bench/lora/run.sh: LoRA training speed and memory of golamini against HF transformers 5.24 + PEFT 0.21 on torch
# 2.15, side by side in one run, interleaved round by round. Prints a markdown table on stdout; raw JSON lines go to
# bench/out/lora/. bench/run.sh runs it with the other bench/*/run.sh. Each round also prints the matrix-product floor
# of the LoRA and the frozen step (bench/lora -floor) and what fraction of it golamini and PEFT reach.
#
#   bench/lora/run.sh                        (pythia-410m- and Qwen2.5-0.5B-shaped, r 16 on attention, 4 × 512)
#   LORA_BENCH_TINY=1 bench/lora/run.sh      (a smoke run at a tiny size: checks the pipeline, numbers mean nothing)
#
# Environment: LORA_ROUNDS (default 2), LORA_SHAPES (default "pythia-410m qwen2.5-0.5b"), GOLAMINI_CACHE.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="$root/bench/out/lora"
mkdir -p "$out"
ROUNDS="${LORA_ROUNDS:-2}"
SHAPES="${LORA_SHAPES:-pythia-410m qwen2.5-0.5b}"
ARGS=(--r 16 --batch 4 --seq 512 --steps 3 --warmup 1)
if [[ "${LORA_BENCH_TINY:-0}" == "1" ]]; then
  SHAPES="tiny"; ROUNDS=1; ARGS=(--r 4 --batch 2 --seq 32 --steps 2 --warmup 1)
fi
eval "$(scripts/libtorch-env)"
CACHE="${GOLAMINI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/golamini}"
PY="$CACHE/venv-ref5/bin/python" # torch 2.15 + transformers 5.24 + peft 0.21 (scripts/reference/requirements-v5.txt)
if [[ ! -x "$PY" ]]; then
  PY="$(scripts/reference-venv "$CACHE/venv-ref5" scripts/reference/requirements-v5.txt)"
fi
go build -o "$out/lora" ./bench/lora
results="$out/results.jsonl"
: > "$results"
# record IMPL COMMAND...: the command's JSON line, or an error line naming IMPL and the shape.
record() {
  local impl="$1" line; shift
  if line="$("$@" 2> "$out/last.err")"; then echo "$line" >> "$results"
  else echo "{\"impl\": \"$impl\", \"shape\": \"$shape\", \"error\": $(tail -1 "$out/last.err" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')}" >> "$results"; fi
}
for ((r = 1; r <= ROUNDS; r++)); do
  for shape in $SHAPES; do
    goargs=()
    for a in "${ARGS[@]}"; do goargs+=("${a/#--/-}"); done
    # golamini first, then HF: each a fresh process, so peak RSS is its own.
    record golamini "$out/lora" -shape "$shape" "${goargs[@]}"
    record golamini-frozen "$out/lora" -frozen -shape "$shape" "${goargs[@]}"
    record hf-peft "$PY" bench/lora/hf_lora.py --shape "$shape" "${ARGS[@]}"
    # The matrix-product floors of the LoRA and the frozen step at golamini's thread count.
    record floor "$out/lora" -floor -shape "$shape" "${goargs[@]}"
  done
done
python3 - "$results" <<'PY'
import json, sys
sys.path.insert(0, "bench/internal/floor")
from products_table import print_products
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
floors = {}
for r in rows:
    if r["impl"] == "floor" and "error" not in r:
        if r["shape"] not in floors or r["lora"]["floor_tokens_per_s"] > floors[r["shape"]]["lora"]["floor_tokens_per_s"]:
            floors[r["shape"]] = r
floor_errors = [r for r in rows if r["impl"] == "floor" and "error" in r]
rows = [r for r in rows if r["impl"] != "floor"]
ok = [r for r in rows if "error" not in r]
if ok:
    print(f"### LoRA training (r {ok[0]['r']} on attention projections, AdamW, batch {ok[0]['batch']} × {ok[0]['seq']}, random fp32 weights, best of the rounds)\n")
print("| shape | golamini tokens/s | HF PEFT tokens/s | speed ratio | golamini peak RSS MB | HF peak RSS MB | RSS ratio |")
print("|---|---|---|---|---|---|---|")
cost = {}
for shape in dict.fromkeys(r["shape"] for r in rows):
    best = {}
    for r in rows:
        if r["shape"] != shape:
            continue
        if "error" in r:
            best.setdefault(r["impl"], r)
            continue
        b = best.get(r["impl"])
        if b is None or "error" in b or r["tokens_per_s"] > b["tokens_per_s"]:
            best[r["impl"]] = r
    g, h, f = best.get("golamini", {}), best.get("hf-peft", {}), best.get("golamini-frozen", {})
    if "tokens_per_s" in g and "tokens_per_s" in f:
        cost[shape] = (1 / g["tokens_per_s"] - 1 / f["tokens_per_s"]) * g["batch"] * g["seq"], g["batch"] * g["seq"] / g["tokens_per_s"]
    def num(r, k, f="%.1f"):
        return f % r[k] if k in r else ("error: " + r.get("error", "not run"))
    ratio = "%.2f×" % (g["tokens_per_s"] / h["tokens_per_s"]) if "tokens_per_s" in g and "tokens_per_s" in h else "–"
    rss = "%.0f%%" % (100 * g["peak_rss_mb"] / h["peak_rss_mb"]) if "peak_rss_mb" in g and "peak_rss_mb" in h else "–"
    print(f"| {shape} | {num(g, 'tokens_per_s')} | {num(h, 'tokens_per_s')} | {ratio} | {num(g, 'peak_rss_mb', '%.0f')} | {num(h, 'peak_rss_mb', '%.0f')} | {rss} |")
if cost:
    print()
    print("What the adapter path costs: golamini's LoRA step against forward + backward through the frozen model alone")
    print("(`bench/lora -frozen`: no adapter, only layer 0's input norm asks for a gradient, so backward still carries the")
    print("activations' gradients through every layer, as LoRA's must):")
    print()
    for shape, (extra, step) in cost.items():
        print(f"- {shape}: LoRA step {step:.2f} s, of which {extra:.2f} s ({100 * extra / step:.0f}%) is the adapters' products, their gradients and AdamW over them")
if floors or floor_errors:
    print()
    print("What bounds these steps: their matrix-product floor (`bench/lora -floor`, `bench/internal/floor`). Each step's")
    print("products counted from the config (base linears' forward and, where the input needs a gradient, dX; the adapters'")
    print("six products; attention's QKᵀ, P·V and four backward products over the causal half; the loss head's logits and")
    print("dX in golamini's chunks), each shape timed with libtorch 2.1's matmul at golamini's thread count (fastest product")
    print("over 3 rounds), summed as FLOPs/rate: no step on this libtorch is faster. HF runs torch 2.15, whose GEMMs may be faster.")
    print()
    print("| shape | step | threads | GFLOP per step | probe GFLOP/s (mean) | floor step s | floor tokens/s | golamini tokens/s (of floor) | HF PEFT tokens/s (of floor) |")
    print("|---|---|---|---|---|---|---|---|---|")
    def tps(shape, impl):
        v = [r["tokens_per_s"] for r in rows if r["shape"] == shape and r["impl"] == impl and "tokens_per_s" in r]
        return max(v) if v else 0
    for shape, fr in floors.items():
        for step, impl, hf in (("lora", "golamini", "hf-peft"), ("frozen", "golamini-frozen", None)):
            f = fr[step]
            ft = f["floor_tokens_per_s"]
            of = lambda x: f"{x:.1f} ({100 * x / ft:.0f}%)" if x else "–"
            name = f"LoRA r {fr['r']}" if step == "lora" else "frozen (no adapter)"
            print(f"| {shape} | {name} | {f['threads']} | {f['flops_per_step'] / 1e9:.4g} | {f['mean_gflop_s']:.1f} | {f['floor_step_s']:.3g} | {ft:.1f} | {of(tps(shape, impl))} | {of(tps(shape, hf)) if hf else '–'} |")
    for r in floor_errors:
        print(f"| {r['shape']} | floor | error: {r['error']} | | | | | | |")
    for shape, fr in floors.items():
        f = fr["lora"]
        print_products(f"{shape}: the LoRA step's products", f)
PY
