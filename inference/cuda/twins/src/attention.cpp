#include "quire/inference/cuda/twins/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

float dotBf16(const std::uint16_t* a, const std::uint16_t* b, int n)
{
    float s = 0;
    for (int i = 0; i < n; ++i)
        s += bf16ToFloat(a[i]) * bf16ToFloat(b[i]);
    return s;
}

double dotBf16Double(const std::uint16_t* a, const std::uint16_t* b, int n)
{
    double s = 0;
    for (int i = 0; i < n; ++i)
        s += static_cast<double>(bf16ToFloat(a[i])) * bf16ToFloat(b[i]);
    return s;
}

// One query row's running state in the flash-style loop.
struct RowState {
    float m = kNegInf;
    float l = 0;
    std::vector<float> o;
};

} // namespace

void attentionPrefill(const PrefillAttention& a)
{
    const int dim = a.headDim;
    const int group = a.numQHeads / a.numKvHeads;
    const float scaleLog2 = a.scale * kLog2e;
    const int bm = kPrefillBlockM, bn = kPrefillBlockN;
    std::vector<float> s(static_cast<std::size_t>(bn));
    std::vector<RowState> rows(static_cast<std::size_t>(bm));

    for (int h = 0; h < a.numQHeads; ++h) {
        const int kvh = h / group;
        for (int q0 = 0; q0 < a.lq; q0 += bm) {
            const int count = std::min(bm, a.lq - q0);
            for (RowState& r : rows) {
                r.m = kNegInf;
                r.l = 0;
                r.o.assign(static_cast<std::size_t>(dim), 0.0f);
            }
            const long long firstPos = static_cast<long long>(a.qPosOffset) + q0;
            const long long lastPos = firstPos + count - 1;
            const long long kEnd = std::min<long long>(a.lkv, lastPos + 1);
            const long long kBegin = a.chunkSize > 0 ? (firstPos / a.chunkSize) * a.chunkSize : 0;
            if (kEnd > kBegin) {
                const long long nBegin = kBegin / bn, nEnd = (kEnd + bn - 1) / bn;
                for (long long n = nEnd - 1; n >= nBegin; --n) {
                    for (int i = 0; i < count; ++i) {
                        RowState& r = rows[static_cast<std::size_t>(i)];
                        const long long pos = firstPos + i;
                        const std::uint16_t* q = a.q + (q0 + i) * a.qStride + static_cast<long long>(h) * dim;
                        float tileMax = kNegInf;
                        for (int j = 0; j < bn; ++j) {
                            const long long key = n * bn + j;
                            if (key < a.lkv && keyVisible(pos, key, a.chunkSize)) {
                                s[j] = dotBf16(q, a.k + key * a.kStride + static_cast<long long>(kvh) * dim,
                                               dim);
                                tileMax = std::max(tileMax, s[j]);
                            } else {
                                s[j] = kNegInf;
                            }
                        }
                        const float mNew = std::max(r.m, tileMax);
                        const float base = mNew == kNegInf ? 0.0f : mNew * scaleLog2;
                        const float alpha = std::exp2(r.m * scaleLog2 - base);
                        float sum = 0;
                        for (float& o : r.o)
                            o *= alpha;
                        for (int j = 0; j < bn; ++j) {
                            const float p = std::exp2(s[j] * scaleLog2 - base);
                            sum += p;
                            const long long key = n * bn + j;
                            if (p == 0.0f || key >= a.lkv)
                                continue;
                            const float pr = roundToBf16(p); // the kernel feeds P to the tensor cores as bf16
                            const std::uint16_t* v =
                                a.v + key * a.vStride + static_cast<long long>(kvh) * dim;
                            for (int d = 0; d < dim; ++d)
                                r.o[static_cast<std::size_t>(d)] += pr * bf16ToFloat(v[d]);
                        }
                        r.l = r.l * alpha + sum;
                        r.m = mNew;
                    }
                }
            }
            for (int i = 0; i < count; ++i) {
                const RowState& r = rows[static_cast<std::size_t>(i)];
                std::uint16_t* o = a.o + (q0 + i) * a.oStride + static_cast<long long>(h) * dim;
                const float inv = r.l > 0 ? 1.0f / r.l : 0.0f;
                for (int d = 0; d < dim; ++d)
                    o[d] = floatToBf16(r.o[static_cast<std::size_t>(d)] * inv);
            }
        }
    }
}

