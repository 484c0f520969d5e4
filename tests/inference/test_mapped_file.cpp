#include <QTemporaryDir>
#include <QTest>

#include <fstream>
#include <string>
#include <vector>

#include "quire/inference/log.h"
#include "quire/inference/mapped_file.h"

using namespace quire::inference;

class TestMappedFile : public QObject {
    Q_OBJECT
private slots:
    void mapsTheWholeFile()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/w.bin";
        std::vector<char> data(1 << 20);
        for (size_t i = 0; i < data.size(); ++i)
            data[i] = static_cast<char>(i * 31 + 7);
        std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
        auto f = MappedFile::open(path);
        QVERIFY(f.has_value());
        QCOMPARE(f->size(), data.size());
        QVERIFY(std::memcmp(f->bytes().data(), data.data(), data.size()) == 0);
        MappedFile moved = std::move(*f);
        QCOMPARE(moved.size(), data.size());
        QCOMPARE(static_cast<char>(moved.bytes()[12345]), data[12345]);
    }
    void reportsMissingFilesAndFolders()
    {
        QTemporaryDir dir;
        auto missing = MappedFile::open(dir.path().toStdString() + "/absent.gguf");
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, ErrorCode::Io);
        QVERIFY(missing.error().message.find("absent.gguf") != std::string::npos);
        auto folder = MappedFile::open(dir.path().toStdString());
        QVERIFY(!folder);
    }
    void logCallbackReceivesMessages()
    {
        std::vector<std::pair<LogLevel, std::string>> seen;
        setLogCallback([&](LogLevel l, std::string_view m) { seen.emplace_back(l, std::string(m)); });
        logMessage(LogLevel::Warn, "weights are f16");
        setLogCallback({});
        logMessage(LogLevel::Error, "silenced");
        QCOMPARE(seen.size(), size_t(1));
        QCOMPARE(seen[0].first, LogLevel::Warn);
        QCOMPARE(seen[0].second, std::string("weights are f16"));
    }
};

QTEST_GUILESS_MAIN(TestMappedFile)
#include "test_mapped_file.moc"
