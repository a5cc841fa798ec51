#!/usr/bin/env bash
# bench/families/run.sh: decode and training speed of the Llama-style
# families, golamini against HF transformers 5.24.0 / torch 2.15.0, side by
# side in one run, interleaved round by round. Prints a markdown table on
# stdout; raw JSON lines go to bench/out/families/. bench/run.sh runs it with
# the other bench/*/run.sh.
#
# Models: a SmolLM2-135M-shaped LlamaForCausalLM and a Qwen2.5-0.5B-shaped
# Qwen2ForCausalLM (testdata/families/configs; random weights, fp32).
#   decode  batch 1, greedy, 128 new tokens after a 16-token prompt, KV cache;
#           HF with 1 thread and with torch's default;
#   train   AdamW, batch 4 × 512 tokens, clipping at 1.0, best of 3 steps after
#           one warm-up step; HF as a plain PyTorch loop, both thread settings.
#   floor   (with train) the training step's matrix-product floor: its FLOPs
#           counted from the config, each product shape timed with libtorch
#           at golamini's thread count, and what fraction of that floor's
#           tokens/s golamini and HF reach (families -mode floor).
#
# Environment: FAMILIES_ROUNDS (default 2), FAMILIES_TINY=1 (a smoke run: the
# same configs shrunk to 2 layers × 64 hidden, vocab 512, 16 new tokens,
# batch 2 × 32), FAMILIES_PY (a Python with torch + transformers 5 instead of
# the bench venv), FAMILIES_ONLY=decode|train (run one mode only; the
# summary shows 0 for the other), FAMILIES_MODELS (space-separated config
# names, default "smollm2-135m qwen2.5-0.5b"), FAMILIES_STEPS (timed training
# steps per run, default 3), FAMILIES_TRAIN_ONE_THREAD=1 (also train on one
# thread; by default training runs on every core only), GOLAMINI_CACHE.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="$root/bench/out/families"
mkdir -p "$out"
ROUNDS="${FAMILIES_ROUNDS:-2}"
log() { echo "bench/families: $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

eval "$(scripts/libtorch-env)"
CACHE="${GOLAMINI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/golamini}"
PY="${FAMILIES_PY:-$(scripts/reference-venv "$CACHE/venv-bench-hf-current" bench/requirements-hf-current.txt)}"
go build -o "$out/families" ./bench/families

override="" dec=(--new-tokens 128) trn=(--batch 4 --seq 512 --steps "${FAMILIES_STEPS:-3}")
MODES="${FAMILIES_ONLY:-decode train}"
case "$MODES" in decode | train | "decode train") ;; *) log "FAMILIES_ONLY=$MODES: decode or train"; exit 2 ;; esac
MODELS="${FAMILIES_MODELS:-smollm2-135m qwen2.5-0.5b}"
for cfg in $MODELS; do [[ -f "testdata/families/configs/$cfg.json" ]] || { log "FAMILIES_MODELS: no testdata/families/configs/$cfg.json"; exit 2; }; done
if [[ "${FAMILIES_TINY:-0}" == "1" ]]; then
  override='{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512}'
  dec=(--new-tokens 16) trn=(--batch 2 --seq 32 --steps "${FAMILIES_STEPS:-3}")
fi
gflags() { local a=(); for x in "$@"; do [[ "$x" == --* ]] && a+=("-${x#--}") || a+=("$x"); done; echo "${a[@]}"; }

: > "$out/results.jsonl"
record() { # label command...
  local label="$1"; shift
  local l line
  l="$(loadavg)"
  if line="$("$@" 2> "$out/last.err")"; then
    printf '{"round": %d, "label": "%s", "load": "%s", "result": %s}\n' "$r" "$label" "$l" "$line" >> "$out/results.jsonl"
  else
    log "$label failed: $(tail -3 "$out/last.err")"
  fi
}
for ((r = 1; r <= ROUNDS; r++)); do
  for cfg in $MODELS; do
    f="testdata/families/configs/$cfg.json"
    for mode in $MODES; do
      if [[ "$mode" == decode ]]; then extra=("${dec[@]}"); else extra=("${trn[@]}"); fi
      log "round $r/$ROUNDS $cfg $mode (load $(loadavg))"
      # shellcheck disable=SC2046
      record "$cfg $mode golamini" "$out/families" -config "$f" -mode "$mode" -override "$override" $(gflags "${extra[@]}")
      # shellcheck disable=SC2046
      # Training on one thread of a multi-core machine is slower for both sides and
      # takes the longest: measured only with FAMILIES_TRAIN_ONE_THREAD=1.
      one=1; [[ "$mode" == train && "${FAMILIES_TRAIN_ONE_THREAD:-0}" != 1 ]] && one=0
      ((one)) && record "$cfg $mode golamini 1 thread" "$out/families" -config "$f" -mode "$mode" -override "$override" -threads 1 $(gflags "${extra[@]}")
      ((one)) && record "$cfg $mode hf 1 thread" "$PY" bench/families/hf_families.py --config "$f" --mode "$mode" --override "$override" --threads 1 "${extra[@]}"
      record "$cfg $mode hf default threads" "$PY" bench/families/hf_families.py --config "$f" --mode "$mode" --override "$override" "${extra[@]}"
      # The training step's matrix-product floor at golamini's thread count.
      # shellcheck disable=SC2046
      [[ "$mode" == train ]] && record "$cfg floor" "$out/families" -config "$f" -mode floor -override "$override" $(gflags "${extra[@]}")
    done
  done
done

