#!/usr/bin/env python3
"""Goldens for internal/checkpoint: small weight files written by torch 2.1.0 and
safetensors, and the values Go must read from them.

    python scripts/reference/checkpoint_goldens.py            # (re)write testdata/checkpoint/
    python scripts/reference/checkpoint_goldens.py --verify F  # check a Go-written safetensors file

Run from the repository root with the reference venv's python. Deterministic;
writes only under testdata/checkpoint/. --verify writes nothing: it loads F with
safetensors.torch.load_file and checks it equals the round-trip tensors below
(exit status 0 and "OK" when it does).
"""
import hashlib
import json
import os
import pickle
import shutil
import struct
import sys
import tempfile

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

OUT = os.path.join("testdata", "checkpoint")
METADATA = {"format": "pt"}

# Values that exercise float16/bfloat16 rounding and ranges (all finite, so JSON holds them).
SPECIAL = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 6.103515625e-05, 1e-07, 3e-08, 1.0 / 3.0,
           10000.0, -0.001, 0.1, 1.00048828125, 1.00146484375, 3.0e38, -1.1754943508222875e-38]


def base_state():
    """A GPT-NeoX-shaped state dict of small fp32 tensors."""
    g = torch.Generator().manual_seed(1234)
    r = lambda *s: torch.randn(*s, generator=g)
    return {
        "gpt_neox.embed_in.weight": r(16, 8),
        "gpt_neox.layers.0.attention.query_key_value.weight": r(24, 8) * 0.1,
        "gpt_neox.layers.0.attention.query_key_value.bias": r(24),
        "gpt_neox.layers.0.input_layernorm.weight": 1.0 + r(8) * 0.5,
        "gpt_neox.final_layer_norm.bias": r(8),
        "embed_out.weight": r(16, 8),
        "special": torch.tensor(SPECIAL, dtype=torch.float32),
        "scalar": torch.tensor(-7.25),
    }


def cast(state, dtype):
    return {k: v.to(dtype) for k, v in state.items()}


def raw_bytes(t):
    t = t.detach().contiguous().reshape(-1)
    if t.numel() == 0:
        return b""
    return t.view(torch.uint8).numpy().tobytes()


