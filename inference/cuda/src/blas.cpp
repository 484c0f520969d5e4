#include "quire/inference/cuda/blas.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

namespace quire::inference::cuda {

namespace {

Error blasFailure(cublasStatus_t s, const char* what)
{
    return Error{ErrorCode::Device, std::string(what) + ": " + cublasLtGetStatusString(s)};
}

struct LtHandleDeleter {
    void operator()(cublasLtContext* h) const { cublasLtDestroy(h); }
};
struct DescDeleter {
    void operator()(cublasLtMatmulDescOpaque_t* d) const { cublasLtMatmulDescDestroy(d); }
};
struct LayoutDeleter {
    void operator()(cublasLtMatrixLayoutOpaque_t* l) const { cublasLtMatrixLayoutDestroy(l); }
};

// One shape's descriptors and the algorithm the heuristic picked for it.
struct Plan {
    int t = 0, n = 0, k = 0;
    GemmOut out = GemmOut::Bf16;
    std::unique_ptr<cublasLtMatmulDescOpaque_t, DescDeleter> desc;
    std::unique_ptr<cublasLtMatrixLayoutOpaque_t, LayoutDeleter> a, b, c;
    cublasLtMatmulAlgo_t algo{};
};

} // namespace

struct Blas::Impl {
    std::unique_ptr<cublasLtContext, LtHandleDeleter> handle;
    void* workspace = nullptr;
    std::size_t workspaceBytes = 0;
    std::vector<Plan> plans;

    ~Impl()
    {
        if (workspace)
            cudaFree(workspace);
    }

    std::expected<Plan*, Error> plan(int t, int n, int k, GemmOut out);
};

std::expected<Plan*, Error> Blas::Impl::plan(int t, int n, int k, GemmOut out)
{
    for (Plan& p : plans)
        if (p.t == t && p.n == n && p.k == k && p.out == out)
            return &p;

    // Row-major y[t][n] = x[t][k] . w[n][k]^T is, in cuBLAS's column-major terms,
    // Y (n x t, ld n) = op(W) . X with W stored k x n (ld k) and op = transpose, X k x t (ld k).
    Plan p;
    p.t = t;
    p.n = n;
    p.k = k;
    p.out = out;
    cublasLtMatmulDesc_t desc = nullptr;
    if (auto s = cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F); s != CUBLAS_STATUS_SUCCESS)
        return std::unexpected(blasFailure(s, "cublasLtMatmulDescCreate"));
    p.desc.reset(desc);
    const cublasOperation_t transA = CUBLAS_OP_T, transB = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &transA, sizeof transA);
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &transB, sizeof transB);

    const cudaDataType_t cType = out == GemmOut::Bf16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    if (auto s = cublasLtMatrixLayoutCreate(&a, CUDA_R_16BF, k, n, k); s != CUBLAS_STATUS_SUCCESS)
        return std::unexpected(blasFailure(s, "cublasLtMatrixLayoutCreate"));
    p.a.reset(a);
    if (auto s = cublasLtMatrixLayoutCreate(&b, CUDA_R_16BF, k, t, k); s != CUBLAS_STATUS_SUCCESS)
        return std::unexpected(blasFailure(s, "cublasLtMatrixLayoutCreate"));
    p.b.reset(b);
    if (auto s = cublasLtMatrixLayoutCreate(&c, cType, n, t, n); s != CUBLAS_STATUS_SUCCESS)
        return std::unexpected(blasFailure(s, "cublasLtMatrixLayoutCreate"));
    p.c.reset(c);

    cublasLtMatmulPreference_t pref = nullptr;
    if (auto s = cublasLtMatmulPreferenceCreate(&pref); s != CUBLAS_STATUS_SUCCESS)
        return std::unexpected(blasFailure(s, "cublasLtMatmulPreferenceCreate"));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspaceBytes,
                                         sizeof workspaceBytes);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const auto s = cublasLtMatmulAlgoGetHeuristic(handle.get(), desc, a, b, c, c, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS || found == 0)
        return std::unexpected(Error{ErrorCode::Unsupported, "cuBLASLt has no bf16 algorithm for a " +
                                                                 std::to_string(t) + "x" + std::to_string(n) +
                                                                 "x" + std::to_string(k) + " product"});
    p.algo = result.algo;
    plans.push_back(std::move(p));
    return &plans.back();
}

Blas::Blas(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Blas::Blas(Blas&&) noexcept = default;
Blas& Blas::operator=(Blas&&) noexcept = default;
Blas::~Blas() = default;

std::expected<Blas, Error> Blas::create(std::size_t workspaceBytes)
{
    auto impl = std::make_unique<Impl>();
    cublasLtHandle_t h = nullptr;
    if (auto s = cublasLtCreate(&h); s != CUBLAS_STATUS_SUCCESS)
        return std::unexpected(blasFailure(s, "cublasLtCreate"));
    impl->handle.reset(h);
    if (workspaceBytes > 0) {
        if (auto e = cudaMalloc(&impl->workspace, workspaceBytes); e != cudaSuccess) {
            cudaGetLastError();
            return std::unexpected(
                Error{ErrorCode::OutOfMemory, std::string("cuBLASLt workspace: ") + cudaGetErrorString(e)});
        }
    }
    impl->workspaceBytes = workspaceBytes;
    return Blas(std::move(impl));
}

std::expected<void, Error> Blas::gemm(const void* x, const void* w, void* y, int t, int n, int k, GemmOut out,
                                      CUstream_st* stream, float beta)
{
    if (t <= 0 || n <= 0 || k <= 0 || n % 8 != 0 || k % 8 != 0)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "gemm: t, n, k must be positive, n and k multiples of 8"});
    const auto misaligned = [](const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) != 0; };
    if (misaligned(x) || misaligned(w) || misaligned(y))
        return std::unexpected(Error{ErrorCode::InvalidArgument, "gemm: operands must be 16-byte aligned"});
    auto p = m_impl->plan(t, n, k, out);
    if (!p)
        return std::unexpected(p.error());
    const float alpha = 1.0f;
    Plan& plan = **p;
    const auto s = cublasLtMatmul(m_impl->handle.get(), plan.desc.get(), &alpha, w, plan.a.get(), x,
                                  plan.b.get(), &beta, y, plan.c.get(), y, plan.c.get(), &plan.algo,
                                  m_impl->workspace, m_impl->workspaceBytes, stream);
    if (s != CUBLAS_STATUS_SUCCESS)
        return std::unexpected(blasFailure(s, "cublasLtMatmul"));
    return {};
}

std::size_t Blas::cachedPlans() const
{
    return m_impl->plans.size();
}

} // namespace quire::inference::cuda
