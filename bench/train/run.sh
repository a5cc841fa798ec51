#!/usr/bin/env bash
# bench/train/run.sh: training speed and memory of golamini against HF
# transformers (torch 2.1.0 + transformers 4.44.2, and torch 2.15.0 +
# transformers 5.24.0), side by side in one run, interleaved round by round.
# Prints markdown tables on stdout (bench/train/report.py); raw JSON lines go to
# bench/out/train/. bench/run.sh runs it with the other bench/*/run.sh.
#
#   bench/train/run.sh                       (from anywhere; needs ../shared/data)
#   TRAIN_BENCH_PATCHES=1 bench/train/run.sh (also measures a copy of the tree
#                                            with bench/train/proposed/*.patch)
#
# What it measures (pythia-70m-shaped GPTNeoXForCausalLM, random weights, fp32):
#   tokens  training tokens/s at batch 4 × 512, AdamW, clipping at 1.0: 1 warm-up
#           + 3 timed steps, libtorch's default threads and 1 thread, best step;
#   profile where a step's time goes (Go-side timers, Python timers for HF, and
#           libtorch's operator trace for golamini), 1 thread;
#   micro   the machine's matmul rate now, attention and rotary alternatives;
#   epoch   lamini_docs train split: HF the course's way (batch 1, padded to the
#           longest row) on the first TRAIN_EPOCH_FRACTION of the rows, golamini
#           with length-grouped batches of 8 on the same rows, and (the last
#           build only) on all rows;
#   leak    golamini's RSS after 100 and after 1000 steps of a small model.
#
# Environment: TRAIN_ROUNDS (default 2), TRAIN_EPOCH_FRACTION (default 0.05),
# TRAIN_SKIP (space-separated: tokens profile micro epoch leak),
# TRAIN_BENCH_PATCHES (1: also the patched tree), GOLAMINI_CACHE.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="$root/bench/out/train"
mkdir -p "$out"
ROUNDS="${TRAIN_ROUNDS:-2}"
FRACTION="${TRAIN_EPOCH_FRACTION:-0.05}"
SKIP=" ${TRAIN_SKIP:-} "
skip() { [[ "$SKIP" == *" $1 "* ]]; }
log() { echo "bench/train: $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

eval "$(scripts/libtorch-env)"
CACHE="${GOLAMINI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/golamini}"
PY_OLD="$(scripts/reference-venv)" # torch 2.1.0 + transformers 4.44.2
PY_NEW="$(scripts/reference-venv "$CACHE/venv-bench-hf-current" bench/requirements-hf-current.txt)" # torch 2.15.0 + transformers 5.24.0
go build -o "$out/train" ./bench/train
GO=("$out/train")
if [[ "${TRAIN_BENCH_PATCHES:-0}" == "1" ]]; then
  # The working tree (tracked and untracked files) with the proposed patches.
  tree="$(mktemp -d /tmp/golamini-bench-train-tree.XXXXXX)"
  trap 'rm -rf "$tree"' EXIT
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$tree"
  ok=1
  patches=(bench/train/proposed/*.patch)
  [[ -e "${patches[0]}" ]] || { log "no patches in bench/train/proposed: no patched build"; ok=0; patches=(); }
  for p in "${patches[@]}"; do
    patch -s -p1 -d "$tree" < "$p" || { log "$p does not apply (merged already?): no patched build"; ok=0; }
  done
  if [[ "$ok" == 1 ]]; then
    (cd "$tree" && go build -o "$out/train-patched" ./bench/train)
    GO+=("$out/train-patched")
  fi
fi
label() { [[ "$1" == *patched ]] && echo "golamini + proposed patches" || echo "golamini"; }

{
  printf '{"date": "%s", "nproc": %s, "cpu": "%s", "mem_gib": %s, "commit": "%s", "load_start": "%s", ' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
    "$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$(loadavg)"
  printf '"rounds": %d, "fraction": %s, "patched": %s}\n' "$ROUNDS" "$FRACTION" "$([[ ${#GO[@]} -gt 1 ]] && echo true || echo false)"
} > "$out/machine.json"

# record FILE LABEL COMMAND...: one line {"round", "label", "load", "result"|"error"}.
r=0
record() {
  local file="$1" lbl="$2"; shift 2
  local l line
  l="$(loadavg)"
  if line="$("$@" 2> "$out/last.err")"; then
    printf '{"round": %d, "label": "%s", "load": "%s", "result": %s}\n' "$r" "$lbl" "$l" "$line" >> "$file"
  else
    log "$lbl failed: $(tail -3 "$out/last.err")"
    printf '{"round": %d, "label": "%s", "load": "%s", "error": %s}\n' "$r" "$lbl" "$l" \
      "$(python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()[-500:]))' < "$out/last.err")" >> "$file"
  fi
}
HF_OLD="hf 4.44.2 / torch 2.1.0"
HF_NEW="hf 5.24.0 / torch 2.15.0"

if ! skip tokens; then
  : > "$out/tokens.jsonl"
  for ((r = 1; r <= ROUNDS; r++)); do
    for threads in 0 1; do
      tl="default threads"; [[ "$threads" == 1 ]] && tl="1 thread"
      log "tokens round $r/$ROUNDS, $tl (load $(loadavg))"
      for g in "${GO[@]}"; do
        record "$out/tokens.jsonl" "$(label "$g"), $tl" "$g" tokens -threads "$threads"
      done
      hf_threads=(); [[ "$threads" == 1 ]] && hf_threads=(--threads 1)
      record "$out/tokens.jsonl" "$HF_OLD, $tl" "$PY_OLD" bench/train/hf_train.py tokens "${hf_threads[@]}"
      record "$out/tokens.jsonl" "$HF_NEW, $tl" "$PY_NEW" bench/train/hf_train.py tokens "${hf_threads[@]}"
    done
  done
fi

if ! skip profile; then
  : > "$out/profile.jsonl"
  r=1
  log "profile (1 thread, load $(loadavg))"
  record "$out/profile.jsonl" "golamini before (materialised logits, op-by-op AdamW)" "${GO[0]}" profile -threads 1 -variant old -steps 2
  record "$out/profile.jsonl" "golamini now (fused loss head and AdamW, CPU cache)" "${GO[0]}" profile -threads 1 -variant new -steps 2 -cpu-cache 2048
  if [[ ${#GO[@]} -gt 1 ]]; then
    record "$out/profile.jsonl" "golamini + proposed patches" "${GO[1]}" profile -threads 1 -variant new -steps 2 -cpu-cache 2048 -trace "$out/trace.json"
  else
    record "$out/profile.jsonl" "golamini now (traced)" "${GO[0]}" profile -threads 1 -variant new -steps 2 -cpu-cache 2048 -trace "$out/trace.json"
  fi
  record "$out/profile.jsonl" "$HF_OLD" "$PY_OLD" bench/train/hf_train.py profile --threads 1 --steps 2
  record "$out/profile.jsonl" "$HF_NEW" "$PY_NEW" bench/train/hf_train.py profile --threads 1 --steps 2
  python3 bench/train/trace_table.py "$out/trace.json" --top 30 > "$out/trace-table.txt" || true
fi

if ! skip micro; then
  : > "$out/micro.jsonl"
  r=1
  log "micro (load $(loadavg))"
  record "$out/micro.jsonl" "golamini micro, 1 thread" "${GO[-1]}" micro -threads 1 -reps 3 -cpu-cache 2048
  record "$out/micro.jsonl" "golamini micro, default threads" "${GO[-1]}" micro -only gemm -reps 3 -cpu-cache 2048
fi

if ! skip epoch; then
  : > "$out/epoch.jsonl"
  r=1
  log "epoch (load $(loadavg); HF takes minutes)"
  for g in "${GO[@]}"; do
    record "$out/epoch.jsonl" "$(label "$g"), batch 8 grouped, first $FRACTION" "$g" epoch -fraction "$FRACTION" -batch 8
  done
  record "$out/epoch.jsonl" "$HF_OLD, batch 1 padded, first $FRACTION" "$PY_OLD" bench/train/hf_train.py epoch --fraction "$FRACTION"
  record "$out/epoch.jsonl" "$HF_NEW, batch 1 padded, first $FRACTION" "$PY_NEW" bench/train/hf_train.py epoch --fraction "$FRACTION"
  g="${GO[-1]}" # the whole split once, with the last build (the patched one when there is one)
  record "$out/epoch.jsonl" "$(label "$g"), batch 8 grouped, whole split" "$g" epoch -fraction 1 -batch 8
fi

if ! skip leak; then
  : > "$out/leak.jsonl"
  r=1
  for g in "${GO[@]}"; do
    log "leak: $(label "$g"), 1000 steps (load $(loadavg))"
    record "$out/leak.jsonl" "$(label "$g")" "$g" leak -steps 1000
  done
fi

sed -i "s/}\$/, \"load_end\": \"$(loadavg)\"}/" "$out/machine.json"
python3 bench/train/report.py "$out"
