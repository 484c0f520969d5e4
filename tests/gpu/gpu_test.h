// The minimal test driver for `gpu` tests: no Qt (the GPU machine has none). A test binary
// links gpu_test_main.cpp, which exits 77 (ctest: skipped) when no CUDA device is present,
// otherwise runs every GPU_TEST and ends with the line "N passed, N failed".
#pragma once

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace quire::gputest {

struct Case {
    const char* name;
    void (*fn)();
};

std::vector<Case>& registry();
void recordFailure(const char* file, int line, const std::string& message);

struct Register {
    Register(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

}  // namespace quire::gputest

#define GPU_TEST(name)                                                            \
    static void name();                                                           \
    static const ::quire::gputest::Register gpu_test_register_##name(#name, name); \
    static void name()

// Records a failure and returns from the test.
#define GPU_CHECK(cond)                                                             \
    do {                                                                            \
        if (!(cond)) {                                                              \
            ::quire::gputest::recordFailure(__FILE__, __LINE__, "check failed: " #cond); \
            return;                                                                 \
        }                                                                           \
    } while (0)

#define GPU_CHECK_MSG(cond, msg)                                              \
    do {                                                                      \
        if (!(cond)) {                                                        \
            std::ostringstream gpu_test_os;                                   \
            gpu_test_os << "check failed: " #cond ": " << msg;                \
            ::quire::gputest::recordFailure(__FILE__, __LINE__, gpu_test_os.str()); \
            return;                                                           \
        }                                                                     \
    } while (0)
