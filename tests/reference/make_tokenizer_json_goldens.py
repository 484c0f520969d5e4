#!/usr/bin/env python3
"""Goldens for the tokenizer.json loader (tests/inference/test_tokenizer_json.cpp).

Builds Hugging Face `tokenizers` objects in the shape of real model files (Llama 3, Qwen2 with its
NFC normalizer, SmolLM2, GPT-2, DeepSeek-Coder) from the vocabularies we have locally (the shared
GGUF vocab files and the default model), encodes test strings with them, and writes per style:

  tests/data/inference/tokenizer_json/<style>.skeleton.json  the file HF serialises, with
      model.vocab and model.merges emptied (the test refills them from the same GGUF)
  tests/data/inference/tokenizer_json/<style>.out            ids per test string (.out format)
  tests/data/inference/tokenizer_json/texts.inp               the test strings (.inp format)

Needs: pip install tokenizers gguf numpy. Run from the repository root:
    python3 tests/reference/make_tokenizer_json_goldens.py [DEFAULT_MODEL.gguf]
"""
import json
import os
import sys

import gguf
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "tokenizers")
OUT = os.path.join(ROOT, "tests", "data", "inference", "tokenizer_json")

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

# Extra strings: NFC (decomposed accents, Hangul jamo, a singleton), digits, specials as text.
EXTRA = [
    "cafe\u0301 de\u0301ja\u0300 vu, A\u030a, \u212b, \u1100\u1161\u11a8 and \u0915\u093c",
    "Numbers 2024-11-28 and 3.14159, x1000",
    "<|im_start|>user\nHi<|im_end|> and <|begin_of_text|> as plain text",
]


def gguf_vocab(path):
    r = gguf.GGUFReader(path)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    merges = r.fields["tokenizer.ggml.merges"].contents()
    return tokens, types, merges


def build(style, tokens, types, merges):
    vocab = {t: i for i, t in enumerate(tokens)}  # added tokens too, as in real files
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(BPE(vocab=vocab, merges=pairs, ignore_merges=(style == "llama3")))
    added = []
    from tokenizers import AddedToken
    for i, t in enumerate(tokens):
        if types[i] in (3, 4):
            added.append((i, AddedToken(t, special=(types[i] == 3), normalized=False)))
    for i, a in sorted(added):
        tok.add_tokens([a]) if not a.special else tok.add_special_tokens([a])
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if style == "llama3":
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), "isolated"), byte_level])
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 128000)])
    elif style == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2), "isolated"), byte_level])
    elif style == "smollm2":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    elif style == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif style == "deepseek-coder":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex("[\r\n]"), "isolated"),
            pre_tokenizers.Split(Regex("\\s?\\p{L}+"), "isolated"),
            pre_tokenizers.Split(Regex("\\s?\\p{P}+"), "isolated"),
            pre_tokenizers.Split(Regex("[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"), "isolated"),
            pre_tokenizers.Digits(individual_digits=True),
            byte_level])
    tok.decoder = decoders.ByteLevel()
    for i, a in added:
        assert tok.token_to_id(a.content) == i, (style, i, a.content)
    return tok


def main():
    default_model = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        "~/.local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    texts = open(os.path.join(SHARED, "llama4", "llama4.inp"), encoding="utf-8").read().split("\n__ggml_vocab_test__\n")[:-1]
    texts += EXTRA
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "texts.inp"), "w", encoding="utf-8", newline="") as f:
        for t in texts:
            f.write(t + "\n__ggml_vocab_test__\n")
    sources = {
        "llama3": os.path.join(SHARED, "ggml-vocab-llama-bpe.gguf"),
        "qwen2": os.path.join(SHARED, "ggml-vocab-llama-bpe.gguf"),
        "gpt2": os.path.join(SHARED, "ggml-vocab-gpt-2.gguf"),
        "deepseek-coder": os.path.join(SHARED, "ggml-vocab-deepseek-coder.gguf"),
        "smollm2": default_model,
    }
    for style, path in sources.items():
        tok = build(style, *gguf_vocab(path))
        with open(os.path.join(OUT, style + ".out"), "w") as f:
            for t in texts:
                f.write("".join(" %d" % i for i in tok.encode(t, add_special_tokens=False).ids) + "\n")
        doc = json.loads(tok.to_str())
        doc["model"]["vocab"] = {}
        doc["model"]["merges"] = []
        with open(os.path.join(OUT, style + ".skeleton.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
        print(style, "->", os.path.basename(path), file=sys.stderr)


if __name__ == "__main__":
    main()
