# QUIRE_CUDA=AUTO|ON|OFF decides whether the CUDA backend is built. AUTO builds it when a CUDA
# compiler is found. The backend targets Hopper: sm_90a machine code plus compute_90 PTX.
set(QUIRE_HAVE_CUDA OFF)
if(NOT QUIRE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Architectures are given explicitly per target (sm_90a is not a plain number).
    set(CMAKE_CUDA_ARCHITECTURES OFF)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(QUIRE_HAVE_CUDA ON)
  elseif(QUIRE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "QUIRE_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
message(STATUS "Quire CUDA backend: ${QUIRE_HAVE_CUDA}")

function(quire_cuda_target target)
  set_target_properties(${target} PROPERTIES CUDA_STANDARD 20 CUDA_STANDARD_REQUIRED ON
                                             CUDA_ARCHITECTURES OFF CUDA_SEPARABLE_COMPILATION OFF)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_90,code=compute_90 --expt-relaxed-constexpr -lineinfo>)
endfunction()
