#!/usr/bin/env python3
"""Baselines of bench_llama4_cpu (tests/bench/bench_llama4_cpu.cpp), run in the same process tree.

  bench_llama4_cpu.py tiny MODEL_DIR THREADS PREFIX STEPS
      transformers Llama4ForCausalLM (f32, CPU) on the tiny model: prefill of the golden prompt
      (reference.safetensors input_ids) and PREFIX tokens then STEPS one-token steps with the KV
      cache. Prints `transformers prefill_tok_s=... decode_tok_s=...`.
  bench_llama4_cpu.py gemm M K N THREADS
      torch.matmul of f32 [M, K] x [K, N]. Prints `torch gemm_gflops=...`.
Each figure is the best over 1 and THREADS torch threads (torch's OpenMP pool stalls when the
machine is busy).
Needs torch (and transformers for `tiny`); exits non-zero without them.
"""
import sys
import time

import torch


def best_of(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def tiny(model_dir, threads, prefix, steps):
    # torch's OpenMP pool stalls on a busy machine, so the baseline is the best of 1 and THREADS.
    best = (0.0, 0.0)
    for n in sorted({1, threads}):
        p, d = tiny_at(model_dir, n, prefix, steps)
        best = (max(best[0], p), max(best[1], d))
    print(f"transformers prefill_tok_s={best[0]:.3f} decode_tok_s={best[1]:.3f}")


def tiny_at(model_dir, threads, prefix, steps):
    from safetensors.torch import load_file
    from transformers import Llama4ForCausalLM
    torch.set_num_threads(threads)
    model = Llama4ForCausalLM.from_pretrained(model_dir).eval()
    ids = load_file(f"{model_dir}/reference.safetensors")["input_ids"]
    with torch.no_grad():
        model(input_ids=ids, use_cache=False)  # warm-up
        prefill = best_of(lambda: model(input_ids=ids, use_cache=False), 5)

        def decode():
            out = model(input_ids=ids[:, :prefix], use_cache=True)
            cache = out.past_key_values
            t0 = time.perf_counter()
            for t in range(prefix, prefix + steps):
                out = model(input_ids=ids[:, t:t + 1], cache=cache, use_cache=True)
                cache = out.past_key_values
            return time.perf_counter() - t0

        decode()
        dec = min(decode() for _ in range(3))
    return ids.shape[1] / prefill, steps / dec


def gemm(m, k, n, threads):
    a = torch.randn(m, k)
    b = torch.randn(k, n)
    best = 0.0
    for t in sorted({1, threads}):
        torch.set_num_threads(t)
        torch.matmul(a, b)
        best = max(best, 2.0 * m * k * n / best_of(lambda: torch.matmul(a, b), 5) / 1e9)
    print(f"torch gemm_gflops={best:.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "tiny":
        tiny(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        gemm(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
