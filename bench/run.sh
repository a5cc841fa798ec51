#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs. Sets up what it needs (libtorch, the two
# HF reference venvs), then measures and writes bench/RESULTS.md:
#
#   - build time of the module from clean (a fresh GOCACHE in /tmp, so gotch's
#     C++ is compiled too; the shared Go cache is left alone),
#   - `make test` wall time,
#   - decode tokens/s of a pythia-70m-shaped model (random fp32 weights, batch 1,
#     greedy, 128 new tokens, KV cache): golamini against HF transformers'
#     generate with torch 2.1.0 + transformers 4.44.2 and with torch 2.15.0 +
#     transformers 5.24.0, each HF version with 1 thread and with torch's
#     default, interleaved round by round, best of all rounds,
#   - checkpoint load time (the same model, random weights, fp16 safetensors)
#     against from_pretrained, interleaved,
#   - the memory read bandwidth of the moment (decode is bounded by it),
#   - every other bench/*/run.sh (their output goes in as it is), and every
#     bench/RESULTS-*.md others write.
#
#   bench/run.sh              (from anywhere; `make bench`)
#
# Environment: BENCH_ROUNDS (decode/load rounds, default 3), BENCH_SKIP (space-
# separated steps to skip: build test decode load others), BENCH_OTHERS (space-
# separated names of the other benchmarks to run, e.g. "families lora"; default
# every bench/*/run.sh), GOLAMINI_CACHE. Sections of the previous RESULTS.md
# that a partial run does not retake are kept, marked with the run that
# measured them. Raw measurements are kept in bench/out/ (git-ignored).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/bench/out"
mkdir -p "$out"
ROUNDS="${BENCH_ROUNDS:-3}"
SKIP=" ${BENCH_SKIP:-} "
skip() { [[ "$SKIP" == *" $1 "* ]]; }
OTHERS=" ${BENCH_OTHERS:-} "
wanted() { [[ "$OTHERS" == "  " || "$OTHERS" == *" $1 "* ]]; }
# Outputs of an earlier run left in bench/out must not pass for this run's.
skip build && rm -f "$out/build.json"
skip test && rm -f "$out/test.json"
skip decode && rm -f "$out/decode.jsonl" "$out/bandwidth.jsonl"
skip load && rm -f "$out/load.jsonl" "$out/checkpoint.json"
rm -rf "$out/others"
log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- set-up ----
eval "$(scripts/libtorch-env)"
# golamini's default thread count is the usable CPUs minus the load average,
# which on a busy machine would give golamini fewer threads than torch's
# default gives the references; benchmarks compare both on every core.
export GOLAMINI_THREADS="${GOLAMINI_THREADS:-$(nproc)}"
CACHE="${GOLAMINI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/golamini}"
if ! skip decode || ! skip load; then # the reference venvs these two steps use (others set up their own)
  PY_OLD="$(scripts/reference-venv)"                                                     # torch 2.1.0 + transformers 4.44.2
  PY_NEW="$(scripts/reference-venv "$CACHE/venv-bench-hf-current" bench/requirements-hf-current.txt)" # torch 2.15.0 + transformers 5.24.0
fi
go build -o "$out/decode" ./bench/decode
go build -o "$out/report" ./bench/report

# ---- the machine ----
{
  printf '{"command": "make bench (bench/run.sh)", "date": "%s", ' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '"nproc": %s, "cpu": "%s", ' "$(nproc)" "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  printf '"mem_gib": %s, "kernel": "%s", "go": "%s", ' "$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)" "$(uname -r)" "$(go env GOVERSION)"
  printf '"commit": "%s", "load_start": "%s"}\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$(loadavg)"
} > "$out/machine.json"

# ---- build from clean ----
if ! skip build; then
  log "build from clean (fresh GOCACHE; compiles gotch's C++: minutes)"
  gocache="$(mktemp -d /tmp/golamini-bench-gocache.XXXXXX)"
  l0="$(loadavg)"; t0="$(now)"; rc=0
  GOCACHE="$gocache" go build ./... > "$out/build.log" 2>&1 || rc=$?
  t1="$(now)"
  rm -rf "$gocache"
  printf '{"build_s": %s, "exit": %d, "load": "%s / %s"}\n' "$(elapsed "$t0" "$t1")" "$rc" "$l0" "$(loadavg)" > "$out/build.json"
