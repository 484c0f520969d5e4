// RAII CUDA streams and events for the CUDA backend. Plain types only (the CUDA handle types are
// forward-declared), so the engine and tests can hold them without the CUDA headers. A Stream or
// Event is owned by one object and destroyed with it; use each from one thread at a time.
#pragma once

#include <expected>
#include <memory>

#include "quire/inference/error.h"

struct CUstream_st;
struct CUevent_st;

namespace quire::inference::cuda {

class Stream {
public:
    // A non-blocking stream (does not synchronise with the legacy default stream).
    static std::expected<Stream, Error> create();
    CUstream_st* get() const { return m_stream.get(); }
    std::expected<void, Error> synchronize() const;

private:
    struct Deleter {
        void operator()(CUstream_st* s) const;
    };
    std::unique_ptr<CUstream_st, Deleter> m_stream;
};

class Event {
public:
    static std::expected<Event, Error> create();
    CUevent_st* get() const { return m_event.get(); }
    std::expected<void, Error> record(CUstream_st* stream) const;
    std::expected<void, Error> synchronize() const;
    // Milliseconds between `start` (recorded earlier) and this event; both must have completed.
    std::expected<float, Error> elapsedSince(const Event& start) const;

private:
    struct Deleter {
        void operator()(CUevent_st* e) const;
    };
    std::unique_ptr<CUevent_st, Deleter> m_event;
};

} // namespace quire::inference::cuda
