# One helper registers every test executable with ctest.
#
#   quire_add_test(NAME storage_database LABEL unit SOURCES a.cpp LIBS quire::storage)
#
# Qt Test units link Qt6::Test. LABEL is one of unit, integration, gpu, slow, bench.
# Tests labelled gpu use the minimal driver in tests/gpu/gpu_test.h (no Qt) and exit 77 when no
# CUDA device is present; ctest reports that as skipped. Tests labelled bench are not run by
# `./quire.sh test` (it excludes the label); run them with `ctest -L bench`.
# GUI tests pass XVFB: they then run under xvfb-run when it is installed, else offscreen.
set(QUIRE_SKIP_CODE 77)
find_program(XVFB_RUN_EXE xvfb-run)

function(quire_add_test)
  cmake_parse_arguments(T "XVFB;NO_QT" "NAME;LABEL;TIMEOUT" "SOURCES;LIBS;ARGS;ENV" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  quire_set_warnings(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS})
  if(NOT T_NO_QT AND NOT T_LABEL STREQUAL "gpu")
    target_link_libraries(${T_NAME} PRIVATE Qt6::Test)
    set_target_properties(${T_NAME} PROPERTIES AUTOMOC ON)
  endif()
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${T_NAME} PRIVATE
    QUIRE_SHARED_DIR="${QUIRE_SHARED_DIR}"
    QUIRE_TEST_DATA_DIR="${QUIRE_TEST_DATA_DIR}"
    QUIRE_BINARY_DIR="${PROJECT_BINARY_DIR}"
    QUIRE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

  set(cmd $<TARGET_FILE:${T_NAME}> ${T_ARGS})
  set(env ${T_ENV})
  if(T_XVFB)
    if(XVFB_RUN_EXE)
      set(cmd ${XVFB_RUN_EXE} -a -s "-screen 0 1440x900x24" ${cmd})
    else()
      list(APPEND env QT_QPA_PLATFORM=offscreen)
    endif()
  endif()
  add_test(NAME ${T_NAME} COMMAND ${cmd})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABEL}" SKIP_RETURN_CODE ${QUIRE_SKIP_CODE})
  if(env)
    set_tests_properties(${T_NAME} PROPERTIES ENVIRONMENT "${env}")
  endif()
  if(T_TIMEOUT)
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
  endif()
endfunction()