python3 - "$out/results.jsonl" "${FAMILIES_TINY:-0}" "$MODELS" "$MODES" <<'PY'
import json, sys
sys.path.insert(0, "bench/internal/floor")
from products_table import print_products
rows = [json.loads(l) for l in open(sys.argv[1])]
best, floors, fastest = {}, {}, {}
for r in rows:
    k = r["label"]
    if "floor" in r["result"]:
        f = r["result"]["floor"]
        if k not in floors or f["floor_tokens_per_s"] > floors[k]["floor_tokens_per_s"]:
            floors[k] = f
        continue
    if r["result"]["tokens_per_s"] > best.get(k, 0):
        fastest[k] = r["result"]
    best[k] = max(best.get(k, 0), r["result"]["tokens_per_s"])
print("## Llama-style families: golamini vs transformers 5.24 / torch 2.15" + (" (TINY smoke run: shapes shrunk, not the real models)" if sys.argv[2] == "1" else ""))
print()
print("Best tokens/s over rounds (random fp32 weights; decode: batch 1, greedy; train: AdamW, clipping 1.0).")
print()
print("| model | mode | golamini | golamini 1 thread | HF 1 thread | HF default threads | ratio (faster of each) |")
print("|---|---|---|---|---|---|---|")
for cfg in sys.argv[3].split():
    for mode in sys.argv[4].split():
        g0 = best.get(f"{cfg} {mode} golamini", 0)
        g1 = best.get(f"{cfg} {mode} golamini 1 thread", 0)
        g = max(g0, g1)
        h1 = best.get(f"{cfg} {mode} hf 1 thread", 0)
        hd = best.get(f"{cfg} {mode} hf default threads", 0)
        hf = max(h1, hd)
        ratio = f"{g / hf:.2f}×" if hf else "–"
        v = lambda x: f"{x:.1f}" if x else "–"
        print(f"| {cfg} | {mode} | {v(g0)} | {v(g1)} | {v(h1)} | {v(hd)} | {ratio} |")
mem = [(k, r) for k, r in fastest.items() if "peak_rss_mb" in r]
if mem:
    print("""
Training runs' memory and kernel time (each from its fastest run): peak resident memory of the process, and the
kernel's share of the CPU time over the timed steps (page faults: the kernel mapping and zeroing fresh pages for
tensors whose memory the allocator gave back).

| run | tokens/s | peak RSS MB | kernel share of CPU time |
|---|---|---|---|""")
    for k, r in sorted(mem):
        print(f"| {k} | {r['tokens_per_s']:.1f} | {r['peak_rss_mb']:.0f} | {100 * r['kernel_cpu_share']:.1f}% |")
if floors:
    print("""
### What bounds training: the matrix-product floor

Each training step's matrix products counted from the config (`bench/internal/floor`: every linear's forward, dX and
dW, attention's QKᵀ, P·V and their four backward products over the causal half, the loss head in golamini's chunks),
each product shape timed with libtorch 2.1's matmul at golamini's thread count (fastest product over 3 rounds), summed as FLOPs/rate. No
implementation running these products on this libtorch finishes a step faster; norms, activations, softmax and
AdamW only add to it. HF runs torch 2.15, whose GEMMs may be faster than the floor's.
""")
    print("| model | threads | GFLOP per step | probe GFLOP/s (mean) | floor step s | floor tokens/s | golamini tokens/s (of floor) | HF tokens/s (of floor) |")
    print("|---|---|---|---|---|---|---|---|")
    for cfg in sys.argv[3].split():
        f = floors.get(f"{cfg} floor")
        if not f:
            continue
        g = max(best.get(f"{cfg} train golamini", 0), best.get(f"{cfg} train golamini 1 thread", 0))
        h = max(best.get(f"{cfg} train hf 1 thread", 0), best.get(f"{cfg} train hf default threads", 0))
        ft = f["floor_tokens_per_s"]
        of = lambda x: f"{x:.1f} ({100 * x / ft:.0f}%)" if x else "–"
        print(f"| {cfg} | {f['threads']} | {f['flops_per_step'] / 1e9:.4g} | {f['mean_gflop_s']:.1f} | {f['floor_step_s']:.3g} | {ft:.1f} | {of(g)} | {of(h)} |")
    for cfg in sys.argv[3].split():
        f = floors.get(f"{cfg} floor")
        if not f:
            continue
        print_products(f"{cfg}: the step's products", f)
print("""
Speed paths on these families: a decoding step's one-row products run golamini's AVX2 kernel (four rows per
pass, where MKL's sgemv takes its generic path on AMD), each layer's q/k/v projections as one row-shared job
(RowLinearCat, the weights read in place), Qwen3's q/k norms, rotary, cache write and grouped-query attention
in one call (DecodeAttentionGrouped), gate and up with SiLU⊙ as one job (RowLinearSwiGLU), RMSNorm in one pass
(RMSNormRows), and greedy decoding screens the output projection (ArgmaxLinear, tied or not; int8 products with vpmaddubsw). Training uses the
chunked loss head (LinearCrossEntropy; `lm_head` has no bias), the one-op rotary (torch.Rotary, float32 CPU), RMSNorm as one autograd op (torch.RMSNorm) and
the one-pass AdamW. Training keeps freed CPU memory for the next tensors (torch.EnableCPUCache: a splitting, merging
cache whose free memory is capped at half the machine's RAM). It grows over the warm-up and the first timed step (the
AdamW state, made at the end of the warm-up, takes memory that step had freed); the steps after it take no page faults,
so golamini's kernel share above comes from that first timed step.""")
PY
