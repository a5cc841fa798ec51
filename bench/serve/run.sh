#!/usr/bin/env bash
# bench/serve/run.sh: `golamini serve` under 1, 4 and 16 concurrent streaming
# clients against sequential generation (golamini generating the same requests
# one after another) and against `transformers serve` (transformers 5.24, torch
# 2.15, with and without its --continuous-batching) on the same model in the
# same run. Prints aggregate tokens/s, p50/p99 time to first token and
# per-token latency, and the ratios.
#
#   bench/serve/run.sh                (from anywhere; `make bench` runs it)
#
# Environment: SERVE_BENCH_MODEL (a model directory; default a random-weight
# pythia-70m-shaped checkpoint with the Pythia tokenizer from ../shared/data),
# SERVE_BENCH_REQUESTS (per client and level, default 4), SERVE_BENCH_TOKENS
# (default 64), SERVE_BENCH_CLIENTS (default 1,4,16), SERVE_BENCH_ROUNDS (runs
# per level, the fastest reported, default 3), SERVE_BENCH_SKIP_HF=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
eval "$(scripts/libtorch-env)"
CACHE="${GOLAMINI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/golamini}"
out="$root/bench/out/serve"
mkdir -p "$out"
REQ="${SERVE_BENCH_REQUESTS:-4}"
TOK="${SERVE_BENCH_TOKENS:-64}"
CLIENTS="${SERVE_BENCH_CLIENTS:-1,4,16}"
ROUNDS="${SERVE_BENCH_ROUNDS:-3}"
log() { echo "bench/serve: $*" >&2; }

go build -o "$out/golamini" ./cmd/golamini
go build -o "$out/serve-bench" ./bench/serve
go build -o "$out/step" ./bench/serve/step
PY5="$(scripts/reference-venv "$CACHE/venv-ref5" scripts/reference/requirements-v5.txt)"

tmp="$(mktemp -d /tmp/golamini-serve-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

model="${SERVE_BENCH_MODEL:-}"
if [[ -z "$model" ]]; then
  model="$tmp/model"
  "$PY5" bench/decode/hf_decode.py write-checkpoint "$model" > /dev/null
  tokjson="$root/../shared/data/pythia-tokenizer.json"
  [[ -f "$tokjson" ]] || { echo "bench/serve: $tokjson is absent; set SERVE_BENCH_MODEL" >&2; exit 1; }
  cp "$tokjson" "$model/tokenizer.json" # into the temporary model directory, not the repository
fi

model="$(realpath "$model")"

wait_up() { # url
  for _ in $(seq 1 600); do curl -sf "$1/health" > /dev/null 2>&1 && return 0; sleep 0.5; done
  echo "bench/serve: $1 did not come up" >&2; return 1
}

: > "$out/results.jsonl"
log "sequential generation (in-process, one request at a time)"
"$out/serve-bench" -sequential -model "$model" -label "sequential golamini" -clients "$CLIENTS" -requests "$REQ" -max-tokens "$TOK" -rounds "$ROUNDS" >> "$out/results.jsonl"

log "golamini serve"
port=18700
"$out/golamini" serve --model "$model" --model-name bench --port "$port" --max-batch 16 --quiet 2> "$out/golamini-serve.log" &
pids+=($!)
wait_up "http://127.0.0.1:$port"
"$out/serve-bench" -url "http://127.0.0.1:$port/v1" -model bench -label "golamini serve" -clients "$CLIENTS" -requests "$REQ" -max-tokens "$TOK" -rounds "$ROUNDS" >> "$out/results.jsonl"
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || true

# The batched decoding step alone (no HTTP, no load generator): what bounds
# the aggregate at 16 clients.
log "decoding step over 1 and 16 rows"
"$out/step" -model "$model" -rows 1,16 -steps 200 > "$out/step.jsonl"

