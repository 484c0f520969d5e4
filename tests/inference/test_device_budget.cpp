// Context sizing within a device memory budget (device_budget.h): the arithmetic the CUDA runners
// use to pick their default context and to refuse a longer one, checked against numbers written
// out by hand.
#include <QTest>

#include "quire/inference/device_budget.h"

using namespace quire::inference;

namespace {

constexpr std::uint64_t kMiB = std::uint64_t(1) << 20;

} // namespace

class TestDeviceBudget : public QObject {
    Q_OBJECT
private slots:
    void budgetCapsTheFreeMemory()
    {
        QCOMPARE(budgetedFreeBytes(80 * kMiB, 0), 80 * kMiB);         // no budget: all that is free
        QCOMPARE(budgetedFreeBytes(80 * kMiB, 30 * kMiB), 30 * kMiB); // a smaller budget wins
        QCOMPARE(budgetedFreeBytes(80 * kMiB, 90 * kMiB), 80 * kMiB); // never more than is free
    }

    void kvBytesPerTokenByHand()
    {
        // SmolLM2-135M: 30 layers, 3 KV heads of 64 -> K and V of 192 values per layer.
        QCOMPARE(kvBytesPerToken(30, 192, KvDtype::BF16), std::uint64_t(30 * 2 * 192 * 2));
        QCOMPARE(kvBytesPerToken(30, 192, KvDtype::F32), std::uint64_t(30 * 2 * 192 * 4));
        // Llama 4 Scout's 12 global layers in fp8: 24 KiB per token.
        QCOMPARE(kvBytesPerToken(12, 1024, KvDtype::Fp8E4M3), std::uint64_t(24576));
    }

    void contextBytesRoundUpToTheGranularity()
    {
        const DeviceContextCost c{
            .availableBytes = 0, .fixedBytes = 1000, .bytesPerToken = 10, .granularity = 64};
        QCOMPARE(contextBytes(c, 1), std::uint64_t(1000 + 64 * 10));
        QCOMPARE(contextBytes(c, 64), std::uint64_t(1000 + 64 * 10));
        QCOMPARE(contextBytes(c, 65), std::uint64_t(1000 + 128 * 10));
        QCOMPARE(contextBytes(c, 0), std::uint64_t(1000));
    }

    void longestContextFitsTheBudget()
    {
        DeviceContextCost c{
            .availableBytes = 100000, .fixedBytes = 20000, .bytesPerToken = 100, .granularity = 64};
        // (100000 - 20000) / 100 = 800 tokens, down to a multiple of 64: 768.
        QCOMPARE(longestContext(c, 0), std::int64_t(768));
        QVERIFY(contextBytes(c, 768) <= c.availableBytes);
        QVERIFY(contextBytes(c, 769) > c.availableBytes);
        // The model's length caps it, and a cap that fits is taken as it is.
        QCOMPARE(longestContext(c, 500), std::int64_t(500));
        QCOMPARE(longestContext(c, 2048), std::int64_t(768));
        // Working memory alone over the budget: nothing fits.
        c.fixedBytes = 100001;
        QCOMPARE(longestContext(c, 0), std::int64_t(0));
    }

    void chooseTakesTheRequestOrTheLongestAndRefusesWithNumbers()
    {
        const DeviceContextCost c{
            .availableBytes = 64 * kMiB, .fixedBytes = 16 * kMiB, .bytesPerToken = 23040, .granularity = 64};
        // 48 MiB / 23040 B = 2184.5 -> 2176 tokens.
        auto d = chooseDeviceContext(c, 0, 8192, "the cuda backend's KV cache");
        QVERIFY(d.has_value());
        QCOMPARE(*d, 2176);
        QCOMPARE(*chooseDeviceContext(c, 0, 1000, "x"), 1000); // capped at the model's length
        QCOMPARE(*chooseDeviceContext(c, 2000, 8192, "x"), 2000);
        auto r = chooseDeviceContext(c, 4096, 8192, "the cuda backend's KV cache");
        QVERIFY(!r.has_value());
        QCOMPARE(r.error().code, ErrorCode::OutOfMemory);
        const QString m = QString::fromStdString(r.error().message);
        QVERIFY2(m.contains("4096 tokens"), qPrintable(m));
        QVERIFY2(m.contains("23040 B per token"), qPrintable(m));
        QVERIFY2(m.contains("0.06 GiB are available"), qPrintable(m));
        QVERIFY2(m.contains("at most 2176 tokens"), qPrintable(m));
        QVERIFY2(m.startsWith("the cuda backend's KV cache"), qPrintable(m));
        // No room at all.
        const DeviceContextCost full{
            .availableBytes = kMiB, .fixedBytes = 2 * kMiB, .bytesPerToken = 1, .granularity = 1};
        auto none = chooseDeviceContext(full, 0, 8192, "x");
        QVERIFY(!none.has_value());
        QVERIFY(QString::fromStdString(none.error().message).contains("no context fits"));
    }
};

QTEST_GUILESS_MAIN(TestDeviceBudget)
#include "test_device_budget.moc"
