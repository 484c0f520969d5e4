// The engine's JSON reader and the safetensors reader: valid files, shards, and malformed input
// that must give clear errors (never a crash).
#include <QTemporaryDir>
#include <QTest>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "quire/inference/json.h"
#include "quire/inference/safetensors.h"

using namespace quire::inference;

namespace {

// Writes a safetensors file: header JSON as given, then `data` bytes.
void writeFile(const std::string& path, const std::string& header, const std::vector<char>& data,
               std::int64_t headerLenOverride = -1)
{
    std::ofstream out(path, std::ios::binary);
    const std::uint64_t n = headerLenOverride >= 0 ? std::uint64_t(headerLenOverride) : header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header;
    out.write(data.data(), std::streamsize(data.size()));
}

std::vector<char> floatBytes(std::initializer_list<float> v)
{
    std::vector<char> out(v.size() * 4);
    std::memcpy(out.data(), std::data(v), out.size());
    return out;
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
private slots:
    void jsonParsesDocuments()
    {
        auto j = Json::parse(" {\"a\": [1, 2.5, -3e2, true, false, null], \"s\": "
                             "\"x\\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00\", \"o\": {}} ");
        QVERIFY(j.has_value());
        const auto* a = j->find("a")->asArray();
        QCOMPARE(a->size(), std::size_t(6));
        QCOMPARE(*(*a)[1].asNumber(), 2.5);
        QCOMPARE(*(*a)[2].asInt(), std::int64_t(-300));
        QVERIFY(!(*a)[1].asInt());
        QVERIFY(*(*a)[3].asBool());
        QVERIFY((*a)[5].isNull());
        QCOMPARE(*j->find("s")->asString(), std::string("x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80"));
        QVERIFY(j->find("o")->isObject());
        QVERIFY(!j->find("missing"));
    }

    void jsonRejectsBadInput()
    {
        for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "tru", "01x", "{\"a\":1} x",
                                "\"\\ud800\"", "[\"\x01\"]", "-", "1.", "1e"}) {
            auto j = Json::parse(bad);
            QVERIFY2(!j, bad);
            QCOMPARE(j.error().code, ErrorCode::Format);
            QVERIFY(j.error().message.find("byte") != std::string::npos);
        }
        const std::string deep(100000, '[');
        QVERIFY(!Json::parse(deep)); // depth limit, no stack overflow
    }

    void readsTensors()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/model.safetensors";
        writeFile(path,
                  "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_"
                  "offsets\":[0,16]},"
                  "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]}}",
                  [] {
                      auto v = floatBytes({1, 2, 3, 4});
                      v.insert(v.end(), {char(0x80), char(0x3F), char(0x00), char(0x40)}); // bf16 1, 2
                      return v;
                  }());
        auto f = SafetensorsFile::open(path);
        QVERIFY2(f.has_value(), f ? "" : f.error().message.c_str());
        const SafeTensor* w = f->tensor("w");
        QVERIFY(w);
        QCOMPARE(w->shape, (std::vector<std::int64_t>{2, 2}));
        QCOMPARE(*w->type, GgmlType::F32);
        float v[4];
        std::memcpy(v, w->data.data(), 16);
        QCOMPARE(v[3], 4.0f);
        QCOMPARE(*f->tensor("b")->type, GgmlType::BF16);
        QCOMPARE(f->metadata().at("format"), std::string("pt"));

        auto set = SafetensorsSet::open(dir.path().toStdString());
        QVERIFY(set.has_value());
        QVERIFY(set->tensor("w"));
        QCOMPARE(set->names().size(), std::size_t(2));
    }

    void joinsShards()
    {
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        writeFile(d + "/a.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                  floatBytes({7}));
        writeFile(d + "/b.safetensors", "{\"y\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
                  floatBytes({0}));
        std::ofstream(d + "/model.safetensors.index.json")
            << "{\"metadata\":{},\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"}}";
        auto set = SafetensorsSet::open(d);
        QVERIFY2(set.has_value(), set ? "" : set.error().message.c_str());
        QCOMPARE(set->shardCount(), std::size_t(2));
        QVERIFY(set->tensor("x") && set->tensor("y"));
        // A shard name that escapes the folder is refused.
        std::ofstream(d + "/model.safetensors.index.json", std::ios::trunc)
            << "{\"weight_map\":{\"x\":\"../a.safetensors\"}}";
        QVERIFY(!SafetensorsSet::open(d));
    }

    void malformedFilesGiveClearErrors_data()
    {
        QTest::addColumn<QString>("header");
        QTest::addColumn<int>("dataBytes");
        QTest::addColumn<qint64>("headerLen");
        QTest::addColumn<QString>("expect");
        QTest::newRow("past the end") << "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}"
                                      << 8 << qint64(-1) << "past the end";
        QTest::newRow("shape mismatch") << "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}"
                                        << 16 << qint64(-1) << "does not match";
        QTest::newRow("absurd shape") << "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}"
                                      << 4 << qint64(-1) << "absurd";
        QTest::newRow("unknown dtype") << "{\"w\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                                       << 4 << qint64(-1) << "unknown dtype";
        QTest::newRow("missing fields") << "{\"w\":{\"dtype\":\"F32\"}}" << 0 << qint64(-1) << "lacks";
        QTest::newRow("bad json") << "{\"w\":" << 0 << qint64(-1) << "bad header";
        QTest::newRow("header too long") << "{}" << 0 << qint64(30) << "header length";
        QTest::newRow("reversed offsets")
            << "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}" << 4 << qint64(-1)
            << "past the end";
    }

    void malformedFilesGiveClearErrors()
    {
        QFETCH(QString, header);
        QFETCH(int, dataBytes);
        QFETCH(qint64, headerLen);
        QFETCH(QString, expect);
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/bad.safetensors";
        writeFile(path, header.toStdString(), std::vector<char>(std::size_t(dataBytes)), headerLen);
        auto f = SafetensorsFile::open(path);
        QVERIFY(!f);
        QCOMPARE(f.error().code, ErrorCode::Format);
        QVERIFY2(f.error().message.find(expect.toStdString()) != std::string::npos,
                 f.error().message.c_str());
        QVERIFY(f.error().message.find("bad.safetensors") != std::string::npos);
    }

    void truncatedFile()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/t.safetensors";
        std::ofstream(path, std::ios::binary) << "abc";
        auto f = SafetensorsFile::open(path);
        QVERIFY(!f);
        QVERIFY(f.error().message.find("truncated") != std::string::npos);
        QVERIFY(!SafetensorsSet::open(dir.path().toStdString() + "/nothing"));
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