fi

# ---- make test ----
if ! skip test; then
  log "make test (minutes)"
  l0="$(loadavg)"; t0="$(now)"; rc=0
  make test > "$out/test.log" 2>&1 || rc=$?
  t1="$(now)"
  printf '{"make_test_s": %s, "exit": %d, "load": "%s / %s"}\n' "$(elapsed "$t0" "$t1")" "$rc" "$l0" "$(loadavg)" > "$out/test.json"
fi

# ---- decode, interleaved ----
# One line per measurement: {"round": r, "label": ..., "load": ..., <the program's JSON>}.
record() { # file label command...
  local file="$1" label="$2"; shift 2
  local l line
  l="$(loadavg)"
  if line="$("$@" 2> "$out/last.err")"; then
    printf '{"round": %d, "label": "%s", "load": "%s", "result": %s}\n' "$r" "$label" "$l" "$line" >> "$file"
  else
    log "$label failed: $(tail -3 "$out/last.err")"
    printf '{"round": %d, "label": "%s", "load": "%s", "error": %s}\n' "$r" "$label" "$l" \
      "$(python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()[-500:]))' < "$out/last.err")" >> "$file"
  fi
}
if ! skip decode; then
  : > "$out/decode.jsonl"
  : > "$out/bandwidth.jsonl"
  for ((r = 1; r <= ROUNDS; r++)); do
    log "decode round $r/$ROUNDS (load $(loadavg))"
    record "$out/bandwidth.jsonl" "bandwidth 1 thread" "$out/decode" -probe-bandwidth -threads 1
    record "$out/decode.jsonl" "golamini" "$out/decode" -reps 3
    record "$out/decode.jsonl" "hf 4.44.2 / torch 2.1.0, 1 thread" "$PY_OLD" bench/decode/hf_decode.py decode --reps 3 --threads 1
    record "$out/decode.jsonl" "hf 5.24.0 / torch 2.15.0, 1 thread" "$PY_NEW" bench/decode/hf_decode.py decode --reps 3 --threads 1
    record "$out/decode.jsonl" "hf 4.44.2 / torch 2.1.0, default threads" "$PY_OLD" bench/decode/hf_decode.py decode --reps 2
    record "$out/decode.jsonl" "hf 5.24.0 / torch 2.15.0, default threads" "$PY_NEW" bench/decode/hf_decode.py decode --reps 2
    record "$out/bandwidth.jsonl" "bandwidth all threads" "$out/decode" -probe-bandwidth
  done
fi

# ---- checkpoint load, interleaved ----
if ! skip load; then
  ckpt="$(mktemp -d /tmp/golamini-bench-ckpt.XXXXXX)"
  trap 'rm -rf "$ckpt"' EXIT
  "$PY_OLD" bench/decode/hf_decode.py write-checkpoint "$ckpt" > /dev/null
  du -sb "$ckpt"/model.safetensors | awk '{printf "{\"checkpoint_bytes\": %d}\n", $1}' > "$out/checkpoint.json"
  : > "$out/load.jsonl"
  for ((r = 1; r <= ROUNDS; r++)); do
    log "load round $r/$ROUNDS"
    record "$out/load.jsonl" "golamini model.Load" "$out/decode" -load "$ckpt" -reps 3
    record "$out/load.jsonl" "hf 4.44.2 from_pretrained" "$PY_OLD" bench/decode/hf_decode.py load "$ckpt" --reps 3
    record "$out/load.jsonl" "hf 5.24.0 from_pretrained" "$PY_NEW" bench/decode/hf_decode.py load "$ckpt" --reps 3
  done
fi

# ---- the other benchmarks ----
if ! skip others; then
  mkdir -p "$out/others"
  for script in bench/*/run.sh; do
    name="$(basename "$(dirname "$script")")"
    [[ "$name" == "decode" ]] && continue
    wanted "$name" || continue
    log "other benchmark: $script"
    rc=0
    "$script" > "$out/others/$name.txt" 2> "$out/others/$name.log" || rc=$?
    echo "$rc" > "$out/others/$name.exit"
  done
fi

sed -i "s/}\$/, \"load_end\": \"$(loadavg)\"}/" "$out/machine.json"
"$out/report" -out bench/RESULTS.md -previous bench/RESULTS.md "$out"
log "wrote bench/RESULTS.md"
