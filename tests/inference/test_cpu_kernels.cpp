// The CPU kernels: every quantized and float matrix product, scalar and AVX2, against an f64
// dot product of the dequantised weights, on fresh random inputs with the output poisoned first.
#include <QTest>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/thread_pool.h"
#include "quire/inference/quant.h"

using namespace quire::inference;
using namespace quire::inference::cpu;

namespace {

// Random weights of `type`: random bytes with sane half-precision scales.
std::vector<std::byte> randomWeights(GgmlType type, int rows, int cols, std::mt19937& rng)
{
    const auto bytesPerRow = *rowBytes(type, cols);
    std::vector<std::byte> w(bytesPerRow * std::size_t(rows));
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : w)
        b = std::byte(byte(rng));
    std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
    auto setHalf = [&](std::size_t offset) {
        const std::uint16_t h = fp32ToFp16(scale(rng));
        std::memcpy(w.data() + offset, &h, 2);
    };
    const auto [blockElems, blockBytes] = *weightBlockLayout(type);
    if (type == GgmlType::F16 || type == GgmlType::BF16 || type == GgmlType::F32) {
        std::normal_distribution<float> nd(0, 0.05f);
        for (std::size_t i = 0; i < w.size() / (type == GgmlType::F32 ? 4 : 2); ++i) {
            const float v = nd(rng);
            if (type == GgmlType::F32)
                std::memcpy(w.data() + 4 * i, &v, 4);
            else {
                const std::uint16_t h = type == GgmlType::F16 ? fp32ToFp16(v) : fp32ToBf16(v);
                std::memcpy(w.data() + 2 * i, &h, 2);
            }
        }
        return w;
    }
    (void)blockElems;
    for (std::size_t b = 0; b < w.size() / blockBytes; ++b) {
        const std::size_t o = b * blockBytes;
        switch (type) {
        case GgmlType::Q4_0:
        case GgmlType::Q8_0:
            setHalf(o);
            break;
        case GgmlType::Q4_1:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
            setHalf(o);
            setHalf(o + 2);
            break;
        case GgmlType::Q6_K:
            setHalf(o + 208);
            break;
        default:
            break;
        }
    }
    return w;
}

struct Case {
    GgmlType type;
    int rows, cols, nTok;
};

// Runs kernel table k on the case; returns the worst error relative to the row's f64 result
// scale, and fails if an output was left unwritten.
double runCase(const Kernels& k, const Case& c, std::mt19937& rng, bool accumulate,
               std::vector<float>* outCopy = nullptr, std::uint32_t seed = 0)
{
    std::mt19937 local(seed);
    std::mt19937& r = seed ? local : rng;
    const auto w = randomWeights(c.type, c.rows, c.cols, r);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> x(std::size_t(c.nTok) * std::size_t(c.cols));
    for (auto& v : x)
        v = nd(r);
    x[3] = 40.0f; // an outlier, as real activations have

    MatmulArgs a;
    a.w = w.data();
    a.wRowBytes = *rowBytes(c.type, c.cols);
    a.cols = c.cols;
    a.nTok = c.nTok;
    std::vector<BlockQ16A> xq;
    if (usesQ16Activations(c.type)) {
        xq.resize(std::size_t(c.nTok) * std::size_t(c.cols / 32));
        for (int t = 0; t < c.nTok; ++t)
            k.quantizeQ16A(x.data() + std::size_t(t * c.cols), xq.data() + std::size_t(t * c.cols / 32),
                           c.cols);
        a.x = reinterpret_cast<const std::byte*>(xq.data());
        a.xStride = std::size_t(c.cols / 32) * sizeof(BlockQ16A);
    } else {
        a.x = reinterpret_cast<const std::byte*>(x.data());
        a.xStride = std::size_t(c.cols) * sizeof(float);
    }
    const std::size_t ld = std::size_t(c.rows) + 3;
    std::vector<float> out(ld * std::size_t(c.nTok), accumulate ? 1.0f : NAN);
    a.out = out.data();
    a.ldOut = ld;
    a.accumulate = accumulate;
    const MatmulFn fn = usesQ16Activations(c.type) ? k.matmulQ16A[int(c.type)] : k.matmulF32[int(c.type)];
    if (!fn)
        qFatal("no kernel");
    // Two calls on split row ranges, as threads do.
    fn(a, 0, c.rows / 2);
    fn(a, c.rows / 2, c.rows);

    std::vector<float> row(std::size_t(c.cols));
    double worst = 0;
    for (int i = 0; i < c.rows; ++i) {
        (void)dequantizeRow(c.type, w.data() + std::size_t(i) * a.wRowBytes, row.data(), c.cols);
        for (int t = 0; t < c.nTok; ++t) {
            double ref = 0, scale = 0;
            for (int j = 0; j < c.cols; ++j) {
                ref += double(row[std::size_t(j)]) * x[std::size_t(t * c.cols + j)];
                scale += std::fabs(double(row[std::size_t(j)]) * x[std::size_t(t * c.cols + j)]);
            }
            const double got = out[std::size_t(t) * ld + std::size_t(i)] - (accumulate ? 1.0 : 0.0);
            const double err = std::fabs(got - ref) / std::max(scale, 1e-9);
            if (!(err <= worst))
                worst = std::isnan(err) ? INFINITY : err;
        }
    }
    for (int t = 0; t < c.nTok; ++t) // the padding past the rows is untouched
        for (std::size_t i = std::size_t(c.rows); i < ld; ++i)
            if (!(accumulate ? out[std::size_t(t) * ld + i] == 1.0f
                             : std::isnan(out[std::size_t(t) * ld + i])))
                return INFINITY;
    if (outCopy)
        *outCopy = out;
    return worst;
}

const GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K,
                           GgmlType::Q6_K, GgmlType::F32,  GgmlType::F16,  GgmlType::BF16};

} // namespace

class TestCpuKernels : public QObject {
    Q_OBJECT
private slots:
    void productsMatchF64()
    {
        std::mt19937 rng(std::random_device{}());
        std::vector<const Kernels*> tables = {&scalarKernels()};
        if (avx2Kernels())
            tables.push_back(avx2Kernels());
        for (const Kernels* k : tables)
            for (const GgmlType type : kTypes)
                for (const int nTok : {1, 3, 4, 9})
                    for (const bool acc : {false, true}) {
                        const Case c{type, 19, 512, nTok};
                        const double err = runCase(*k, c, rng, acc);
                        // int16 activations: ~1e-4 of the absolute-product scale at worst.
                        QVERIFY2(err < 2e-4, qPrintable(QString("%1 %2 nTok=%3: relative error %4")
                                                            .arg(k->name)
                                                            .arg(toString(type))
                                                            .arg(nTok)
                                                            .arg(err)));
                    }
    }

    void avx2AgreesWithScalar()
    {
        if (!avx2Kernels())
            QSKIP("this CPU has no AVX2/FMA/F16C");
        std::mt19937 rng(1);
        for (const GgmlType type : kTypes) {
            std::vector<float> a, b;
            const std::uint32_t seed = std::random_device{}() | 1u;
            runCase(scalarKernels(), {type, 13, 256, 5}, rng, false, &a, seed);
            runCase(*avx2Kernels(), {type, 13, 256, 5}, rng, false, &b, seed);
            QCOMPARE(a.size(), b.size());
            for (std::size_t i = 0; i < a.size(); ++i)
                if (!std::isnan(a[i]))
                    QVERIFY2(std::fabs(a[i] - b[i]) <= 1e-4f * (1.0f + std::fabs(a[i])),
                             qPrintable(QString("%1: %2 vs %3").arg(toString(type)).arg(a[i]).arg(b[i])));
        }
    }

    void quantizeQ16AIsExactAndIdentical()
    {
        std::mt19937 rng(std::random_device{}());
        std::normal_distribution<float> nd(0, 3);
        std::vector<float> x(256);
        for (auto& v : x)
            v = nd(rng);
        std::fill(x.begin() + 64, x.begin() + 96, 0.0f); // an all-zero block
        std::vector<BlockQ16A> s(8), v(8);
        scalarKernels().quantizeQ16A(x.data(), s.data(), 256);
        for (int b = 0; b < 8; ++b) {
            int sum = 0;
            for (int j = 0; j < 32; ++j) {
                QVERIFY(std::fabs(s[std::size_t(b)].d * s[std::size_t(b)].qs[j] -
                                  x[std::size_t(b * 32 + j)]) <= s[std::size_t(b)].d * 0.501f + 1e-12f);
                sum += s[std::size_t(b)].qs[j];
            }
            QCOMPARE(s[std::size_t(b)].s, s[std::size_t(b)].d * float(sum));
        }
        QCOMPARE(s[2].d, 0.0f);
        if (const Kernels* k = avx2Kernels()) {
            k->quantizeQ16A(x.data(), v.data(), 256);
            QVERIFY(std::memcmp(s.data(), v.data(), sizeof(BlockQ16A) * 8) == 0);
        }
    }

