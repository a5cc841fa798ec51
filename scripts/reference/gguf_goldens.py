#!/usr/bin/env python3
"""Goldens for internal/gguf's reader and dequantizer, made with the `gguf` package.

    python scripts/reference/gguf_goldens.py    # (re)write testdata/gguf/{quants.json,small.gguf,small.json}

Run from the repository root with the transformers-5 reference venv's python (gguf 0.19).
Deterministic; writes only under testdata/gguf/.

quants.json: for every tensor type Go dequantizes, a small tensor's stored bytes and
gguf.quants.dequantize's float32 result (both base64, little-endian). The types
gguf.quants.quantize supports are quantized from random values; for the K-quants,
which gguf cannot quantize, the blocks are random bytes with finite float16 scales.
F16 and BF16 also carry special values (subnormals, infinities, NaNs).

small.gguf / small.json: a GGUF v3 file written by gguf.GGUFWriter with metadata of
every value type (arrays and an array of arrays included), a non-default alignment,
and tensors of several types (one that Go cannot dequantize), and what
gguf.GGUFReader reads from it.
"""
import base64
import hashlib
import json
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

OUT = os.path.join("testdata", "gguf")
rng = np.random.default_rng(20261207)


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def random_k_blocks(qtype, n_blocks):
    """Random K-quant blocks whose float16 scale fields are finite."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    # byte offsets of the float16 fields of each layout
    f16_fields = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}[qtype]
    for off in f16_fields:
        d = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
        raw[:, off:off + 2] = d.view(np.uint8).reshape(n_blocks, 2)
    return raw


def quants():
    out = []
    rows, cols = 3, 64
    x = (rng.standard_normal((rows, cols)) * 2).astype(np.float32)
    x[0, :32] = 0.0  # an all-zero block (d == 0)
    x[1, 5] = 40.0   # an outlier
    for qtype in [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.BF16, T.F16, T.F32]:
        data = quantize(x, qtype)
        if qtype in (T.F16, T.BF16):
            special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 6.0e-8, 1e-5, 65504.0], dtype=np.float32)
            if qtype == T.F16:
                flat = data.reshape(-1).copy()
                flat[:8] = special.astype(np.float16)
                data = flat.reshape(data.shape)
            else:
                flat = data.reshape(-1).copy()
                flat[:16] = quantize(special, T.BF16)  # 8 values, 2 bytes each
                data = flat.reshape(data.shape)
        vals = dequantize(data, qtype).astype(np.float32)
        out.append({"type": qtype.name, "shape": [rows, cols], "data": b64(data), "values": b64(vals)})
    for qtype in [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]:
        n = 3
        raw = random_k_blocks(qtype, n)
        vals = dequantize(raw, qtype).astype(np.float32)
        out.append({"type": qtype.name, "shape": [n, 256], "data": b64(raw), "values": b64(vals)})
    with open(os.path.join(OUT, "quants.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def json_value(field):
    """A ReaderField's value as JSON: {"type", "elem"?, "value"}."""
    t = field.types[0]
    if t == gguf.GGUFValueType.ARRAY:
        if field.types[1] == gguf.GGUFValueType.ARRAY:
            # GGUFReader flattens an array of arrays; its types list the inner element types.
            return {"type": "ARRAY", "elem": "ARRAY", "inner": [e.name for e in field.types[2:]],
                    "flat": to_json(field.contents())}
        return {"type": "ARRAY", "elem": field.types[1].name, "value": to_json(field.contents())}
    return {"type": t.name, "value": to_json(field.contents())}


def to_json(v):
    if isinstance(v, (list, tuple)):
        return [to_json(e) for e in v]
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def small():
    path = os.path.join(OUT, "small.gguf")
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_custom_alignment(64)
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1)
    w.add_uint64("test.u64", 18000000000000000000)
    w.add_int64("test.i64", -9000000000000000000)
    w.add_float64("test.f64", 1e300)
    w.add_bool("test.bool", True)
    w.add_string("test.str", "héllo\nwörld")
    w.add_array("test.arr_str", ["a", "", "ü", "<0x0A>"])
    w.add_key_value("test.arr_i32", [1, -2, 3], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.INT32)
    w.add_key_value("test.arr_u8", [0, 255], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT8)
    w.add_key_value("test.arr_f32", [0.5, -1.25], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.FLOAT32)
    w.add_key_value("test.arr_bool", [True, False, True], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.BOOL)
    w.add_key_value("test.arr_i64", [-1, 2**40], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.INT64)
    w.add_array("test.arr_arr", [[1, 2], [3]])
    x = rng.standard_normal((4, 64)).astype(np.float32)
    w.add_tensor("t.f32", x[:2, :5].copy())
    w.add_tensor("t.f16", x.astype(np.float16))
    w.add_tensor("t.q8_0", quantize(x, T.Q8_0), raw_dtype=T.Q8_0)
    w.add_tensor("t.q4_1", quantize(x, T.Q4_1), raw_dtype=T.Q4_1)
    w.add_tensor("t.q6_k", random_k_blocks(T.Q6_K, 2), raw_dtype=T.Q6_K)
    w.add_tensor("t.3d", x.reshape(2, 2, 64).astype(np.float32))
    w.add_tensor("t.iq4_nl", rng.integers(0, 256, size=(2, 18), dtype=np.uint8), raw_dtype=T.IQ4_NL)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    r = gguf.GGUFReader(path)
    meta = []
    for name, field in r.fields.items():
        if name.startswith("GGUF."):
            continue
        meta.append({"key": name, **json_value(field)})
    tensors = []
    for t in r.tensors:
        e = {"name": t.name, "type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
             "offset": int(t.data_offset - r.data_offset) if hasattr(r, "data_offset") else None,
             "nbytes": int(t.n_bytes)}
        if t.tensor_type != T.IQ4_NL:
            vals = dequantize(t.data, t.tensor_type).astype(np.float32)
            e["sha256"] = hashlib.sha256(np.ascontiguousarray(vals).tobytes()).hexdigest()
        tensors.append(e)
    with open(os.path.join(OUT, "small.json"), "w") as f:
        json.dump({"version": 3, "alignment": 64, "metadata": meta, "tensors": tensors}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    quants()
    small()
    print("wrote", OUT)
