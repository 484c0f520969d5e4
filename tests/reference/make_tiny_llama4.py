#!/usr/bin/env python3
"""Builds tiny random Llama 4 text models with transformers and writes golden logits.

Usage: make_tiny_llama4.py OUT_DIR

For each config below it writes OUT_DIR/<name>/{config.json, model.safetensors,
reference.safetensors}. reference.safetensors holds:
  input_ids      [1, T] int64    the prompt (random ids, fixed seed)
  logits         [1, T, V] f32   whole-prompt prefill, no cache
  decode_logits  [1, T-P+1, V]   prefill of P tokens, then one token at a time; row k is the
                                 distribution after position P-1+k
  decode_prefix  [1] int64       P
The engine's parity tests (tests/inference) compare against these. Needs torch, safetensors and
transformers >= 4.53 (CPU wheels from PyPI); the version used is written to versions.txt.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoConfig, Llama4ForCausalLM

BASE = dict(
    architectures=["Llama4ForCausalLM"], model_type="llama4_text",
    vocab_size=4096, hidden_size=128, num_hidden_layers=4,
    num_attention_heads=4, num_key_value_heads=2, head_dim=32,
    intermediate_size=64, intermediate_size_mlp=256,
    num_local_experts=4, num_experts_per_tok=1, interleave_moe_layer_step=1,
    no_rope_layer_interval=4, use_qk_norm=True,
    attention_chunk_size=16, attn_temperature_tuning=True, floor_scale=8, attn_scale=0.1,
    rope_theta=500000.0,
    rope_scaling=dict(rope_type="llama3", factor=16.0, low_freq_factor=1.0,
                      high_freq_factor=1.0, original_max_position_embeddings=8192),
    max_position_embeddings=131072, rms_norm_eps=1e-5, hidden_act="silu",
    attention_bias=False, tie_word_embeddings=False,
    bos_token_id=1, eos_token_id=2, pad_token_id=None)

# name -> (overrides, prompt length, decode prefix length)
CONFIGS = {
    # Every layer MoE; chunk 16 so 80 tokens span 5 chunks; layer 3 NoPE with temperature tuning.
    "moe_chunked": (dict(), 80, 37),
    # Dense MLP layers 0 and 2, MoE layers 1 and 3; blended llama3 band; decode across chunks.
    # Expert width 48 makes gate_up_proj [E, 128, 96], so a transposed layout cannot pass.
    "dense_moe_mix": (dict(interleave_moe_layer_step=2, intermediate_size=48,
                           rope_scaling=dict(rope_type="llama3", factor=16.0, low_freq_factor=1.0,
                                             high_freq_factor=4.0,
                                             original_max_position_embeddings=8192)), 72, 9),
}


def build(out, name, overrides, length, prefix, seed):
    path = os.path.join(out, name)
    os.makedirs(path, exist_ok=True)
    cfg = dict(BASE)
    cfg.update(overrides)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    config = AutoConfig.from_pretrained(path)
    torch.manual_seed(seed)
    model = Llama4ForCausalLM(config).eval()
    with torch.no_grad():  # non-trivial weights, norm gains included
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.08 * torch.randn_like(p))
    model.save_pretrained(path)
    # save_pretrained may rewrite config.json in a newer form; keep the hub-style file we wrote.
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    ref = Llama4ForCausalLM.from_pretrained(path, attn_implementation="eager").eval()
    assert next(ref.parameters()).dtype == torch.float32
    gen = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, config.vocab_size, (1, length), generator=gen)
    with torch.no_grad():
        full = ref(input_ids=ids, use_cache=False).logits.float()
        o = ref(input_ids=ids[:, :prefix], use_cache=True)
        pkv, steps = o.past_key_values, [o.logits[:, -1]]
        for t in range(prefix, length):
            o = ref(input_ids=ids[:, t:t + 1], past_key_values=pkv, use_cache=True)
            pkv = o.past_key_values
            steps.append(o.logits[:, -1])
        dec = torch.stack(steps, 1).float()
    drift = (full[:, prefix - 1:] - dec).abs().max().item()
    print(f"{name}: prefill vs incremental max abs diff {drift:.3g}")
    save_file({"input_ids": ids.contiguous(), "logits": full.contiguous(),
               "decode_logits": dec.contiguous(),
               "decode_prefix": torch.tensor([prefix], dtype=torch.int64)},
              os.path.join(path, "reference.safetensors"))
    return drift


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tiny-llama4"
    os.makedirs(out, exist_ok=True)
    for i, (name, (overrides, length, prefix)) in enumerate(CONFIGS.items()):
        build(out, name, overrides, length, prefix, seed=10 * i)
    with open(os.path.join(out, "versions.txt"), "w") as f:
        f.write(f"torch {torch.__version__}\ntransformers {transformers.__version__}\n")


if __name__ == "__main__":
    main()
