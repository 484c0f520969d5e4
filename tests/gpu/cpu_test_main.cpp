// The same minimal driver for tests that need no GPU (the CPU twins): runs every GPU_TEST-registered
// case on the host and ends with "N passed, N failed". Built into quire_cpu_test_main.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>

#include "gpu_test.h"

namespace quire::gputest {

namespace {
int g_failuresInCase = 0;
}

std::vector<Case>& registry()
{
    static std::vector<Case> cases;
    return cases;
}

void recordFailure(const char* file, int line, const std::string& message)
{
    ++g_failuresInCase;
    std::printf("    %s:%d: %s\n", file, line, message.c_str());
}

} // namespace quire::gputest

int main(int argc, char** argv)
{
    using namespace quire::gputest;
    const char* filter = argc > 1 ? argv[1] : nullptr;
    int passed = 0, failed = 0;
    for (const Case& c : registry()) {
        if (filter && !std::strstr(c.name, filter))
            continue;
        g_failuresInCase = 0;
        const auto t0 = std::chrono::steady_clock::now();
        try {
            c.fn();
        } catch (const std::exception& e) {
            recordFailure(__FILE__, __LINE__, std::string("exception: ") + e.what());
        }
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::printf("%s %s (%.1f ms)\n", g_failuresInCase ? "FAIL" : "PASS", c.name, ms);
        (g_failuresInCase ? failed : passed)++;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
