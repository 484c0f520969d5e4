// libFuzzer target: GgufFile::open on arbitrary bytes must return a value or an Error, never
// crash, hang or read outside the mapping (ASan/UBSan watch). Accepted files are walked
// completely: every metadata value and every byte of every tensor.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "quire/inference/gguf.h"

using namespace quire::inference;

namespace {

std::uint64_t walk(const GgufValue& v)
{
    std::uint64_t h = v.type;
    if (const auto* a = v.asArray())
        for (const auto& e : *a)
            h += walk(e);
    if (const auto* s = v.asString())
        h += s->size();
    h += static_cast<std::uint64_t>(v.asInt().value_or(0));
    return h;
}

const std::string& scratchPath()
{
    static const std::string path = "/dev/shm/quire_fuzz_gguf_" + std::to_string(::getpid()) + ".gguf";
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string& path = scratchPath();
    if (FILE* f = std::fopen(path.c_str(), "wb")) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
    } else {
        return 0;
    }
    auto file = GgufFile::open(path);
    if (!file) {
        if (file.error().message.empty())
            __builtin_trap();  // every error must say something
        return 0;
    }
    volatile std::uint64_t sink = 0;
    for (const auto& [key, value] : file->metadata())
        sink = sink + key.size() + walk(value);
    for (const auto& t : file->tensors()) {
        if (file->tensor(t.name) == nullptr || t.elements() < 0)
            __builtin_trap();
        for (const std::byte b : t.data)
            sink = sink + static_cast<std::uint8_t>(b);
    }
    (void)file->getStringArray("tokenizer.ggml.tokens");
    (void)file->getFloatArray("tokenizer.ggml.scores");
    return 0;
}
