// libFuzzer target: Tokenizer::fromHuggingFace (JSON reader and tokenizer.json loader) on
// arbitrary bytes; an accepted tokenizer is then used once.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "quire/inference/tokenizer.h"

using namespace quire::inference;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const std::string path = "/dev/shm/quire_fuzz_tokenizer_" + std::to_string(::getpid()) + ".json";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    auto tok = Tokenizer::fromHuggingFace(path);
    if (!tok)
        return tok.error().message.empty() ? (__builtin_trap(), 0) : 0;
    const auto ids = tok->encode("Hello, world! 123 <|x|> \xF0\x9F\xA6\x99", true, true);
    (void)tok->decode(ids, true);
    return 0;
}
