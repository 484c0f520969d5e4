// The Llama 4 GPU memory plan with Scout's real hyperparameters (tests/data/llama4/scout_config,
// a config.json alone) on an 80 GB card, every figure checked against arithmetic written out here,
// and the refusal of contexts that do not fit.
#include <QTest>

#include <fstream>
#include <sstream>
#include <string>

#include "quire/inference/device_budget.h"
#include "quire/inference/llama4_memory_plan.h"

using namespace quire::inference;

namespace {

constexpr std::uint64_t kGiB = std::uint64_t(1) << 30;

Llama4Config scout()
{
    std::ifstream in(std::string(QUIRE_TEST_DATA_DIR) + "/llama4/scout_config/config.json");
    std::stringstream text;
    text << in.rdbuf();
    auto c = parseLlama4Config(text.str());
    if (!c)
        qFatal("%s", c.error().message.c_str());
    return *c;
}

// An H100 80GB reports 81559 MiB; after the CUDA context about 79 GiB are free.
Llama4MemoryPlanOptions h100(std::uint64_t hostGiB = 0)
{
    Llama4MemoryPlanOptions o;
    o.deviceFreeBytes = 79 * kGiB;
    o.hostKvBytes = hostGiB * kGiB;
    return o;
}

} // namespace

class TestLlama4MemoryPlan : public QObject {
    Q_OBJECT
private slots:
    void scoutWeightsByHand()
    {
        const auto p = planLlama4Memory(scout(), h100());
        // Embedding bf16: 202048 x 5120 x 2 B.
        QCOMPARE(p.weights.embeddingBytes, std::uint64_t(2068971520));
        // LM head bf16: 202048 x 5120 x 2 B.
        QCOMPARE(p.weights.lmHeadBytes, std::uint64_t(2068971520));
        // Attention bf16: per layer q and o [5120 x 5120], k and v [1024 x 5120].
        QCOMPARE(p.weights.attentionBytes, std::uint64_t(48) * (5120 + 1024 + 1024 + 5120) * 5120 * 2);
        // Experts int4 group 128: per expert gate and up have 8192 rows of 5120 inputs (2560 B of
        // nibbles + 40 f32 scales = 2720 B), down 5120 rows of 8192 inputs (4096 + 64 x 4 = 4352 B).
        QCOMPARE(p.weights.expertBytes, std::uint64_t(48) * 16 * (2 * 8192 * 2720 + 5120 * 4352));
        QCOMPARE(p.weights.expertBytes, std::uint64_t(51338280960));
        // Shared expert bf16: three 8192 x 5120 matrices per layer.
        QCOMPARE(p.weights.sharedFfnBytes, std::uint64_t(48) * 3 * 8192 * 5120 * 2);
        // Norms (2 per layer + final) and routers [16 x 5120], f32.
        QCOMPARE(p.weights.otherBytes, std::uint64_t(5120 * 4 + 48 * (2 * 5120 * 4 + 16 * 5120 * 4)));
        QCOMPARE(p.weightBytes, std::uint64_t(73613332480)); // 68.56 GiB: fits an 80 GB card
    }

