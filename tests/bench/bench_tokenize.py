#!/usr/bin/env python3
"""Baseline for BENCH tokenize: the `tiktoken` package encoding the same documents with the Llama 4
rank file and its o200k-style split pattern (llama4-architecture.md section 11.1).

    bench_tokenize.py RANK_FILE TEXT_FILE THREADS

Cuts TEXT_FILE into the same documents as bench_tokenize.cpp (at the first paragraph break at
least 64 KiB after the previous cut), times encode_ordinary over them (THREADS > 1:
encode_ordinary_batch with num_threads=THREADS) and prints
    tiktoken mbps=<MB/s> count=<tokens> sum=<sum of ids> weighted=<sum of (index+1)*id mod 2^64>
"""
import base64
import sys
import time

import numpy as np
import tiktoken

PATTERN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
           r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
           r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def main():
    rank_file, text_file, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ranks = {}
    with open(rank_file, "rb") as f:
        for line in f:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    enc = tiktoken.Encoding(name="llama4-bench", pat_str=PATTERN, mergeable_ranks=ranks, special_tokens={})
    data = open(text_file, "rb").read()
    docs, pos = [], 0
    while pos < len(data):
        cut = data.find(b"\n\n", min(len(data), pos + (64 << 10)))
        cut = len(data) if cut < 0 else cut + 2
        docs.append(data[pos:cut].decode("utf-8"))
        pos = cut
    start = time.perf_counter()
    if threads <= 1:
        results = [enc.encode_ordinary(d) for d in docs]
    else:
        results = enc.encode_ordinary_batch(docs, num_threads=threads)
    seconds = time.perf_counter() - start
    ids = np.concatenate([np.asarray(r, dtype=np.uint64) for r in results])
    weighted = int((ids * np.arange(1, len(ids) + 1, dtype=np.uint64)).sum())
    print("tiktoken mbps=%.3f count=%d sum=%d weighted=%d" % (len(data) / 1e6 / seconds, len(ids), int(ids.sum()), weighted))


if __name__ == "__main__":
    main()
