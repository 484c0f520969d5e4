// A stand-in for quire-ingest-worker that misbehaves on purpose, chosen by the first word of
// the file it is given: "crash" (SIGSEGV), "hang" (sleeps), "alloc" (allocates until the
// memory cap stops it), "exit" (quits without a result), "noise" (prints to stdout, then
// crashes), "ok" (answers with a one-segment document holding its process id, so tests can see
// whether a helper was reused). It reads requests like the real helper: frames on stdin with
// --serve, else the command line. Used by test_ingestor.cpp.
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "quire/ingest/document_codec.h"

namespace {

void answerOk(const std::string& path)
{
    quire::ingest::Document d;
    d.source.path = path;
    d.status = quire::ingest::SourceStatus::Ingested;
    d.segments.push_back({std::to_string(::getpid()), {}, std::nullopt, std::nullopt, 0, {}});
    const std::string payload = quire::ingest::encodeDocument(d);
    const std::uint64_t len = payload.size();
    std::fwrite("D", 1, 1, stdout);
    std::fwrite(&len, 8, 1, stdout);
    std::fwrite(payload.data(), 1, payload.size(), stdout);
    std::fflush(stdout);
}

void handle(const std::vector<std::string>& args)
{
    std::string path;
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--path")
            path = args[i + 1];
    std::string mode;
    std::ifstream(path) >> mode;
    std::fprintf(stderr, "fake worker: mode %s\n", mode.c_str());
    if (mode == "crash")
        std::raise(SIGSEGV);
    if (mode == "hang")
        std::this_thread::sleep_for(std::chrono::hours(1));
    if (mode == "alloc") {
        std::vector<char*> blocks;
        for (int i = 0; i < 64; ++i) { // 4 GiB at most, should the cap not work
            char* p = new char[64 << 20];
            std::memset(p, 1, 64 << 20);
            blocks.push_back(p);
        }
        std::exit(0);
    }
    if (mode == "noise") {
        std::printf("garbage on stdout\n");
        std::fflush(stdout);
        std::abort();
    }
    if (mode == "ok") {
        answerOk(path);
        return;
    }
    std::exit(0); // "exit": no result at all
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!(argc == 2 && args[0] == "--serve")) {
        handle(args);
        return 0;
    }
    for (;;) {
        char header[9];
        if (std::fread(header, 1, 9, stdin) != 9)
            return 0;
        std::uint64_t len = 0;
        std::memcpy(&len, header + 1, 8);
        std::string payload(len, '\0');
        if (std::fread(payload.data(), 1, len, stdin) != len)
            return 0;
        args.clear();
        for (std::size_t start = 0; start < payload.size();) {
            const std::size_t end = payload.find('\0', start);
            args.push_back(payload.substr(start, end - start));
            start = end == std::string::npos ? payload.size() : end + 1;
        }
        handle(args);
    }
}