    void scoutKvAndWorkingByHand()
    {
        const auto p = planLlama4Memory(scout(), h100());
        QCOMPARE(p.globalLayers, 12);
        QCOMPARE(p.chunkedLayers, 36);
        // fp8 K and V of 8 heads x 128 in 12 layers: 24 KiB per token.
        QCOMPARE(p.globalKvBytesPerToken, std::uint64_t(12 * 2 * 1024));
        // A page of 128 tokens: 3 MiB of data + an f32 scale per (layer, K|V, head) = 768 B.
        QCOMPARE(p.globalKvScaleBytesPerPage, std::uint64_t(768));
        QCOMPARE(p.globalKvBytesPerPage, std::uint64_t(3146496));
        // Prefill reads one layer's K and V through bf16: 2 x 1024 x 2 B per token, 512 KiB per page.
        QCOMPARE(p.stagingBytesPerPage, std::uint64_t(2 * 1024 * 2 * 128));
        // The bf16 ring of one 8192-token chunk in each of 36 layers: 1.125 GiB.
        QCOMPARE(p.chunkedRingBytes, std::uint64_t(36) * 2 * 1024 * 2 * 8192);
        // fp8 decode partials: 40 query heads x (128 + 2) f32 per split of 256 keys, 10400 B per page.
        QCOMPARE(p.decodeWorkspaceBytesPerPage, std::uint64_t(40 * 130 * 4 * 128 / 256));
        // Per prefill token, the CUDA runner's buffers: the f32 residual 4 x 5120; bf16 norm output,
        // attention delta, shared-expert output and FFN output 4 x 5120, q|k|v 5120 + 2 x 1024, attention
        // output 5120, shared gate|up and SwiGLU 3 x 8192 (Scout has no dense layer: its 16384-wide
        // intermediate_size_mlp is not counted); the MoE's permuted input and output 2 x 5120, gate|up and
        // SwiGLU 3 x 8192; 16 f32 router logits (64), id, score, slot (12) and the step inputs (12).
        QCOMPARE(p.workingBytesPerToken,
                 std::uint64_t(4 * 5120 + 2 * (4 * 5120 + 5120 + 2 * 1024 + 5120 + 3 * 8192) +
                               2 * (2 * 5120 + 3 * 8192) + 64 + 12 + 12));
        QCOMPARE(p.workingBytesPerToken, std::uint64_t(204888));
        // x 8192 tokens + 256 rows of f32 logits (256 x 202048 x 4) + 512 MiB reserve, + the wide MoE
        // path of an 8192-token pass: one expert's gate|up in bf16 (2 x 16384 x 5120) and 64 rows more.
        QCOMPARE(p.workingBytes, std::uint64_t(204888) * 8192 + 256 * 202048 * 4 + 512 * (1 << 20) +
                                     2 * 16384 * 5120 + 64 * 204888);
        QCOMPARE(p.workingBytes, std::uint64_t(2603095552));
    }

    void scoutMaxContextOnH100()
    {
        const auto p = planLlama4Memory(scout(), h100());
        QVERIFY(p.weightsFit);
        // 79 GiB - 73613332480 - 1207959552 - 2603095552 = 7401216512 B (6.89 GiB) for pages of
        // 3146496 B + 524288 B of staging + 10400 B of decode partials: floor(7401216512 / 3681184) = 2010
        // pages = 257280 tokens.
        QCOMPARE(p.fixedBytes, std::uint64_t(73613332480) + 1207959552 + 2603095552);
        QCOMPARE(p.gpuKvBytes, std::uint64_t(7401216512));
        QCOMPARE(p.gpuPages, std::int64_t(2010));
        QCOMPARE(p.maxContextGpu, std::int64_t(257280));
        QCOMPARE(p.maxContextTotal, std::int64_t(257280)); // no host memory configured
        QCOMPARE(p.globalKvBytes(257280), std::uint64_t(2010) * 3146496);
        QVERIFY(checkLlama4Context(p, 257280).has_value());
        QVERIFY(!checkLlama4Context(p, 257280 + 128).has_value());
        QVERIFY(checkLlama4Context(p, 131072).has_value());

        // 64 GiB of host memory hold floor(68719476736 / 3146496) = 21840 pages, but their staging and
        // decode partials on the GPU are limited to floor(7401216512 / (524288 + 10400)) = 13842 pages, which
        // leaves no room for pages on the GPU: 13842 x 128 = 1771776 tokens.
        const auto h = planLlama4Memory(scout(), h100(64));
        QCOMPARE(h.hostPages, std::int64_t(13842));
        QCOMPARE(h.maxContextGpu, std::int64_t(257280));
        QCOMPARE(h.maxContextTotal, std::int64_t(1771776));
        QVERIFY(checkLlama4Context(h, 1 << 20).has_value());
        // 16 GiB: floor(17179869184 / 3146496) = 5460 host pages, their device part 5460 x 534688 =
        // 2919396480 B, then floor((7401216512 - 2919396480) / 3681184) = 1217 device pages: (1217 + 5460) x
        // 128.
        QCOMPARE(planLlama4Memory(scout(), h100(16)).maxContextTotal, std::int64_t((1217 + 5460) * 128));
    }

