// Compiled into every target that links quire::inference_cuda (an INTERFACE source of the library):
// registers the "cuda" backend before main() runs, so the engine finds it by name. A static
// initialiser in the static library itself would be dropped by the linker when nothing refers to it.
#include "quire/inference/cuda/backend.h"

namespace {

[[maybe_unused]] const bool g_cudaBackendRegistered = [] {
    quire::inference::cuda::registerCudaBackend();
    return true;
}();

} // namespace