def describe(state):
    """What Go must read: dtype, shape, exact values (float32 bits or ints) and sha256 of raw bytes."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
             torch.uint8: "U8", torch.bool: "BOOL"}
    out = {}
    for k, t in state.items():
        d = {"dtype": names[t.dtype], "shape": list(t.shape), "sha256": hashlib.sha256(raw_bytes(t)).hexdigest()}
        flat = t.detach().contiguous().reshape(-1)
        if t.is_floating_point():  # float32 bit patterns: exact, and JSON has no inf
            d["f32_bits"] = [int(x) for x in flat.to(torch.float32).numpy().view(np.uint32)]
        else:
            d["values"] = [int(x) for x in flat.to(torch.int64).tolist()]
        out[k] = d
    return out


def torch_save(obj, path, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path, **kw)


def write_sharded(dirname, state, ext):
    os.makedirs(dirname, exist_ok=True)
    names = list(state)
    shards = [names[:4], names[4:]]
    weight_map, total = {}, 0
    for i, part in enumerate(shards):
        if ext == "safetensors":
            fn = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
            save_file({k: state[k] for k in part}, os.path.join(dirname, fn), metadata=METADATA)
            index = "model.safetensors.index.json"
        else:
            fn = f"pytorch_model-{i + 1:05d}-of-{len(shards):05d}.bin"
            torch_save({k: state[k] for k in part}, os.path.join(dirname, fn))
            index = "pytorch_model.bin.index.json"
        for k in part:
            weight_map[k] = fn
            total += state[k].numel() * state[k].element_size()
    with open(os.path.join(dirname, index), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")


def views_state():
    """Non-contiguous views, offsets, stride-0 expands and storages shared by several tensors."""
    g = torch.Generator().manual_seed(7)
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10) * 0.5 - 3.0
    tied = torch.randn(5, 3, generator=g)
    half = torch.randn(4, 6, generator=g).half()
    return {
        "base": base,
        "transposed": base.t(),
        "sliced": base[1:5:2, 2:9:3],
        "row": base[2],
        "element": base[3, 4],
        "empty": base[:0],
        "expanded": torch.randn(1, 4, generator=g).expand(3, 4),
        "tied_a": tied,
        "tied_b": tied,
        "half_strided": half[:, ::2],
        "bf16_t": torch.randn(3, 5, generator=g).to(torch.bfloat16).t(),
    }


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.query_key_value = torch.nn.Linear(4, 12)
        # Buffers old HF GPT-NeoX / GPT-2 checkpoints carry.
        self.register_buffer("bias", torch.tril(torch.ones(8, 8, dtype=torch.bool)).view(1, 1, 8, 8))
        self.register_buffer("masked_bias", torch.tensor(-1e9))


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = Attention()
        self.register_buffer("causal_u8", torch.tril(torch.ones(4, 4, dtype=torch.uint8)))
        self.register_buffer("position_ids", torch.arange(6, dtype=torch.int64).view(1, 6))
        self.register_buffer("i32", torch.tensor([-5, 0, 2147483647, -2147483648], dtype=torch.int32))
        self.register_buffer("i16", torch.tensor([-32768, 1, 32767], dtype=torch.int16))
        self.register_buffer("i8", torch.tensor([-128, -1, 127], dtype=torch.int8))
        self.register_buffer("f64", torch.tensor([0.1, 1.0 / 3.0, 1e-40, 1.5 * 2.0 ** -149, 16777217.0, -1e30, 1e-46],
                                                 dtype=torch.float64))


def buffers_state():
    torch.manual_seed(99)
    return Block().state_dict()  # an OrderedDict with _metadata, as HF's save_pretrained writes


def proto4_state():
    g = torch.Generator().manual_seed(3)
    p = torch.nn.Parameter(torch.randn(3, 4, generator=g))
    t = torch.randn(2, 2, generator=g)
    t.note = "python attribute: pickled through _rebuild_from_type_v2"
    return {"param": p, "with_state": t, "plain": torch.randn(3, generator=g).half()}


def roundtrip_spec():
    """Tensors the Go round-trip test writes: source float32 values (or ints) and target dtype."""
    g = torch.Generator().manual_seed(5)
    f = lambda *s: torch.randn(*s, generator=g)
    return {
        "b.f32": ("F32", f(3, 4)),
        "a.bf16": ("BF16", torch.cat([f(4), torch.tensor(SPECIAL[:2])]).reshape(2, 3)),
        "c.f16": ("F16", torch.tensor(SPECIAL[:10])),
        "z.i64": ("I64", torch.tensor([[1, -2], [2 ** 40, -(2 ** 62)]])),
        "scalar": ("F32", torch.tensor(0.5)),
        "empty": ("F32", torch.zeros(0, 3)),
        'odd "name"\\é': ("F32", f(2)),
        "mask": ("BOOL", torch.tensor([[True, False], [False, True]])),
        "u8": ("U8", torch.tensor([0, 7, 255])),
    }


def roundtrip_tensors():
    dt = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "I64": torch.int64,
          "BOOL": torch.bool, "U8": torch.uint8}
    return {k: src.to(dt[d]) for k, (d, src) in roundtrip_spec().items()}


def le_sha256(arr, fmt):
    return hashlib.sha256(np.asarray(arr).astype(fmt).tobytes()).hexdigest()


def to_half_bits(bits, dtype):
    f32 = torch.from_numpy(np.asarray(bits, dtype=np.uint32).view(np.float32))
    return f32.to(dtype).view(torch.int16).numpy().view(np.uint16)


def conversions():
    """How torch converts float32 to float16/bfloat16 bits and back. Edge cases are listed explicitly;
    large input sets that Go can generate itself are summarised by the sha256 of torch's outputs
    (little-endian uint16/uint32 arrays). NaN inputs are left out of the hashed sets: torch's result
    for a NaN depends on the code path (vectorised body or tail: 0x7E00, 0x7FFF, sign kept or not), so
    only "NaN in, NaN out" is checked, on the edge cases.
      weyl:      bits_i = uint32(i * 0x9E3779B9), i < 2^20, NaN patterns skipped;
      f16_ties:  for each positive finite half h < 0x7BFF, the float32 midpoint m between h and h+1
                 (computed exactly in float64), then m-1, m, m+1 as bits, then the same negated;
      bf16_ties: for hi in 0..65535 and lo in (0x7FFF, 0x8000, 0x8001), bits = hi << 16 | lo, NaNs skipped;
      f16_to_f32, bf16_to_f32: all 65536 16-bit patterns except NaNs, in order.
    """
    not_nan32 = lambda b: b[(b & 0x7FFFFFFF) <= 0x7F800000]
    edge = [0x00000000, 0x80000000, 0x3F800000, 0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,
            0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFC00000, 0x7FBFFFFF, 0x38800000, 0x387FC000,
            0x33800000, 0x33000000, 0x33000001, 0x33C00000, 0x34200000, 0x3F801000, 0x3F803000, 0x3F801001,
            0x3F808000, 0x3F818000, 0x3F808001, 0x00000001, 0x007FFFFF, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000,
            0x7F7F7FFF, 0x387FE000, 0x387FF000, 0xB3000001, 0x38000000, 0xFF800001, 0xFFFFFFFF]
    weyl = not_nan32((np.arange(1 << 20, dtype=np.uint64) * 0x9E3779B9 % (1 << 32)).astype(np.uint32))
    halves = torch.arange(0, 0x7BFF, dtype=torch.int32).to(torch.int16).view(torch.float16).to(torch.float64)
    nexts = torch.arange(1, 0x7C00, dtype=torch.int32).to(torch.int16).view(torch.float16).to(torch.float64)
    mid = ((halves + nexts) / 2).to(torch.float32).numpy().view(np.uint32).astype(np.int64)
    pos = np.stack([mid - 1, mid, mid + 1], axis=1).reshape(-1)
    ties = np.concatenate([pos, pos | 0x80000000]).astype(np.uint32)
    hi = np.arange(65536, dtype=np.uint32)
    bties = not_nan32(np.stack([hi << 16 | 0x7FFF, hi << 16 | 0x8000, hi << 16 | 0x8001], axis=1).reshape(-1))
    all16 = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    u16 = np.arange(65536, dtype=np.uint32)
    h2f = all16.view(torch.float16).to(torch.float32).numpy().view(np.uint32)
    b2f = all16.view(torch.bfloat16).to(torch.float32).numpy().view(np.uint32)
    h_ok = ~((u16 & 0x7C00 == 0x7C00) & (u16 & 0x3FF != 0))
    b_ok = ~((u16 & 0x7F80 == 0x7F80) & (u16 & 0x7F != 0))
    sample = [0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0x8001, 0x8400, 0xFBFF, 0xFC00, 0x3C00, 0x3555]
    return {
        "edge_f32_bits": edge,
        "edge_f16_bits": [int(x) for x in to_half_bits(edge, torch.float16)],
        "edge_bf16_bits": [int(x) for x in to_half_bits(edge, torch.bfloat16)],
        "weyl_f16_sha256": le_sha256(to_half_bits(weyl, torch.float16), "<u2"),
        "weyl_bf16_sha256": le_sha256(to_half_bits(weyl, torch.bfloat16), "<u2"),
        "f16_ties_f16_sha256": le_sha256(to_half_bits(ties, torch.float16), "<u2"),
        "bf16_ties_bf16_sha256": le_sha256(to_half_bits(bties, torch.bfloat16), "<u2"),
        "f16_to_f32_sha256": le_sha256(h2f[h_ok], "<u4"),
        "bf16_to_f32_sha256": le_sha256(b2f[b_ok], "<u4"),
        "f16_to_f32_sample": {str(i): int(h2f[i]) for i in sample},
        "bf16_to_f32_sample": {str(i): int(b2f[i]) for i in sample},
    }


def normalize(v):
    """The JSON form the Go test builds from what its pickle machine decodes."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float_bits": struct.pack(">d", v).hex()}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, tuple):
        return {"tuple": [normalize(x) for x in v]}
    if isinstance(v, list):
        return [normalize(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return {"set": [normalize(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[normalize(k), normalize(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def pickle_cases():
    """Plain-data pickles of every protocol, for the opcodes torch.save does not happen to use."""
    shared = [1, 2]
    out = []
    for proto in range(0, 6):
        objs = [
            {"int": [0, 1, -1, 255, 256, 65535, 65536, -129, 2 ** 31 - 1, -2 ** 31, 2 ** 31, 2 ** 63 - 1, -2 ** 63],
             "float": [0.5, -1e300, 1.0 / 3.0, -0.0], "str": "h\u00e9llo\n\u2603 ", "t": True, "f": False, "none": None},
            [shared, shared, (1, "a", (2.5,)), (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
            {"nested": {"k": [[], {}, (None,)]}, "": "", 7: "int key"},
            ["x" * 300, list(range(40))],
        ]
        if proto >= 3:
            objs.append({"bytes": b"\x00\xff", "long": b"y" * 300})
        if proto >= 4:
            objs.append({"set": {3, 1, 2}, "frozen": frozenset([5, 4])})
        for o in objs:
            out.append({"protocol": proto, "hex": pickle.dumps(o, protocol=proto).hex(), "value": normalize(o)})
    return out


def legacy_prefix():
    """The first bytes of a legacy (non-zip) torch.save file; the rest holds memory addresses, so only the
    prefix is deterministic."""
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "legacy.bin")
        torch.save({"w": torch.ones(2)}, p, _use_new_zipfile_serialization=False)
        with open(p, "rb") as f:
            return f.read(32).hex()


def generate():
    torch.manual_seed(0)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    files = {}

    base = base_state()
    for tag, dtype in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        st = cast(base, dtype)
        os.makedirs(os.path.join(OUT, f"st_{tag}"))
        save_file(st, os.path.join(OUT, f"st_{tag}", "model.safetensors"), metadata=METADATA)
        files[f"st_{tag}"] = {"format": "safetensors", "metadata": METADATA, "tensors": describe(st)}
        torch_save(st, os.path.join(OUT, f"bin_{tag}", "pytorch_model.bin"))
        files[f"bin_{tag}"] = {"format": "pytorch", "tensors": describe(st)}

    st = cast(base, torch.float16)
    write_sharded(os.path.join(OUT, "st_sharded"), st, "safetensors")
    files["st_sharded"] = {"format": "safetensors", "metadata": METADATA, "tensors": describe(st)}
    st = cast(base, torch.bfloat16)
    write_sharded(os.path.join(OUT, "bin_sharded"), st, "bin")
    files["bin_sharded"] = {"format": "pytorch", "tensors": describe(st)}

    for tag, make, kw in (("bin_views", views_state, {}), ("bin_buffers", buffers_state, {}),
                          ("bin_proto4", proto4_state, {"pickle_protocol": 4})):
        st = make()
        torch_save(st, os.path.join(OUT, tag, "pytorch_model.bin"), **kw)
        files[tag] = {"format": "pytorch", "tensors": describe(st)}
        # torch itself must read back what Go is told to expect.
        back = torch.load(os.path.join(OUT, tag, "pytorch_model.bin"))
        assert all(torch.equal(back[k], v) for k, v in st.items()), tag

    rt = roundtrip_tensors()
    save_file(rt, os.path.join(OUT, "roundtrip.safetensors"), metadata=METADATA)
    spec = {k: {"dtype": d, "shape": list(src.shape),
                "values": [float(x) for x in src.reshape(-1).tolist()] if src.is_floating_point()
                else [int(x) for x in src.reshape(-1).tolist()]}
            for k, (d, src) in roundtrip_spec().items()}

    expected = {
        "generator": "scripts/reference/checkpoint_goldens.py",
        "torch": torch.__version__,
        "files": files,
        "roundtrip": {"metadata": METADATA, "tensors": spec},
        "conversions": conversions(),
        "legacy_prefix_hex": legacy_prefix(),
        "pickles": pickle_cases(),
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"wrote {OUT} ({total} bytes)")


def verify(path):
    got = load_file(path)
    want = roundtrip_tensors()
    problems = []
    if set(got) != set(want):
        problems.append(f"names differ: got {sorted(got)}, want {sorted(want)}")
    for k in sorted(set(got) & set(want)):
        a, b = got[k], want[k]
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{k!r}: got {a.dtype}{list(a.shape)}, want {b.dtype}{list(b.shape)}")
        elif raw_bytes(a) != raw_bytes(b):
            problems.append(f"{k!r}: values differ: got {a.tolist()}, want {b.tolist()}")
    with safe_open(path, framework="pt") as f:
        if f.metadata() != METADATA:
            problems.append(f"metadata: got {f.metadata()}, want {METADATA}")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        if (8 + n) % 8 != 0:
            problems.append(f"header length {n} is not padded to 8 bytes")
    if problems:
        print("\n".join(problems))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        sys.exit(verify(sys.argv[2]))
    if len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    generate()