    // RunnerOptions::deviceMemoryBudget: the CUDA runner plans with min(free, budget) (device_budget.h).
    void aBudgetShrinksTheContext()
    {
        const auto full = planLlama4Memory(scout(), h100());
        const std::uint64_t perPage = full.globalKvBytesPerPage + full.stagingBytesPerPage +
                                      full.decodeWorkspaceBytesPerPage; // 3681184 B
        auto o = h100();
        o.deviceFreeBytes = budgetedFreeBytes(79 * kGiB, full.fixedBytes + 100 * perPage + perPage - 1);
        const auto p = planLlama4Memory(scout(), o);
        QCOMPARE(p.gpuPages, std::int64_t(100));
        QCOMPARE(p.maxContextGpu, std::int64_t(100 * 128));
        QVERIFY(checkLlama4Context(p, 100 * 128).has_value());
        const auto r = checkLlama4Context(p, 100 * 128 + 1);
        QVERIFY(!r.has_value());
        QVERIFY2(QString::fromStdString(r.error().message).contains("room for 12800 tokens"),
                 qPrintable(QString::fromStdString(r.error().message)));
        // A budget over the free memory changes nothing.
        o.deviceFreeBytes = budgetedFreeBytes(79 * kGiB, 200 * kGiB);
        QCOMPARE(planLlama4Memory(scout(), o).maxContextGpu, full.maxContextGpu);
    }

    void tooLongContextIsRefusedWithNumbers()
    {
        const auto p = planLlama4Memory(scout(), h100());
        const auto r = checkLlama4Context(p, 1 << 20);
        QVERIFY(!r.has_value());
        QCOMPARE(r.error().code, ErrorCode::OutOfMemory);
        const QString m = QString::fromStdString(r.error().message);
        QVERIFY2(m.contains("1048576 tokens"), qPrintable(m));
        QVERIFY2(m.contains("room for 257280 tokens"), qPrintable(m));
        QVERIFY2(m.contains("at most 257280"), qPrintable(m));
        QVERIFY2(m.contains("24.01 GiB"), qPrintable(m)); // 8192 pages x 3146496 B
        QVERIFY2(m.contains("4.00 GiB of bf16 staging"), qPrintable(m));
        // Host memory is a plan only: the refusal does not offer it.
        QVERIFY2(!m.contains("--host-memory"), qPrintable(m));

        // Past the model's positions: refused whatever the memory.
        auto big = h100(100000);
        big.deviceFreeBytes = 10000 * kGiB;
        const auto h = planLlama4Memory(scout(), big);
        QCOMPARE(h.maxContextTotal, std::int64_t(10485760));
        QCOMPARE(checkLlama4Context(h, 10485761).error().code, ErrorCode::InvalidArgument);
    }

    void weightsThatDoNotFitAreRefused()
    {
        auto o = h100();
        o.deviceFreeBytes = 40 * kGiB; // a 40 GB card
        const auto p = planLlama4Memory(scout(), o);
        QVERIFY(!p.weightsFit);
        QCOMPARE(p.maxContextGpu, std::int64_t(0));
        const auto r = checkLlama4Context(p, 1000);
        QVERIFY(!r.has_value());
        QVERIFY(QString::fromStdString(r.error().message).contains("does not fit on the GPU"));
        QVERIFY(QString::fromStdString(p.describe()).contains("does not fit"));

        // All-bf16 weights (216 GB) do not fit an 80 GB card either.
        auto bf16 = h100();
        bf16.quantization = Llama4Quantization{};
        QVERIFY(!planLlama4Memory(scout(), bf16).weightsFit);
        // The int4-fp8 preset (shared expert int4 too) leaves more room for KV than the default.
        auto small = h100();
        small.quantization = *Llama4Quantization::preset("int4-fp8");
        QVERIFY(planLlama4Memory(scout(), small).maxContextGpu > 257280);
        // bf16 global KV: 48 KiB per token, no staging, no fp8 decode partials.
        auto wide = h100();
        wide.globalKvBytes = 2;
        const auto w = planLlama4Memory(scout(), wide);
        QCOMPARE(w.stagingBytesPerPage, std::uint64_t(0));
        QCOMPARE(w.decodeWorkspaceBytesPerPage, std::uint64_t(0));
        QCOMPARE(w.globalKvBytesPerPage, std::uint64_t(12 * 2 * 1024 * 2 * 128 + 768));
        QCOMPARE(w.gpuPages, std::int64_t(7401216512 / (12 * 2 * 1024 * 2 * 128 + 768)));
    }
};

QTEST_GUILESS_MAIN(TestLlama4MemoryPlan)
#include "test_llama4_memory_plan.moc"
