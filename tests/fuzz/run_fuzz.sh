#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 120) from generated seeds; findings go to
# BUILD/fuzz-artifacts. Usage: tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS] [TARGET...]
set -euo pipefail
build=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS] [TARGET...]}
seconds=${2:-120}
shift $(( $# > 1 ? 2 : 1 ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_gguf fuzz_tokenizer fuzz_tokenizer_json)
work="$build/fuzz-work"
mkdir -p "$work" "$build/fuzz-artifacts"
"$build/bin/make_fuzz_seeds" "$work/seeds"
for t in "${targets[@]}"; do
  case $t in
    fuzz_gguf) seeds="$work/seeds/gguf" ;;
    fuzz_tokenizer_json) seeds="$work/seeds/tokenizer_json" ;;
    *) seeds="" ;;
  esac
  mkdir -p "$work/corpus_$t"
  echo "== $t for ${seconds}s"
  "$build/bin/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$t-" "$work/corpus_$t" $seeds 2>&1 | tail -n 25
done
