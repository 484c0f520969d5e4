#!/usr/bin/env python3
"""Golden dequantisation values from an independent implementation: the `gguf` package
(llama.cpp's gguf-py, numpy code), for tests/inference/test_quant.cpp.

    pip install gguf numpy safetensors
    python3 tests/reference/make_dequant_goldens.py [--model SmolLM2-135M-Instruct.Q4_1.gguf]

Writes tests/data/inference/dequant_golden.safetensors with, for each of Q4_0, Q4_1, Q8_0, Q4_K,
Q5_K, Q6_K, F16, BF16: `<type>.raw` (U8: random blocks, with sane f16 scales) and `<type>.f32`
(F32: gguf-py's dequantisation). With --model it also stores rows of the default model:
`model.<tensor>.rows` (I64 row indices) and `model.<tensor>.f32` (F32 [rows, cols]).
"""
import argparse
import os

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import save_file

BLOCKS = 4  # per type: 4 blocks (or super-blocks)


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


def random_blocks(rng, qtype):
    # (bytes per block, offsets of f16 scale fields)
    layouts = {
        Q.Q4_0: (18, [0]), Q.Q4_1: (20, [0, 2]), Q.Q8_0: (34, [0]),
        Q.Q4_K: (144, [0, 2]), Q.Q5_K: (176, [0, 2]), Q.Q6_K: (210, [208]),
    }
    size, scales = layouts[qtype]
    raw = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
    for off in scales:
        raw[:, off:off + 2] = f16_bytes(rng.uniform(-0.05, 0.05, size=BLOCKS)).reshape(BLOCKS, 2)
    return raw.reshape(-1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.expanduser(
        "~/.local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "inference", "dequant_golden.safetensors"))
    args = ap.parse_args()
    rng = np.random.default_rng(20240601)
    out = {}
    for name, qtype in (("Q4_0", Q.Q4_0), ("Q4_1", Q.Q4_1), ("Q8_0", Q.Q8_0),
                        ("Q4_K", Q.Q4_K), ("Q5_K", Q.Q5_K), ("Q6_K", Q.Q6_K)):
        raw = random_blocks(rng, qtype)
        out[name + ".raw"] = raw
        out[name + ".f32"] = dequantize(raw, qtype).astype(np.float32).reshape(-1)
    values = rng.normal(0, 3, size=256).astype(np.float32)
    out["F16.raw"] = values.astype(np.float16).view(np.uint8)
    out["F16.f32"] = values.astype(np.float16).astype(np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16)  # truncated bf16 patterns
    out["BF16.raw"] = bf16.view(np.uint8)
    out["BF16.f32"] = (bf16.astype(np.uint32) << 16).view(np.float32)

    if os.path.exists(args.model):
        reader = GGUFReader(args.model)
        wanted = {"token_embd.weight": [0, 1, 2, 4093, 49151], "blk.0.attn_q.weight": [0, 1, 575],
                  "blk.29.ffn_down.weight": [0, 575]}
        for t in reader.tensors:
            if t.name in wanted:
                rows = wanted[t.name]
                full = dequantize(t.data, t.tensor_type)
                out["model." + t.name + ".rows"] = np.asarray(rows, dtype=np.int64)
                out["model." + t.name + ".f32"] = np.ascontiguousarray(full[rows].astype(np.float32))
    else:
        print("model not found; writing the random-block goldens only")
    save_file(out, args.out)
    print(args.out, sorted(out))


if __name__ == "__main__":
    main()
