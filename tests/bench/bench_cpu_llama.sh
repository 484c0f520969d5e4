#!/usr/bin/env bash
# BENCH cpu_prefill / cpu_decode: Quire's CPU backend against llama.cpp's llama-bench on the same
# GGUF file, same thread count, same run.
#
#   tests/bench/bench_cpu_llama.sh OURS_BENCH_BINARY [MODEL.gguf]
#
# llama.cpp is built once into a scratch folder ($QUIRE_LLAMA_CPP_DIR, default
# /tmp/quire-llama-cpp) from the source vendored in the llama-cpp-python sdist on PyPI; nothing of
# it is committed. Set LLAMA_BENCH=/path/to/llama-bench to use an existing build instead.
# Environment: QUIRE_BENCH_THREADS (default 2), QUIRE_BENCH_PROMPT (512), QUIRE_BENCH_GEN (128),
# QUIRE_BENCH_REPS (3).
set -euo pipefail

ours=${1:?usage: bench_cpu_llama.sh OURS_BENCH_BINARY [MODEL.gguf]}
data_dir=${QUIRE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/quire}
model=${2:-${QUIRE_DEFAULT_MODEL:-$data_dir/models/SmolLM2-135M-Instruct.Q4_1.gguf}}
threads=${QUIRE_BENCH_THREADS:-2}
n_prompt=${QUIRE_BENCH_PROMPT:-512}
n_gen=${QUIRE_BENCH_GEN:-128}
reps=${QUIRE_BENCH_REPS:-3}
scratch=${QUIRE_LLAMA_CPP_DIR:-/tmp/quire-llama-cpp}

if [ ! -f "$model" ]; then
  echo "SKIP: model not found: $model (run ./quire.sh setup)"
  exit 0
fi

build_llama_bench() {
  local bin="$scratch/build/bin/llama-bench"
  if [ -x "$bin" ]; then echo "$bin"; return 0; fi
  mkdir -p "$scratch"
  if [ ! -d "$scratch/src" ]; then
    echo "fetching the llama-cpp-python sdist (llama.cpp source) into $scratch" >&2
    python3 -m pip download -q --no-deps --no-binary :all: llama-cpp-python -d "$scratch/sdist" >&2
    mkdir -p "$scratch/src"
    tar -xzf "$scratch"/sdist/llama_cpp_python-*.tar.gz -C "$scratch/src" --strip-components=1
  fi
  echo "building llama-bench (once; several minutes on two cores)" >&2
  cmake -S "$scratch/src/vendor/llama.cpp" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON >&2
  cmake --build "$scratch/build" --target llama-bench -j "$(nproc)" >&2
  echo "$bin"
}

llama_bench=${LLAMA_BENCH:-$(build_llama_bench)}

# llama.cpp: pp<n_prompt> and tg<n_gen>, averaged over the repetitions (tokens/s).
json=$("$llama_bench" -m "$model" -t "$threads" -p "$n_prompt" -n "$n_gen" -r "$reps" -o json 2>/dev/null)
read -r base_pp base_tg < <(python3 -c '
import json, sys
rows = json.loads(sys.stdin.read())
pp = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0 and r["n_gen"] == 0)
tg = next(r["avg_ts"] for r in rows if r["n_gen"] > 0 and r["n_prompt"] == 0)
print(pp, tg)' <<<"$json")

# Ours: the same prompt and generation lengths, same threads.
out=$("$ours" --model "$model" --threads "$threads" --prompt "$n_prompt" --gen "$n_gen" --reps "$reps")
echo "$out"
ours_pp=$(sed -n 's/^ours prefill_tok_s=\([0-9.]*\).*/\1/p' <<<"$out")
ours_tg=$(sed -n 's/^ours decode_tok_s=\([0-9.]*\).*/\1/p' <<<"$out")

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
printf 'BENCH cpu_prefill ours=%.1f tok/s baseline=%.1f tok/s (llama.cpp llama-bench pp%d, %d threads) ratio=%s\n' \
  "$ours_pp" "$base_pp" "$n_prompt" "$threads" "$(ratio "$ours_pp" "$base_pp")"
printf 'BENCH cpu_decode ours=%.1f tok/s baseline=%.1f tok/s (llama.cpp llama-bench tg%d, %d threads) ratio=%s\n' \
  "$ours_tg" "$base_tg" "$n_gen" "$threads" "$(ratio "$ours_tg" "$base_tg")"
