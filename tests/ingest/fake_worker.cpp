// A stand-in for quire-ingest-worker that misbehaves on purpose, chosen by the first word of
// the file it is given: "crash" (SIGSEGV), "hang" (sleeps), "alloc" (allocates until the
// memory cap stops it), "exit" (quits without a result), "noise" (prints to stdout, then
// crashes). Used by test_ingestor.cpp to check that each ends as a quarantine entry.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv)
{
    std::string path;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--path") == 0)
            path = argv[i + 1];
    std::string mode;
    std::ifstream(path) >> mode;
    std::fprintf(stderr, "fake worker: mode %s\n", mode.c_str());
    if (mode == "crash")
        std::raise(SIGSEGV);
    if (mode == "hang")
        std::this_thread::sleep_for(std::chrono::hours(1));
    if (mode == "alloc") {
        std::vector<char*> blocks;
        for (int i = 0; i < 64; ++i) {  // 4 GiB at most, should the cap not work
            char* p = new char[64 << 20];
            std::memset(p, 1, 64 << 20);
            blocks.push_back(p);
        }
        return 0;
    }
    if (mode == "noise") {
        std::printf("garbage on stdout\n");
        std::fflush(stdout);
        std::abort();
    }
    return 0;  // "exit": no result at all
}
