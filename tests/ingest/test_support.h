// Small helpers shared by the ingest tests: writing files into a temporary folder.
#pragma once

#include <QTemporaryDir>
#include <QTest>

#include <string>

#include <filesystem>
#include <fstream>
#include <string_view>

namespace quire::ingest::test {

inline std::filesystem::path root(const QTemporaryDir& dir)
{
    return std::filesystem::path(dir.path().toStdString());
}

inline std::filesystem::path writeFile(const std::filesystem::path& path, std::string_view bytes)
{
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

} // namespace quire::ingest::test

// Readable QCOMPARE failure messages for the standard and model types used in these tests.
namespace QTest {
template <> inline char* toString(const std::string& s)
{
    return QTest::toString(QString::fromStdString(s));
}
} // namespace QTest

// QCOMPARE on SourceKind/SourceStatus values would call quire::ingest::toString() (found by
// argument-dependent lookup) and free its static string; compare the names instead.
#define QUIRE_COMPARE_ENUM(actual, expected)                                                                 \
    QCOMPARE(std::string(quire::ingest::toString(actual)), std::string(quire::ingest::toString(expected)))
