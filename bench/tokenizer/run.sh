#!/usr/bin/env bash
# bench/tokenizer/run.sh: Go tokenizer vs HF tokenizers on the 1,400 lamini_docs
# question+answer texts, in one run. Prints seconds per pass and the ratios.
#
#   bench/tokenizer/run.sh            (from the repository root; needs ../shared/data)
#
# Single-threaded comparison: Go with GOMAXPROCS=1, HF with RAYON_NUM_THREADS=1.
# Batch: Go EncodeBatch on all cores vs HF encode_batch on all cores (and on one).
# Then the family tokenizers of ../shared/data/tokenizers, one at a time on one thread.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
PY="$(scripts/reference-venv)"
out="$root/bench/out/tokenizer"
mkdir -p "$out"
export TOKENIZERS_PARALLELISM=true

echo "== HF tokenizers (Python), 1 thread" >&2
hf1=$(RAYON_NUM_THREADS=1 "$PY" bench/tokenizer/hf_bench.py --ids-out "$out/hf-ids.json")
echo "== HF tokenizers (Python), all threads" >&2
hfn=$("$PY" bench/tokenizer/hf_bench.py)

echo "== Go: same ids as HF on all 1,400 texts?" >&2
HF_IDS="$out/hf-ids.json" go test -count=1 -run TestSameIDsAsHF ./bench/tokenizer/ >&2

echo "== Go benchmarks" >&2
go test -run '^$' -bench 'EncodeOneAtATime' -benchtime 3s -count 5 -cpu 1 ./bench/tokenizer/ | tee "$out/go-1.txt" >&2
go test -run '^$' -bench 'EncodeBatch' -benchtime 3s -count 5 ./bench/tokenizer/ | tee "$out/go-n.txt" >&2

"$PY" - "$hf1" "$hfn" "$out/go-1.txt" "$out/go-n.txt" <<'PYEOF'
import json, re, sys, os
hf1, hfn = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def best(path, name, unit):
    vals = []
    for line in open(path):
        if line.startswith(name):
            m = re.search(r"([\d.]+) " + unit, line)
            if m:
                vals.append(float(m.group(1)) / 1e9)
    return min(vals)
go1, go1c = best(sys.argv[3], "BenchmarkEncodeOneAtATime", "ns/op"), best(sys.argv[3], "BenchmarkEncodeOneAtATime", "cpu-ns/op")
gon, gonc = best(sys.argv[4], "BenchmarkEncodeBatch", "ns/op"), best(sys.argv[4], "BenchmarkEncodeBatch", "cpu-ns/op")
tokens = hf1["tokens"]
ncpu = os.cpu_count()
print(f"1,400 lamini_docs question+answer texts, {tokens} tokens; HF tokenizers {hf1['tokenizers']}; {ncpu} CPUs;")
print("best pass; wall = wall-clock ms per pass, cpu = process CPU ms per pass")
print(f"{'case':44} {'Go wall':>8} {'HF wall':>8} {'HF/Go':>6} {'Go cpu':>8} {'HF cpu':>8} {'HF/Go':>6}")
rows = [
    ("one at a time, 1 thread", go1, hf1["one_at_a_time_s"], go1c, hf1["one_at_a_time_cpu_s"]),
    ("batch: Go all cores vs HF 1 thread", gon, hf1["batch_s"], gonc, hf1["batch_cpu_s"]),
    (f"batch: both on all {ncpu} cores", gon, hfn["batch_s"], gonc, hfn["batch_cpu_s"]),
]
for name, g, h, gc, hc in rows:
    print(f"{name:44} {g*1e3:8.2f} {h*1e3:8.2f} {h/g:6.1f} {gc*1e3:8.2f} {hc*1e3:8.2f} {hc/gc:6.1f}")
print(f"Go throughput one at a time: {tokens/go1/1e6:.1f} M tokens/s (wall), {tokens/go1c/1e6:.1f} M tokens/s (cpu)")
PYEOF

echo "== Family tokenizers (Qwen2.5, SmolLM2, Mistral v0.1): one at a time, 1 thread" >&2
go test -run '^$' -bench 'FamilyEncode' -benchtime 3s -count 5 -cpu 1 ./bench/tokenizer/ | tee "$out/go-family.txt" >&2
for name in qwen2.5 smollm2 mistral-v1; do
  RAYON_NUM_THREADS=1 "$PY" bench/tokenizer/hf_bench.py --tokenizer "tokenizers/$name/tokenizer.json" > "$out/hf-$name.json"
done
"$PY" - "$out" <<'PYEOF'
import json, re, sys
out = sys.argv[1]
print(f"{'family tokenizer, 1 thread':28} {'Go wall':>8} {'HF wall':>8} {'HF/Go':>6} {'Go cpu':>8} {'HF cpu':>8} {'HF/Go':>6}")
for name in ["qwen2.5", "smollm2", "mistral-v1"]:
    hf = json.load(open(f"{out}/hf-{name}.json"))
    wall, cpu = [], []
    for line in open(f"{out}/go-family.txt"):
        if line.startswith(f"BenchmarkFamilyEncode/{name}"):
            wall.append(float(re.search(r"([\d.]+) ns/op", line).group(1)) / 1e9)
            cpu.append(float(re.search(r"([\d.]+) cpu-ns/op", line).group(1)) / 1e9)
    g, gc = min(wall), min(cpu)
    h, hc = hf["one_at_a_time_s"], hf["one_at_a_time_cpu_s"]
    print(f"{name:28} {g*1e3:8.2f} {h*1e3:8.2f} {h/g:6.1f} {gc*1e3:8.2f} {hc*1e3:8.2f} {hc/gc:6.1f}")
PYEOF
