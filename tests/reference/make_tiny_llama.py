#!/usr/bin/env python3
"""Builds tiny random dense Llama-family models with Hugging Face transformers and saves them,
with golden logits, under tests/data/inference/.

    pip install torch transformers safetensors      # CPU is enough
    python3 tests/reference/make_tiny_llama.py [--out tests/data/inference]

For each model, <out>/<name>/ gets config.json and safetensors weights (f32), and
<out>/<name>/golden.safetensors holds `tokens` (I64 [T]) and `logits` (F32 [T, vocab]): the
logits transformers computes at every position of a fixed token sequence. The engine's f32
forward pass must match them within 1e-4 relative (tests/inference/test_llama_tiny.cpp).

Models:
  tiny_llama  Llama with grouped-query attention (4 heads, 2 KV heads), llama3 RoPE scaling,
              untied output, one safetensors file.
  tiny_qwen2  Qwen2 with q/k/v biases and tied embeddings, saved in two shards
              (model.safetensors.index.json).
"""
import argparse
import os

import torch
from safetensors.torch import save_file

TOKENS = [1, 17, 42, 5, 88, 63, 2, 31, 77, 9, 54, 90, 23, 11, 64, 3]


def common(vocab):
    return dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                rms_norm_eps=1e-5, torch_dtype="float32")


def build_llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(**common(96), rope_theta=10000.0, tie_word_embeddings=False,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
    return LlamaForCausalLM(cfg)


def build_qwen2():
    from transformers import Qwen2Config, Qwen2ForCausalLM
    cfg = Qwen2Config(**common(96), rope_theta=1000000.0, tie_word_embeddings=True)
    return Qwen2ForCausalLM(cfg)


def randomise(model, seed):
    # Default init leaves norms at 1 and biases at 0; perturb everything so each path counts.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))


def save(model, out_dir, shard):
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".safetensors") or f.endswith(".json"):
            os.remove(os.path.join(out_dir, f))
    kwargs = {"safe_serialization": True}
    if shard:
        kwargs["max_shard_size"] = "40KB"
    model.save_pretrained(out_dir, **kwargs)
    gen = os.path.join(out_dir, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    ids = torch.tensor([TOKENS])
    with torch.no_grad():
        logits = model(ids).logits[0].float().contiguous()
    save_file({"tokens": ids[0].to(torch.int64), "logits": logits},
              os.path.join(out_dir, "golden.safetensors"))
    print(out_dir, sorted(os.listdir(out_dir)), tuple(logits.shape))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "inference"))
    args = ap.parse_args()
    torch.manual_seed(1234)
    for name, build, seed, shard in (("tiny_llama", build_llama, 1, False),
                                     ("tiny_qwen2", build_qwen2, 2, True)):
        model = build().float().eval()
        model.config._attn_implementation = "eager"
        randomise(model, seed)
        save(model, os.path.join(args.out, name), shard)


if __name__ == "__main__":
    main()
