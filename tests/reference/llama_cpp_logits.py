#!/usr/bin/env python3
"""Reference logits of the default model (SmolLM2-135M-Instruct.Q4_1.gguf) from llama.cpp, through
the llama-cpp-python package, for tests/inference/test_engine.cpp.

    pip install llama-cpp-python gguf numpy safetensors   # builds llama.cpp from source
    python3 tests/reference/llama_cpp_logits.py [--model PATH]

Two references, both computed at every position of three fixed prompts (token ids from
llama.cpp's own tokenizer, with the chat template rendered as the engine renders it):

  q4     llama.cpp on the Q4_1 file itself. llama.cpp quantizes activations to 8-bit blocks
         for Q4_1/Q8_0 products, which moves logits by up to ~1.5 on this model, so the
         comparison is loose (see the test for the stated tolerance).
  exact  llama.cpp on an F32 copy of the same file (every tensor dequantised with gguf-py, so
         the weights are bit-identical values) with an f32 KV cache: the same arithmetic as the
         Q4_1 model done in f32. Our engine must match this one tightly.

Stored per prompt p: `p<i>.tokens` (I64 [T]); for each reference r in (q4, exact):
`p<i>.<r>.top_ids` (I64 [T, 40]) and `p<i>.<r>.top` (F32 [T, 40]): the 40 highest logits, and
`p<i>.<r>.probe` (F32 [T, 256]): the logits of 256 fixed token ids `probe_ids` (I64 [256]).
Full logit rows (49152 floats per position) would make the file megabytes.
"""
import argparse
import os
import tempfile

import numpy as np
from safetensors.numpy import save_file

PROMPTS = [
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "The quick brown fox jumps over the lazy dog. In 1969, Apollo 11 landed on the Moon, and",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
]
TOP = 40


def dequantized_copy(src, dst):
    """Writes dst: src with every tensor dequantised to F32 (metadata copied as is)."""
    from gguf import GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize
    reader = GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(dst, arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[1] if vtype == GGUFValueType.ARRAY and len(field.types) > 1 else None
        writer.add_key_value(name, field.contents(), vtype, sub_type=sub)
    writer.add_file_type(0)  # all F32
    for t in reader.tensors:
        data = dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = [int(x) for x in reversed(t.shape)]
        writer.add_tensor(t.name, data.reshape(shape))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def logits_for(model_path, prompts, f32_kv):
    from llama_cpp import Llama
    kwargs = dict(model_path=model_path, n_ctx=256, n_threads=2, logits_all=True, verbose=False, seed=0)
    if f32_kv:
        kwargs.update(type_k=0, type_v=0)  # GGML_TYPE_F32
    llm = Llama(**kwargs)
    out = []
    for text in prompts:
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        out.append((np.array(ids, dtype=np.int64), np.array(llm.scores[:len(ids)], dtype=np.float32)))
    del llm
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.expanduser(
        "~/.local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "inference", "smollm2_llama_cpp_logits.safetensors"))
    args = ap.parse_args()

    results = {"q4": logits_for(args.model, PROMPTS, f32_kv=False)}
    with tempfile.TemporaryDirectory() as tmp:
        f32 = os.path.join(tmp, "model-f32.gguf")
        dequantized_copy(args.model, f32)
        results["exact"] = logits_for(f32, PROMPTS, f32_kv=True)

    vocab = results["q4"][0][1].shape[1]
    probe = np.random.default_rng(7).choice(vocab, size=256, replace=False).astype(np.int64)
    out = {"probe_ids": probe}
    for i in range(len(PROMPTS)):
        ids = results["q4"][i][0]
        assert (ids == results["exact"][i][0]).all()
        out[f"p{i}.tokens"] = ids
        for ref, rows in results.items():
            logits = rows[i][1]
            top = np.argsort(-logits, axis=1, kind="stable")[:, :TOP]
            out[f"p{i}.{ref}.top_ids"] = top.astype(np.int64)
            out[f"p{i}.{ref}.top"] = np.take_along_axis(logits, top, axis=1).astype(np.float32)
            out[f"p{i}.{ref}.probe"] = np.ascontiguousarray(logits[:, probe])
        q4, ex = results["q4"][i][1], results["exact"][i][1]
        print(f"prompt {i}: {len(ids)} tokens; llama.cpp Q4_1 vs exact: max |diff| {np.abs(q4 - ex).max():.3f}, "
              f"argmax agreement {np.mean(q4.argmax(1) == ex.argmax(1)):.2f}")
    save_file(out, args.out)
    print(args.out, os.path.getsize(args.out), "bytes")


if __name__ == "__main__":
    main()