    void vectorHelpers()
    {
        std::vector<const Kernels*> tables = {&scalarKernels()};
        if (avx2Kernels())
            tables.push_back(avx2Kernels());
        for (const Kernels* k : tables) {
            std::vector<float> a(37), b(37), y(37, 1.0f);
            for (std::size_t i = 0; i < a.size(); ++i) {
                a[i] = float(i) * 0.1f - 1.5f;
                b[i] = 2.0f - float(i) * 0.05f;
            }
            double ref = 0;
            for (std::size_t i = 0; i < a.size(); ++i)
                ref += double(a[i]) * b[i];
            QVERIFY(std::fabs(k->dot(a.data(), b.data(), 37) - ref) < 1e-4);
            k->axpy(2.0f, a.data(), y.data(), 37);
            QVERIFY(std::fabs(y[36] - (1.0f + 2.0f * a[36])) < 1e-6f);
            std::vector<float> e = {-100.0f, -3.0f, 0.0f,   -0.5f,  -20.0f, -1.0f,
                                    -7.5f,   -2.0f, -0.01f, -60.0f, -88.5f};
            const std::vector<float> orig = e;
            const float sum = k->expSum(e.data(), std::int64_t(e.size()), 0.0f);
            double refSum = 0;
            for (std::size_t i = 0; i < e.size(); ++i) {
                const double want = std::exp(double(orig[i]));
                QVERIFY2(std::fabs(e[i] - want) <= 1e-6 * want + 1e-37, qPrintable(QString::number(orig[i])));
                refSum += want;
            }
            QVERIFY(std::fabs(sum - refSum) < 1e-6 * refSum);
            std::vector<float> g = {-30.0f, -2.0f, 0.0f, 0.5f, 3.0f, 12.0f, -0.1f, 7.0f, 1.0f};
            std::vector<float> u(g.size(), 2.0f);
            const std::vector<float> g0 = g;
            k->siluMul(g.data(), u.data(), std::int64_t(g.size()));
            for (std::size_t i = 0; i < g.size(); ++i) {
                const double want = 2.0 * g0[i] / (1.0 + std::exp(-double(g0[i])));
                QVERIFY(std::fabs(g[i] - want) <= 1e-6 * std::fabs(want) + 1e-12);
            }
        }
    }

    void attentionKernels()
    {
        std::vector<const Kernels*> tables = {&scalarKernels()};
        if (avx2Kernels())
            tables.push_back(avx2Kernels());
        std::mt19937 rng(std::random_device{}());
        std::normal_distribution<float> nd(0, 1);
        for (const Kernels* k : tables)
            for (const int hd : {64, 128, 24})
                for (const int n : {1, 5, 37}) {
                    const std::size_t stride = std::size_t(hd) * 3 + 8; // rows of other heads in between
                    std::vector<float> q(static_cast<std::size_t>(hd)),
                        kv(stride * static_cast<std::size_t>(n)), p(static_cast<std::size_t>(n));
                    for (auto* v : {&q, &kv, &p})
                        for (auto& x : *v)
                            x = nd(rng);
                    std::vector<float> scores(std::size_t(n), NAN), out(std::size_t(hd), NAN);
                    k->attnScores(q.data(), kv.data() + 8, stride, n, hd, 0.125f, scores.data());
                    k->attnMix(p.data(), kv.data() + 8, stride, n, hd, out.data());
                    for (int j = 0; j < n; ++j) {
                        double ref = 0;
                        for (int i = 0; i < hd; ++i)
                            ref +=
                                double(q[std::size_t(i)]) * kv[std::size_t(j) * stride + 8 + std::size_t(i)];
                        QVERIFY(std::fabs(scores[std::size_t(j)] - 0.125 * ref) < 1e-4);
                    }
                    for (int i = 0; i < hd; ++i) {
                        double ref = 0;
                        for (int j = 0; j < n; ++j)
                            ref +=
                                double(p[std::size_t(j)]) * kv[std::size_t(j) * stride + 8 + std::size_t(i)];
                        QVERIFY(std::fabs(out[std::size_t(i)] - ref) < 1e-4);
                    }
                }
    }

    void threadPoolRunsEveryPart()
    {
        ThreadPool pool(3);
        std::vector<std::atomic<int>> hits(1000);
        for (int round = 0; round < 200; ++round)
            pool.run([&](int i, int n) {
                const auto [b, e] = ThreadPool::split(1000, i, n, 8);
                for (std::int64_t k = b; k < e; ++k)
                    hits[std::size_t(k)].fetch_add(1);
            });
        for (const auto& h : hits)
            QCOMPARE(h.load(), 200);
        QCOMPARE(ThreadPool::split(10, 2, 3, 4), (std::pair<std::int64_t, std::int64_t>(8, 10)));
        QCOMPARE(ThreadPool::split(17, 0, 2, 8), (std::pair<std::int64_t, std::int64_t>(0, 16)));
    }
};

QTEST_GUILESS_MAIN(TestCpuKernels)
#include "test_cpu_kernels.moc"
