// The CUDA backend ("cuda"): the dense Llama family (Llama 2/3, SmolLM2, Qwen2) on one NVIDIA GPU.
// A Runner uploads the weights once (quantized GGUF matrices both as their blocks, for the decode GEMV,
// and dequantised to bf16, for the prefill GEMM through cuBLASLt; float matrices as bf16), keeps a
// bf16 KV cache of maxContext tokens per layer on the device, runs prefill with the tensor-core
// attention kernels and decode steps as one captured CUDA graph, and copies the logits back to the
// host. The residual stream is fp32, every other activation bf16.
//
// Ownership: the backend is a stateless singleton; a Runner owns its device memory, stream, cuBLASLt
// handle and graph, and frees them on destruction. Thread-safety: as backend.h says (one thread per
// Runner); runners on one device may run on different threads.
#pragma once

#include <memory>

#include "quire/inference/backend.h"

namespace quire::inference::cuda {

// The backend object. createRunner() fails with ErrorCode::Device when no CUDA device is present, and
// with ErrorCode::Unsupported for a model it cannot run (see the message).
std::shared_ptr<const Backend> cudaBackend();

// Registers cudaBackend() as "cuda" in the engine's registry; idempotent. Every program that links
// quire::inference_cuda runs this at start-up (an interface source of the target), so the CLI's
// --backend cuda finds it by name.
void registerCudaBackend();

} // namespace quire::inference::cuda
