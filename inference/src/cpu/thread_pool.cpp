#include "cpu/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QUIRE_PAUSE() _mm_pause()
#else
#define QUIRE_PAUSE() std::this_thread::yield()
#endif

namespace quire::inference::cpu {

namespace {
// Waiting for a job or for the workers: a short busy spin (a decode step's jobs are tens of
// microseconds apart), then yields (which hand the core over when the machine is oversubscribed,
// where long spinning collapses throughput), then a futex sleep.
constexpr int kPauseSpins = 256;
constexpr int kYieldSpins = 512;

// Returns false when the caller should block instead.
bool backoff(int spin)
{
    if (spin < kPauseSpins) {
        QUIRE_PAUSE();
        return true;
    }
    if (spin < kPauseSpins + kYieldSpins) {
        std::this_thread::yield();
        return true;
    }
    return false;
}
}  // namespace

ThreadPool::ThreadPool(int threads) : m_threads(std::max(1, threads))
{
    for (int i = 1; i < m_threads; ++i)
        m_workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool()
{
    m_stop.store(true, std::memory_order_release);
    m_generation.fetch_add(1, std::memory_order_acq_rel);
    m_generation.notify_all();
    for (auto& t : m_workers)
        t.join();
}

std::pair<std::int64_t, std::int64_t> ThreadPool::split(std::int64_t count, int i, int n, std::int64_t align)
{
    const std::int64_t units = (count + align - 1) / align;
    const std::int64_t per = units / n, extra = units % n;
    const std::int64_t b = i * per + std::min<std::int64_t>(i, extra);
    const std::int64_t e = b + per + (i < extra ? 1 : 0);
    return {std::min(count, b * align), std::min(count, e * align)};
}

void ThreadPool::runImpl(void* ctx, Trampoline fn)
{
    if (m_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    m_ctx = ctx;
    m_fn = fn;
    m_pending.store(m_threads - 1, std::memory_order_relaxed);
    m_generation.fetch_add(1, std::memory_order_release);
    m_generation.notify_all();
    fn(ctx, 0, m_threads);
    for (int spin = 0; m_pending.load(std::memory_order_acquire) != 0; ++spin) {
        if (!backoff(spin)) {
            const int left = m_pending.load(std::memory_order_acquire);
            if (left != 0)
                m_pending.wait(left, std::memory_order_acquire);
        }
    }
}

void ThreadPool::workerLoop(int index)
{
    // Generation 0 is the constructor's: a job posted before this thread got here still counts.
    std::uint32_t seen = 0;
    for (;;) {
        std::uint32_t now;
        for (int spin = 0; (now = m_generation.load(std::memory_order_acquire)) == seen; ++spin)
            if (!backoff(spin))
                m_generation.wait(seen, std::memory_order_acquire);
        seen = now;
        if (m_stop.load(std::memory_order_acquire))
            return;
        m_fn(m_ctx, index, m_threads);
        if (m_pending.fetch_sub(1, std::memory_order_acq_rel) == 1)
            m_pending.notify_one();
    }
}

} // namespace quire::inference::cpu