if [[ "${SERVE_BENCH_SKIP_HF:-}" != 1 ]]; then
  # transformers serve: the reference venv plus its serving extras, layered
  # with a .pth so torch is not installed twice.
  V="$CACHE/venv-bench-serve"
  sum="$( (cat bench/serve/requirements-serve.txt; echo "$PY5") | sha256sum | cut -d' ' -f1)"
  if [[ ! -f "$V/.complete" || "$(cat "$V/.complete")" != "$sum" ]]; then
    rm -rf "$V"; python3 -m venv "$V"
    "$V/bin/pip" install -q --disable-pip-version-check -r bench/serve/requirements-serve.txt >&2
    site="$("$PY5" -c 'import site; print(site.getsitepackages()[0])')"
    echo "$site" > "$("$V/bin/python" -c 'import site; print(site.getsitepackages()[0])')/golamini-ref5.pth"
    echo "$sum" > "$V/.complete"
  fi
  for cb in "" "--continuous-batching"; do
    port=$((port + 1))
    label="transformers serve${cb:+ $cb}"
    log "$label"
    HF_HUB_OFFLINE=1 "$V/bin/python" -c 'import sys; from transformers.cli.transformers import main; sys.argv = ["transformers", "serve"] + sys.argv[1:]; main()' \
      "$model" --device cpu --port "$port" $cb > "$out/hf-serve$cb.log" 2>&1 &
    pids+=($!)
    if wait_up "http://localhost:$port"; then
      "$out/serve-bench" -url "http://localhost:$port/v1" -model "$model" -label "$label" -clients "$CLIENTS" -requests "$REQ" -max-tokens "$TOK" -rounds "$ROUNDS" >> "$out/results.jsonl" \
        || echo "{\"label\": \"$label\", \"error\": \"load generator failed (see $out/hf-serve$cb.log)\"}" >> "$out/results.jsonl"
    else
      echo "{\"label\": \"$label\", \"error\": \"did not start (see $out/hf-serve$cb.log)\"}" >> "$out/results.jsonl"
    fi
    kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true
  done
fi

python3 - "$out/results.jsonl" "$out/step.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
print("Each level is run several times; the table gives the fastest run and, last, every run's tokens/s.")
print()
print("| server | clients | tokens/s | TTFT p50 / p99 ms | per-token p50 / p99 ms | errors | every run's tokens/s |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        print(f"| {r['label']} | – | – | – | – | {r['error']} | – |")
        continue
    print(f"| {r['label']} | {r['clients']} | {r['tokens_per_s']:.1f} | {r['ttft_p50_ms']:.0f} / {r['ttft_p99_ms']:.0f} | "
          f"{r['per_token_p50_ms']:.1f} / {r['per_token_p99_ms']:.1f} | {r['errors']} | "
          f"{' / '.join(f'{v:.0f}' for v in r.get('round_tokens_per_s', []))} |")
by = {(r["label"], r["clients"]): r for r in rows if "error" not in r}
g1 = by.get(("golamini serve", 1))
print()
for (label, c), r in sorted(by.items(), key=lambda x: (x[0][1], x[0][0])):
    if label == "golamini serve":
        continue
    ours = by.get(("golamini serve", c))
    if ours:
        print(f"- {c} clients: golamini serve {ours['tokens_per_s'] / r['tokens_per_s']:.2f}× the tokens/s of {label}")
if g1:
    for c in sorted({c for (l, c) in by if l == "golamini serve"}):
        print(f"- golamini serve at {c} clients: {by[('golamini serve', c)]['tokens_per_s'] / g1['tokens_per_s']:.2f}× its 1-client throughput")
if steps:
    print()
    print("The decoding step alone (bench/serve/step: Forward + Greedy over rows of their own lengths, in-process):")
    print()
    print("| rows | step ms min / p10 / p50 / p90 | tokens/s at p50 |")
    print("|---|---|---|")
    for r in steps:
        print(f"| {r['rows']} | {r['step_ms_min']:.1f} / {r['step_ms_p10']:.1f} / {r['step_ms_p50']:.1f} / {r['step_ms_p90']:.1f} | {r['tokens_per_s']:.0f} |")
    one = next((r for r in steps if r["rows"] == 1), None)
    for r in steps:
        if one and r["rows"] > 1:
            print(f"\n- {r['rows']} rows per step: {r['tokens_per_s'] / one['tokens_per_s']:.2f}× the tokens/s of one row (p50 steps)")
PYEOF
