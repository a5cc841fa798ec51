#!/usr/bin/env bash
# bench/dist/run.sh: data-parallel numbers, printed as a markdown section
# (bench/run.sh collects it into bench/RESULTS.md).
#
#   1. all-reduce of a pythia-70m-sized gradient (70,426,624 float32 values,
#      25 MB buckets) over loopback Gloo, 2 ranks: golamini (c10d inside
#      libtorch 2.1.0, bench/dist/main.go) and torch.distributed in Python
#      (bench/dist/allreduce.py, the reference venv's torch), in the same run;
#   2. step time of `golamini train` with 2 ranks × per-device batch B against
#      one process with batch 2B (equal global batch), from trainer_state.json.
#
# Environment: DIST_NUMEL, DIST_ITERS, DIST_MODEL (default a random pythia-70m-shaped
# checkpoint written with the reference venv; testdata/models/demo without it),
# DIST_STEPS, DIST_BATCH; PY (default the transformers-5 reference venv's python).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
eval "$(scripts/libtorch-env)"
NUMEL="${DIST_NUMEL:-70426624}"
ITERS="${DIST_ITERS:-5}"
MODEL="${DIST_MODEL:-}"
STEPS="${DIST_STEPS:-10}"
B="${DIST_BATCH:-4}"
PY="${PY:-${GOLAMINI_CACHE:-$HOME/.cache/golamini}/venv-ref5/bin/python}"
out="$root/bench/out/dist"
mkdir -p "$out"
go build -o "$out/allreduce" ./bench/dist
go build -o "$out/golamini" ./cmd/golamini
if [[ -z "$MODEL" ]]; then
  # A pythia-70m-shaped checkpoint (random weights, the Pythia tokenizer), so
  # the step time is a real model's, not start-up; kept under bench/out.
  MODEL="$out/pythia-70m-random"
  if [[ ! -f "$MODEL/tokenizer.json" ]]; then
    tok="$root/../shared/data/pythia-tokenizer.json"
    if [[ -x "$PY" && -f "$tok" ]]; then
      "$PY" bench/decode/hf_decode.py write-checkpoint "$MODEL" > /dev/null
      cp "$tok" "$MODEL/tokenizer.json"
    else
      MODEL="testdata/models/demo" # no reference venv or no ../shared: the tiny model, said below
    fi
  fi
fi

echo "## Data-parallel (bench/dist/run.sh)"
echo
echo "Host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg). All-reduce of $NUMEL float32 values ($((NUMEL * 4 / 1000000)) MB), 2 ranks, loopback Gloo, mean of $ITERS after a warm-up:"
echo
echo '| implementation | seconds per all-reduce | algbw GB/s | busbw GB/s |'
echo '|---|---|---|---|'
row() { python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); print("| %s (%s) | %.4f | %.2f | %.2f |" % (d["impl"], d["backend"], d["seconds"], d["algbw_gb_s"], d["busbw_gb_s"]))'; }
"$out/allreduce" -nproc 2 -numel "$NUMEL" -iters "$ITERS" 2>"$out/allreduce.log" | row
if [[ -x "$PY" ]]; then
  "$PY" bench/dist/allreduce.py --nproc 2 --numel "$NUMEL" --iters "$ITERS" 2>"$out/allreduce-py.log" | row
else
  echo "| torch.distributed | (no reference venv at $PY) | | |"
fi
echo
data="$root/testdata/sdk_qa.jsonl"
common=(--model "$MODEL" --data "$data" --input-key question --output-key answer --max-steps "$STEPS" --logging-steps 1
  --save-strategy no --eval-fraction 0 --overwrite-output-dir --quiet)
"$out/golamini" train "${common[@]}" --output-dir "$out/one" --per-device-train-batch-size "$((2 * B))" >/dev/null 2>"$out/one.log"
"$out/golamini" train "${common[@]}" --output-dir "$out/two" --per-device-train-batch-size "$B" --nproc-per-node 2 >/dev/null 2>"$out/two.log"
sps() { python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["log_history"]; print([e for e in h if "train_steps_per_second" in e][-1]["train_steps_per_second"])' "$1/trainer_state.json"; }
one="$(sps "$out/one")"; two="$(sps "$out/two")"
python3 - "$one" "$two" "$MODEL" "$STEPS" "$B" <<'PY'
import sys
one, two, model, steps, b = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
print(f"Step time, {model}, {steps} steps, global batch {2*b}: one process {1/one:.3f} s/step, "
      f"2 ranks × batch {b} {1/two:.3f} s/step: 2 ranks take {one/two:.2f}× the one-process step time "
      f"(trainer_state's train_steps_per_second, so start-up is included).")
PY
echo
echo "Bytes per step over the link: a ring all-reduce sends 2·(W−1)/W of the gradient per rank each optimizer step"
echo "(pythia-70m: 2 × 282 MB × 1/2 = 282 MB per rank at W = 2), so across machines a step is bounded below by"
echo "that over the link's bandwidth (about 0.25 s on 10 Gb/s Ethernet), unless it overlaps with backward."
