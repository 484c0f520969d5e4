#include "quire/inference/cuda/stream.h"

#include <cuda_runtime.h>

#include <string>

namespace quire::inference::cuda {

namespace {
Error cudaFailure(cudaError_t e, const char* what)
{
    return Error{ErrorCode::Device, std::string(what) + ": " + cudaGetErrorString(e)};
}
} // namespace

void Stream::Deleter::operator()(CUstream_st* s) const
{
    cudaStreamDestroy(s);
}

std::expected<Stream, Error> Stream::create()
{
    cudaStream_t s = nullptr;
    if (auto e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "cudaStreamCreate"));
    Stream out;
    out.m_stream.reset(s);
    return out;
}

std::expected<void, Error> Stream::synchronize() const
{
    if (auto e = cudaStreamSynchronize(m_stream.get()); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "cudaStreamSynchronize"));
    return {};
}

void Event::Deleter::operator()(CUevent_st* e) const
{
    cudaEventDestroy(e);
}

std::expected<Event, Error> Event::create()
{
    cudaEvent_t ev = nullptr;
    if (auto e = cudaEventCreate(&ev); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "cudaEventCreate"));
    Event out;
    out.m_event.reset(ev);
    return out;
}

std::expected<void, Error> Event::record(CUstream_st* stream) const
{
    if (auto e = cudaEventRecord(m_event.get(), stream); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "cudaEventRecord"));
    return {};
}

std::expected<void, Error> Event::synchronize() const
{
    if (auto e = cudaEventSynchronize(m_event.get()); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "cudaEventSynchronize"));
    return {};
}

std::expected<float, Error> Event::elapsedSince(const Event& start) const
{
    float ms = 0;
    if (auto e = cudaEventElapsedTime(&ms, start.m_event.get(), m_event.get()); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "cudaEventElapsedTime"));
    return ms;
}

} // namespace quire::inference::cuda
