#!/usr/bin/env bash
# The GPU check in one command, from the repository root on a bare GPU machine (compiler, CMake, ninja,
# CUDA 13; no Qt, no network):
#   1. configure the engine, the CUDA backend and the gpu tests alone (QUIRE_ENGINE_ONLY) into build-gpu
#   2. build with every core
#   3. ctest -L gpu (kernel parity with the CPU twins), then ctest -L unit (the twins themselves)
#   4. the GPU benchmarks (BENCH gpu_gemm, gpu_attn_prefill_8k, gpu_attn_prefill_32k, gpu_attn_decode,
#      gpu_decode_default, and Llama 4 Scout at its real shapes with random weights: scout_prefill_8k,
#      scout_prefill_64k, scout_decode_8k, scout_decode_128k; 8 of 48 layers scaled linearly unless
#      QUIRE_SCOUT_LAYERS=48)
#   5. a short table last: each test's pass/fail counts and every BENCH line.
# The default model (gpu_model's default-model test, BENCH gpu_decode_default) is QUIRE_DEFAULT_MODEL, else
# ~/.local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf; without it those two say so and skip.
# QUIRE_GPU_TESTS (a ctest -R regex) and QUIRE_GPU_BENCHES (names) narrow a rerun; QUIRE_GPU_TEST_TIMEOUT and
# QUIRE_GPU_BENCH_TIMEOUT (seconds, default 600 and 300) bound one test and one benchmark.
# The full log goes to $OUT/gpu_run.log when OUT is set (else build-gpu/gpu_run.log). Exit status: 0 when
# the build and every test passed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
build=${QUIRE_GPU_BUILD_DIR:-build-gpu}
log_dir=${OUT:-$PWD/$build}
mkdir -p "$log_dir" "$build"
log="$log_dir/gpu_run.log"

section() { printf '\n===== %s (%ss)\n' "$*" "$SECONDS"; }

run_all() {
  local status=0
  section "machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv 2>&1 || true
  echo "cmake $(cmake --version | head -1 | awk '{print $3}'), $(nvcc --version | tail -1), $(nproc) cores"

  section "configure"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQUIRE_ENGINE_ONLY=ON -DQUIRE_CUDA=ON || return 2
  section "build"
  cmake --build "$build" -j"$(nproc)" || return 2

  section "gpu tests"
  local only=()
  [ -n "${QUIRE_GPU_TESTS:-}" ] && only=(-R "$QUIRE_GPU_TESTS")
  (cd "$build" && ctest -L gpu "${only[@]}" -V --output-on-failure --timeout "${QUIRE_GPU_TEST_TIMEOUT:-600}") > "$log_dir/ctest_gpu.log" 2>&1 || status=1
  cat "$log_dir/ctest_gpu.log"
  section "cpu twin tests"
  if [ -z "${QUIRE_GPU_TESTS:-}" ]; then
    (cd "$build" && ctest -L unit -V --output-on-failure --timeout 300) > "$log_dir/ctest_unit.log" 2>&1 || status=1
  else
    echo "(skipped: QUIRE_GPU_TESTS narrows this run)" > "$log_dir/ctest_unit.log"
  fi
  cat "$log_dir/ctest_unit.log"

  section "benchmarks"
  for b in ${QUIRE_GPU_BENCHES:-gpu_bench_gemm gpu_bench_attention gpu_bench_model gpu_bench_scout}; do
    echo "--- $b"
    local args=()
    [ "$b" = gpu_bench_scout ] && args=(--layers "${QUIRE_SCOUT_LAYERS:-8}" ${QUIRE_SCOUT_ARGS:-})
    timeout "${QUIRE_GPU_BENCH_TIMEOUT:-300}" "$build/bin/$b" "${args[@]}" > "$log_dir/$b.log" 2>&1
    local rc=$?
    cat "$log_dir/$b.log"
    if [ $rc -eq 77 ]; then echo "$b skipped (no device)"; elif [ $rc -ne 0 ]; then echo "$b exited with $rc"; status=1; fi
  done

  section "summary"
  printf '%-22s %s\n' "test" "result"
  # ctest -V prefixes each line of a test's output with its number; map numbers to names.
  cat "$log_dir/ctest_gpu.log" "$log_dir/ctest_unit.log" | awk '
    /^[0-9]+: Test command: / { n = $1; sub(":", "", n); cmd = $4; sub(".*/", "", cmd); name[n] = cmd; order[++k] = n }
    /^[0-9]+: [0-9]+ passed, [0-9]+ failed/ { n = $1; sub(":", "", n); res[n] = $2 " passed, " $4 " failed" }
    /^[0-9]+: no CUDA device/ { n = $1; sub(":", "", n); res[n] = "skipped (no device)" }
    END { for (i = 1; i <= k; ++i) { n = order[i]; printf "%-22s %s\n", name[n], (n in res) ? res[n] : "no result line (crashed?)" } }'
  grep -h -E "tests passed|tests failed" "$log_dir/ctest_gpu.log" "$log_dir/ctest_unit.log" | sed 's/^/ctest: /'
  grep -h 'SKIPPED' "$log_dir/ctest_gpu.log" | sed 's/^[0-9]*: *//'
  grep -h -E '^BENCH |benchmark skipped' "$log_dir"/gpu_bench_*.log || echo "no BENCH lines"
  echo "total ${SECONDS}s, status $status"
  return $status
}

run_all 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
