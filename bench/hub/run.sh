#!/usr/bin/env bash
# bench/hub/run.sh: download throughput from the local stand-in hub, Go's
# internal/hub vs Python's huggingface_hub, same server, same 200 MiB file
# (loopback; both verify nothing else: Go also checks sha256 and fsyncs).
#
#   bench/hub/run.sh          (from the repository root)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
PY="$(scripts/reference-venv)"
out="$root/bench/out/hub"
mkdir -p "$out"
mib="${BENCH_HUB_MIB:-200}"

echo "== Go internal/hub" >&2
BENCH_HUB_MIB="$mib" go test -run '^$' -bench . -benchtime 3x -count 3 ./bench/hub/ | tee "$out/go.txt" >&2

echo "== Python huggingface_hub" >&2
go build -o "$out/hubserve" ./internal/hub/hubtest/cmd/hubserve
coproc SERVER { exec "$out/hubserve" --fixtures=false --big-mb "$mib" --watch-stdin; }
read -r line <&"${SERVER[0]}"
endpoint="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["endpoint"])' "$line")"
hf="$("$PY" bench/hub/hf_bench.py --endpoint "$endpoint")"
exec {SERVER[1]}>&-
wait "$SERVER_PID" || true
echo "$hf" > "$out/hf.json"

"$PY" - "$out/go.txt" "$hf" <<'PYEOF'
import json, re, sys
go = max(float(m.group(1)) for line in open(sys.argv[1])
         for m in [re.search(r"BenchmarkDownload\S*\s+\d+\s+\d+ ns/op\s+([\d.]+) MB/s", line)] if m)
hf = json.loads(sys.argv[2])
print(f"{hf['bytes']/2**20:.0f} MiB model.safetensors from the local stand-in hub (best run)")
print(f"  Go internal/hub        {go:8.1f} MB/s")
print(f"  huggingface_hub {hf['huggingface_hub']:7} {hf['mb_per_s']:8.1f} MB/s")
PYEOF
