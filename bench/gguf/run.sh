#!/usr/bin/env bash
# bench/gguf/run.sh: decode speed on the real SmolLM2-135M-Instruct Q4_1 GGUF (scripts/smollm2-gguf),
# side by side in one run, interleaved round by round:
#   golamini      runner.New(FILE.gguf), weights dequantized to float32 (bench/gguf/main.go)
#   transformers  5.24 / torch 2.15 from_pretrained(dir, gguf_file=...), float32 (bench/gguf/hf_gguf.py)
#   llama.cpp     llama-cpp-python 0.3.36 compiled by scripts/llamacpp-venv, the file's quantized
#                 blocks as stored (bench/gguf/llamacpp_gguf.py)
# Batch 1, greedy, 128 new tokens after the chat template applied to one question, 1 and 2 threads.
# Prints a markdown table on stdout: tokens/s, ratios, the weight bytes each reads per token (from the
# file's tensor table), and how many leading greedy tokens the three agree on. Raw JSON lines go to
# bench/out/gguf/. bench/run.sh runs it with the other bench/*/run.sh.
#
#   bench/gguf/run.sh
#   GGUF_BENCH_TINY=1 bench/gguf/run.sh     (a smoke run: 1 round, 16 new tokens, 1 rep; numbers mean nothing)
#
# Environment: GGUF_ROUNDS (default 3), GGUF_THREADS (default "1 2"), GGUF_NEW_TOKENS (default 128),
# GGUF_REPS (timed generations per measurement, default 2), GOLAMINI_CACHE.
# Where llama.cpp cannot be built here, the table says so and the other two are still measured.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="$root/bench/out/gguf"
mkdir -p "$out"
ROUNDS="${GGUF_ROUNDS:-3}"
THREADS="${GGUF_THREADS:-1 2}"
NEW="${GGUF_NEW_TOKENS:-128}"
REPS="${GGUF_REPS:-2}"
if [[ "${GGUF_BENCH_TINY:-0}" == "1" ]]; then ROUNDS=1 NEW=16 REPS=1; fi
log() { echo "bench/gguf: $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()[-500:]))'; }

eval "$(scripts/libtorch-env)"
CACHE="${GOLAMINI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/golamini}"
GGUF="$(scripts/smollm2-gguf)"
PY="$CACHE/venv-ref5/bin/python" # torch 2.15 + transformers 5.24 + gguf 0.19 (scripts/reference/requirements-v5.txt)
if [[ ! -f "$CACHE/venv-ref5/.complete" ]]; then
  PY="$(scripts/reference-venv "$CACHE/venv-ref5" scripts/reference/requirements-v5.txt)"
fi
LPY="" llama_err=""
if LPY="$(scripts/llamacpp-venv 2> "$out/llamacpp-venv.log")"; then :; else
  llama_err="llama-cpp-python could not be built here: $(tail -3 "$out/llamacpp-venv.log" | tr '\n' ' ')"
  log "$llama_err"; LPY=""
fi
go build -o "$out/gguf" ./bench/gguf

"$out/gguf" -gguf "$GGUF" -sizes > "$out/sizes.json"
"$PY" bench/gguf/hf_gguf.py --gguf "$GGUF" --prompt-only > "$out/prompt.json"
prompt_ids="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["prompt_ids"]))' "$out/prompt.json")"
prompt_text="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prompt_text"], end="")' "$out/prompt.json")"

results="$out/results.jsonl"
: > "$results"
record() { # impl threads command...
  local impl="$1" th="$2"; shift 2
  local l line
  l="$(loadavg)"
  if line="$("$@" 2> "$out/last.err")"; then
    printf '{"round": %d, "impl": "%s", "threads": %s, "load": "%s", "result": %s}\n' "$r" "$impl" "$th" "$l" "$line" >> "$results"
  else
    log "$impl $th threads failed: $(tail -3 "$out/last.err")"
    printf '{"round": %d, "impl": "%s", "threads": %s, "load": "%s", "error": %s}\n' "$r" "$impl" "$th" "$l" "$(tail -3 "$out/last.err" | jstr)" >> "$results"
  fi
}
for ((r = 1; r <= ROUNDS; r++)); do
  for th in $THREADS; do
    log "round $r/$ROUNDS, $th thread(s) (load $(loadavg))"
    record golamini "$th" "$out/gguf" -gguf "$GGUF" -threads "$th" -new-tokens "$NEW" -reps "$REPS"
    record hf "$th" "$PY" bench/gguf/hf_gguf.py --gguf "$GGUF" --threads "$th" --new-tokens "$NEW" --reps "$REPS"
    if [[ -n "$LPY" ]]; then
      record llama.cpp "$th" "$LPY" bench/gguf/llamacpp_gguf.py --gguf "$GGUF" --prompt-ids "$prompt_ids" --prompt-text "$prompt_text" \
        --threads "$th" --new-tokens "$NEW" --reps "$REPS"
    fi
  done
done

python3 bench/gguf/report.py "$results" "$out/sizes.json" "$out/prompt.json" "${GGUF_BENCH_TINY:-0}" "$llama_err"
