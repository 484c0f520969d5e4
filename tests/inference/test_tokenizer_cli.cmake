# Runs `quire-cli tokenize --model MODEL --vectors INP` and compares its output with OUT.
# Invoked by ctest: cmake -DCLI=... -DMODEL=... -DINP=... -DOUT=... -P test_tokenizer_cli.cmake
if(NOT EXISTS "${MODEL}")
  message("SKIP: ${MODEL} not present")
  return()
endif()
execute_process(COMMAND "${CLI}" tokenize --model "${MODEL}" --vectors "${INP}"
                OUTPUT_VARIABLE got ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "quire-cli tokenize failed (${rc}): ${err}")
endif()
file(READ "${OUT}" want)
if(NOT got STREQUAL want)
  file(WRITE "${OUT_DIR}/tokenize_got.out" "${got}")
  message(FATAL_ERROR "quire-cli tokenize output differs from ${OUT} (ours: ${OUT_DIR}/tokenize_got.out)")
endif()
message("quire-cli tokenize matches ${OUT}")
