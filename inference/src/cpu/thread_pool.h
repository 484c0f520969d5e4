// A small fork-join pool for the CPU backend: run(fn) calls fn(i, n) on n threads (the caller is
// thread 0) and returns when all are done. Workers spin briefly between jobs, then sleep on an
// atomic wait, because a decode step issues a few hundred short jobs per token. One pool is used
// by one thread at a time (its owning session).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace quire::inference::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return m_threads; }

    template <typename F> void run(F&& fn)
    {
        runImpl(&fn, [](void* ctx, int i, int n) { (*static_cast<F*>(ctx))(i, n); });
    }

    // Splits [0, count) into n near-equal contiguous ranges; range i is [begin, end).
    static std::pair<std::int64_t, std::int64_t> split(std::int64_t count, int i, int n,
                                                       std::int64_t align = 1);

private:
    using Trampoline = void (*)(void*, int, int);
    void runImpl(void* ctx, Trampoline fn);
    void workerLoop(int index);

    int m_threads = 1;
    std::vector<std::thread> m_workers;
    void* m_ctx = nullptr;
    Trampoline m_fn = nullptr;
    alignas(64) std::atomic<std::uint32_t> m_generation{0};
    alignas(64) std::atomic<int> m_pending{0};
    std::atomic<bool> m_stop{false};
};

} // namespace quire::inference::cpu