std::vector<float> attentionPrefillReference(const PrefillAttention& a)
{
    const int dim = a.headDim;
    const int group = a.numQHeads / a.numKvHeads;
    std::vector<float> out(static_cast<std::size_t>(a.lq) * a.numQHeads * dim, 0.0f);
    std::vector<double> s(static_cast<std::size_t>(a.lkv)), o(static_cast<std::size_t>(dim));
    for (int i = 0; i < a.lq; ++i) {
        const long long pos = static_cast<long long>(a.qPosOffset) + i;
        for (int h = 0; h < a.numQHeads; ++h) {
            const int kvh = h / group;
            const std::uint16_t* q = a.q + i * a.qStride + static_cast<long long>(h) * dim;
            double mx = -std::numeric_limits<double>::infinity();
            for (int j = 0; j < a.lkv; ++j) {
                if (!keyVisible(pos, j, a.chunkSize)) {
                    s[static_cast<std::size_t>(j)] = -std::numeric_limits<double>::infinity();
                    continue;
                }
                s[static_cast<std::size_t>(j)] =
                    dotBf16Double(q, a.k + j * a.kStride + static_cast<long long>(kvh) * dim, dim) * a.scale;
                mx = std::max(mx, s[static_cast<std::size_t>(j)]);
            }
            if (mx == -std::numeric_limits<double>::infinity())
                continue; // nothing visible: zeros
            double sum = 0;
            std::fill(o.begin(), o.end(), 0.0);
            for (int j = 0; j < a.lkv; ++j) {
                const double p = std::exp(s[static_cast<std::size_t>(j)] - mx);
                if (p == 0.0)
                    continue;
                sum += p;
                const std::uint16_t* v = a.v + j * a.vStride + static_cast<long long>(kvh) * dim;
                for (int d = 0; d < dim; ++d)
                    o[static_cast<std::size_t>(d)] += p * bf16ToFloat(v[d]);
            }
            float* dst = out.data() + (static_cast<std::size_t>(i) * a.numQHeads + h) * dim;
            for (int d = 0; d < dim; ++d)
                dst[d] = static_cast<float>(o[static_cast<std::size_t>(d)] / sum);
        }
    }
    return out;
}

namespace {

const std::uint16_t* cacheRow(const DecodeAttention& a, const std::uint16_t* cache, int b, long long t,
                              int kvh)
{
    const std::int32_t page = a.pageTable[static_cast<long long>(b) * a.maxPagesPerSeq + t / a.pageSize];
    const long long slot = static_cast<long long>(page) * a.pageSize + t % a.pageSize;
    return cache + (slot * a.numKvHeads + kvh) * a.headDim;
}

long long decodeStart(const DecodeAttention& a, int len)
{
    return a.chunkSize > 0 ? (static_cast<long long>(len - 1) / a.chunkSize) * a.chunkSize : 0;
}

} // namespace

