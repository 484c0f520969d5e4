#include <QTest>

#include <algorithm>

#include "quire/ingest/file_kind.h"
#include "quire/ingest/source_scanner.h"
#include "test_support.h"

using namespace quire::ingest;
using quire::ingest::test::writeFile;
namespace fs = std::filesystem;

namespace {
std::vector<std::string> relativeNames(const ScanResult& r, const fs::path& base)
{
    std::vector<std::string> out;
    for (const auto& f : r.files)
        out.push_back(fs::relative(f.path, base).generic_string());
    return out;
}
const ScanIssue* issueFor(const ScanResult& r, const fs::path& p)
{
    for (const auto& i : r.issues)
        if (i.path == p)
            return &i;
    return nullptr;
}
} // namespace

class TestSourceScanner : public QObject {
    Q_OBJECT
private slots:
    void honoursNestedIgnoreFiles()
    {
        QTemporaryDir tmp;
        const fs::path base = quire::ingest::test::root(tmp);
        writeFile(base / ".gitignore", "*.log\nbuild/\n/secret.txt\n!important.log\n");
        writeFile(base / "main.cpp", "int main() {}\n");
        writeFile(base / "debug.log", "noise\n");
        writeFile(base / "important.log", "keep me\n");
        writeFile(base / "secret.txt", "hidden\n");
        writeFile(base / "build/out.txt", "generated\n");
        writeFile(base / "src/build", "a plain file named build is kept\n");
        writeFile(base / "src/secret.txt", "anchored pattern does not reach here\n");
        writeFile(base / "src/.ignore", "*.tmp\n!notes.log\n");
        writeFile(base / "src/a.tmp", "x\n");
        writeFile(base / "src/notes.log", "re-included by the nested file\n");
        writeFile(base / "src/deep/b.tmp", "x\n");
        writeFile(base / "docs/**weird.md", "still text\n");
        writeFile(base / ".git/config", "[core]\n");
        const auto r = scanSources({base});
        const auto names = relativeNames(r, base);
        const std::vector<std::string> expected = {".gitignore",    "docs/**weird.md", "important.log",
                                                   "main.cpp",      "src/.ignore",     "src/build",
                                                   "src/notes.log", "src/secret.txt"};
        QCOMPARE(names, expected);
    }
    void skipsBinaryAndOversizedFiles()
    {
        QTemporaryDir tmp;
        const fs::path base = quire::ingest::test::root(tmp);
        writeFile(base / "blob.bin", std::string("\x7F"
                                                 "ELF\x02\x01\x01\0\0\0\0\0",
                                                 12) +
                                         std::string(100, '\0'));
        writeFile(base / "text.dat", "plain text with an odd extension\n");
        writeFile(base / "big.txt", std::string(5000, 'a'));
        writeFile(base / "utf16.txt", std::string("h\0i\0 \0t\0h\0e\0r\0e\0\n\0", 18));
        ScanOptions options;
        options.maxFileBytes = 4096;
        const auto r = scanSources({base}, options);
        QCOMPARE(relativeNames(r, base), (std::vector<std::string>{"text.dat", "utf16.txt"}));
        const auto* bin = issueFor(r, base / "blob.bin");
        QVERIFY(bin);
        QUIRE_COMPARE_ENUM(bin->status, SourceStatus::Skipped);
        QVERIFY(bin->error.message.find("binary") != std::string::npos);
        const auto* big = issueFor(r, base / "big.txt");
        QVERIFY(big);
        QCOMPARE(big->error.code, ErrorCode::TooLarge);
    }
    void detectsSymlinkLoops()
    {
        QTemporaryDir tmp;
        const fs::path base = quire::ingest::test::root(tmp);
        writeFile(base / "a/file.txt", "hello\n");
        fs::create_directory_symlink("..", base / "a/up");        // a/up -> base: a loop
        fs::create_directory_symlink(base / "a", base / "alias"); // a second way into a/
        fs::create_symlink(base / "missing.txt", base / "dangling.txt");
        const auto r = scanSources({base});
        QCOMPARE(relativeNames(r, base), (std::vector<std::string>{"a/file.txt"}));
        const auto* loop = issueFor(r, base / "a/up");
        QVERIFY(loop);
        QVERIFY(loop->error.message.find("loop") != std::string::npos);
        QVERIFY(issueFor(r, base / "dangling.txt"));
    }
    void explicitFilesAndMissingPaths()
    {
        QTemporaryDir tmp;
        const fs::path base = quire::ingest::test::root(tmp);
        writeFile(base / ".gitignore", "*.txt\n");
        const auto file = writeFile(base / "named.txt", "named explicitly\n");
        const auto r = scanSources({file, base / "nope.txt"});
        QCOMPARE(r.files.size(), size_t(1));
        QUIRE_COMPARE_ENUM(r.files[0].kind, SourceKind::Text);
        const auto* missing = issueFor(r, base / "nope.txt");
        QVERIFY(missing);
        QUIRE_COMPARE_ENUM(missing->status, SourceStatus::Quarantined);
    }
    void pathLists()
    {
        QTemporaryDir tmp;
        const fs::path base = quire::ingest::test::root(tmp);
        writeFile(base / "docs/a.txt", "a\n");
        writeFile(base / "b.md", "b\n");
        const auto list =
            writeFile(base / "list.txt", "# sources\ndocs/a.txt\n\n" + (base / "b.md").string() + "\r\n");
        auto paths = readPathList(list);
        QVERIFY(paths.has_value());
        QCOMPARE(paths->size(), size_t(2));
        QCOMPARE(paths->at(0), base / "docs/a.txt");
        const auto r = scanSources(*paths);
        QCOMPARE(r.files.size(), size_t(2));
        QVERIFY(r.issues.empty());
        QVERIFY(!readPathList(base / "missing.txt").has_value());
    }
    void kindsAndLanguages()
    {
        QUIRE_COMPARE_ENUM(detectKind("a.cpp", "int x;\n"), SourceKind::Code);
        QUIRE_COMPARE_ENUM(detectKind("notes.md", "# title\n"), SourceKind::Text);
        QUIRE_COMPARE_ENUM(detectKind("x.pdf", "%PDF-1.7\n"), SourceKind::Pdf);
        QUIRE_COMPARE_ENUM(detectKind("noext", "%PDF-1.4\n%\xE2\xE3"), SourceKind::Pdf);
        QUIRE_COMPARE_ENUM(detectKind("a.docx", "PK\x03\x04"), SourceKind::Docx);
        QUIRE_COMPARE_ENUM(detectKind("a.mp3", "ID3\x04"), SourceKind::Audio);
        QUIRE_COMPARE_ENUM(detectKind("a.mkv", std::string_view("\x1A\x45\xDF\xA3\x01\0\0", 7)),
                           SourceKind::Video);
        QUIRE_COMPARE_ENUM(detectKind("a.ts", "export const x = 1;\n"),
                           SourceKind::Code); // TypeScript, not MPEG-TS
        // Control bytes: whitespace and ESC are text; more than 10% of anything else is binary,
        // counted across the whole head (blocks of 255 bytes inside).
        std::string text(1000, 'a');
        for (std::size_t i = 0; i < text.size(); i += 7)
            text[i] = "\t\n\v\f\r\x1B"[i % 6];
        QVERIFY(!looksBinary(text));
        std::string control(1000, 'a');
        for (std::size_t i = 0; i < 101; ++i)
            control[i * 9] = static_cast<char>(i % 2 ? 0x01 : 0x1F);
        QVERIFY(looksBinary(control));
        control[900] = 'a'; // exactly 10%: still text
        QVERIFY(!looksBinary(control));
        QVERIFY(!looksBinary(""));
        QCOMPARE(languageForPath("CMakeLists.txt"), std::string("cmake"));
        QCOMPARE(languageForPath("src/x.py"), std::string("python"));
        QCOMPARE(languageForPath("run", "#!/usr/bin/env python3.11\nprint(1)\n"), std::string("python"));
        QCOMPARE(languageForPath("run", "#!/bin/bash\n"), std::string("shell"));
        QCOMPARE(languageForPath("README"), std::string());
        // Names are taken apart as text (no path objects); the edge cases path::extension() has.
        QCOMPARE(languageForPath("/src/Makefile"), std::string("make"));
        QCOMPARE(languageForPath("/home/me/.bashrc"), std::string("shell"));
        QCOMPARE(languageForPath("/x/y.py/README"), std::string());
        QCOMPARE(languageForPath("/x/LOUD.CPP"), std::string("cpp"));
        QCOMPARE(languageForPath("archive.tar.gz"), std::string());
        QCOMPARE(languageForPath("trailing."), std::string());
        QCOMPARE(languageForPath("/x/.py"), std::string());
    }
    void withoutSniffingOnlyMetadataDecides()
    {
        QTemporaryDir tmp;
        const fs::path base = quire::ingest::test::root(tmp);
        writeFile(base / "blob.bin", std::string("\x7F"
                                                 "ELF\x02\x01\x01\0\0",
                                                 9) +
                                         std::string(100, '\0'));
        writeFile(base / "run", "#!/bin/sh\necho hi\n");
        writeFile(base / "a.cpp", "int x;\n");
        writeFile(base / "big.txt", std::string(5000, 'a'));
        writeFile(base / "sub/.gitignore", "*.log\n");
        writeFile(base / "sub/x.log", "ignored\n");
        ScanOptions options;
        options.sniffContent = false;
        options.maxFileBytes = 4096;
        const auto r = scanSources({base}, options);
        QCOMPARE(relativeNames(r, base),
                 (std::vector<std::string>{"a.cpp", "blob.bin", "run", "sub/.gitignore"}));
        for (const auto& f : r.files)
            QVERIFY(!f.contentChecked);
        QUIRE_COMPARE_ENUM(r.files[0].kind, SourceKind::Code); // by its name
        QCOMPARE(r.files[0].language, std::string("cpp"));
        QUIRE_COMPARE_ENUM(r.files[2].kind, SourceKind::Text); // the shebang is not read
        const auto* big = issueFor(r, base / "big.txt");
        QVERIFY(big);
        QCOMPARE(big->error.code, ErrorCode::TooLarge);
        QVERIFY(scanSources({base}).files.front().contentChecked);
    }
};

QTEST_GUILESS_MAIN(TestSourceScanner)
#include "test_source_scanner.moc"
