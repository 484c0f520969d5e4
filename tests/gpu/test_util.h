// Helpers for the kernel parity tests: fresh random inputs (a new seed every run, printed so a failure
// can be replayed with QUIRE_TEST_SEED), comparison by relative error where NaN never passes, and
// device arrays that are poisoned (all bits set: NaN for bf16 and float, -1 for int32) before a kernel
// writes them. Device helpers throw std::runtime_error on a CUDA error; the driver reports it.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "quire/inference/cuda/bf16.h"

namespace quire::gputest {

inline void cudaCheck(cudaError_t e, const char* what)
{
    if (e != cudaSuccess)
        throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

inline std::uint64_t testSeed()
{
    static const std::uint64_t seed = [] {
        if (const char* s = std::getenv("QUIRE_TEST_SEED"))
            return static_cast<std::uint64_t>(std::strtoull(s, nullptr, 10));
        const std::uint64_t fresh =
            (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
        std::printf("QUIRE_TEST_SEED=%llu\n", static_cast<unsigned long long>(fresh));
        return fresh;
    }();
    return seed;
}

class Rng {
public:
    explicit Rng(std::uint64_t salt = 0) : m_gen(testSeed() ^ (salt * 0x9E3779B97F4A7C15ull)) {}
    float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(m_gen); }
    float normal(float sd = 1.0f) { return std::normal_distribution<float>(0.0f, sd)(m_gen); }
    int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(m_gen); } // inclusive
    std::uint8_t byte()
    {
        return static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 255)(m_gen));
    }
    std::mt19937_64& engine() { return m_gen; }

    std::vector<std::uint16_t> bf16(std::size_t n, float sd = 1.0f)
    {
        std::vector<std::uint16_t> v(n);
        for (auto& x : v)
            x = inference::cuda::floatToBf16(normal(sd));
        return v;
    }
    std::vector<float> f32(std::size_t n, float sd = 1.0f)
    {
        std::vector<float> v(n);
        for (auto& x : v)
            x = normal(sd);
        return v;
    }

private:
    std::mt19937_64 m_gen;
};

// ||a - ref|| / ||ref||; infinity when a holds a NaN or an infinity where ref is finite.
inline double relError(const std::vector<float>& a, const std::vector<float>& ref)
{
    if (a.size() != ref.size())
        return INFINITY;
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i]) && std::isfinite(ref[i]))
            return INFINITY;
        if (std::isnan(a[i]))
            return INFINITY;
        const double d = static_cast<double>(a[i]) - ref[i];
        num += d * d;
        den += static_cast<double>(ref[i]) * ref[i];
    }
    if (den == 0)
        return num == 0 ? 0 : INFINITY;
    return std::sqrt(num / den);
}

inline std::vector<float> toFloat(const std::vector<std::uint16_t>& bf)
{
    std::vector<float> v(bf.size());
    for (std::size_t i = 0; i < bf.size(); ++i)
        v[i] = inference::cuda::bf16ToFloat(bf[i]);
    return v;
}

// A device array of T owned by this object.
template <class T> class DevArray {
public:
    explicit DevArray(std::size_t n) : m_n(n)
    {
        cudaCheck(cudaMalloc(&m_ptr, n * sizeof(T) + 16), "cudaMalloc");
        poison();
    }
    explicit DevArray(const std::vector<T>& host) : DevArray(host.size()) { upload(host); }
    DevArray(const DevArray&) = delete;
    DevArray& operator=(const DevArray&) = delete;
    ~DevArray() { cudaFree(m_ptr); }

    T* get() const { return m_ptr; }
    std::size_t size() const { return m_n; }
    void upload(const std::vector<T>& host)
    {
        cudaCheck(cudaMemcpy(m_ptr, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
    }
    std::vector<T> download() const
    {
        cudaCheck(cudaDeviceSynchronize(), "kernel");
        std::vector<T> host(m_n);
        cudaCheck(cudaMemcpy(host.data(), m_ptr, m_n * sizeof(T), cudaMemcpyDeviceToHost), "download");
        return host;
    }
    void poison() { cudaCheck(cudaMemset(m_ptr, 0xff, m_n * sizeof(T)), "poison"); }

private:
    T* m_ptr = nullptr;
    std::size_t m_n = 0;
};

} // namespace quire::gputest