void attentionDecode(const DecodeAttention& a)
{
    // Mirrors kernels/attention_decode.cu: per split, warp w walks chunks w, w + kDecodeWarps, ... of
    // kDecodeTile keys with its own online softmax (max in raw score units, P rounded to bf16 for the
    // product with V, the sum of unrounded P); the warps merge into one partial per split (max in log2
    // units), and the splits merge into the output.
    const int dim = a.headDim;
    const int group = a.numQHeads / a.numKvHeads;
    const float scaleLog2 = a.scale * kLog2e;
    const int chunk = kDecodeTile, warps = kDecodeWarps;
    struct State {
        float m, l;
        std::vector<float> o;
    };
    std::vector<float> s(static_cast<std::size_t>(chunk)), o(static_cast<std::size_t>(dim));
    for (int b = 0; b < a.batch; ++b) {
        const int len = a.seqLens[b];
        for (int h = 0; h < a.numQHeads; ++h) {
            std::uint16_t* dst = a.out + (static_cast<long long>(b) * a.numQHeads + h) * dim;
            if (len <= 0) {
                for (int d = 0; d < dim; ++d)
                    dst[d] = 0;
                continue;
            }
            const int kvh = h / group;
            const std::uint16_t* q = a.q + (static_cast<long long>(b) * a.numQHeads + h) * dim;
            const long long start = decodeStart(a, len);
            std::vector<State> partials;
            for (long long s0 = start; s0 < len; s0 += a.splitTokens) {
                const long long s1 = std::min<long long>(s0 + a.splitTokens, len);
                const long long nChunks = (s1 - s0 + chunk - 1) / chunk;
                std::vector<State> perWarp;
                for (int w = 0; w < warps; ++w) {
                    State st{kNegInf, 0.0f, std::vector<float>(static_cast<std::size_t>(dim), 0.0f)};
                    for (long long c = w; c < nChunks; c += warps) {
                        const long long c0 = s0 + c * chunk;
                        float mx = kNegInf;
                        for (int j = 0; j < chunk; ++j) {
                            const long long t = c0 + j;
                            s[static_cast<std::size_t>(j)] =
                                t < s1 ? dotBf16(q, cacheRow(a, a.kCache, b, t, kvh), dim) : kNegInf;
                            mx = std::max(mx, s[static_cast<std::size_t>(j)]);
                        }
                        const float mNew = std::max(st.m, mx);
                        const float base = mNew * scaleLog2;
                        const float alpha = std::exp2(st.m * scaleLog2 - base);
                        for (float& x : st.o)
                            x *= alpha;
                        float sum = 0;
                        for (int j = 0; j < chunk; ++j) {
                            const long long t = c0 + j;
                            if (t >= s1)
                                break;
                            const float p = std::exp2(s[static_cast<std::size_t>(j)] * scaleLog2 - base);
                            sum += p;
                            const float pr = roundToBf16(p);
                            const std::uint16_t* v = cacheRow(a, a.vCache, b, t, kvh);
                            for (int d = 0; d < dim; ++d)
                                st.o[static_cast<std::size_t>(d)] += pr * bf16ToFloat(v[d]);
                        }
                        st.l = st.l * alpha + sum;
                        st.m = mNew;
                    }
                    perWarp.push_back(std::move(st));
                }
                State merged{kNegInf, 0.0f, std::vector<float>(static_cast<std::size_t>(dim), 0.0f)};
                float mMax = kNegInf;
                for (const State& st : perWarp)
                    mMax = std::max(mMax, st.m);
                for (const State& st : perWarp) {
                    if (st.m == kNegInf)
                        continue;
                    const float wgt = std::exp2((st.m - mMax) * scaleLog2);
                    merged.l += wgt * st.l;
                    for (int d = 0; d < dim; ++d)
                        merged.o[static_cast<std::size_t>(d)] += wgt * st.o[static_cast<std::size_t>(d)];
                }
                merged.m = mMax * scaleLog2;
                partials.push_back(std::move(merged));
            }
            float mMax = kNegInf;
            for (const State& p : partials)
                mMax = std::max(mMax, p.m);
            float l = 0;
            std::fill(o.begin(), o.end(), 0.0f);
            for (const State& p : partials) {
                const float w = std::exp2(p.m - mMax);
                l += w * p.l;
                for (int d = 0; d < dim; ++d)
                    o[static_cast<std::size_t>(d)] += w * p.o[static_cast<std::size_t>(d)];
            }
            for (int d = 0; d < dim; ++d)
                dst[d] = floatToBf16(l > 0 ? o[static_cast<std::size_t>(d)] / l : 0.0f);
        }
    }
}

std::vector<float> attentionDecodeReference(const DecodeAttention& a)
{
    const int dim = a.headDim;
    const int group = a.numQHeads / a.numKvHeads;
    std::vector<float> out(static_cast<std::size_t>(a.batch) * a.numQHeads * dim, 0.0f);
    std::vector<double> o(static_cast<std::size_t>(dim));
    for (int b = 0; b < a.batch; ++b) {
        const int len = a.seqLens[b];
        if (len <= 0)
            continue;
        const long long start = decodeStart(a, len);
        for (int h = 0; h < a.numQHeads; ++h) {
            const int kvh = h / group;
            const std::uint16_t* q = a.q + (static_cast<long long>(b) * a.numQHeads + h) * dim;
            std::vector<double> s;
            double mx = -std::numeric_limits<double>::infinity();
            for (long long t = start; t < len; ++t) {
                s.push_back(dotBf16Double(q, cacheRow(a, a.kCache, b, t, kvh), dim) * a.scale);
                mx = std::max(mx, s.back());
            }
            double sum = 0;
            std::fill(o.begin(), o.end(), 0.0);
            for (long long t = start; t < len; ++t) {
                const double p = std::exp(s[static_cast<std::size_t>(t - start)] - mx);
                sum += p;
                const std::uint16_t* v = cacheRow(a, a.vCache, b, t, kvh);
                for (int d = 0; d < dim; ++d)
                    o[static_cast<std::size_t>(d)] += p * bf16ToFloat(v[d]);
            }
            float* dst = out.data() + (static_cast<std::size_t>(b) * a.numQHeads + h) * dim;
            for (int d = 0; d < dim; ++d)
                dst[d] = static_cast<float>(o[static_cast<std::size_t>(d)] / sum);
        }
    }
    return out;
}

} // namespace quire::inference::cuda::twins
