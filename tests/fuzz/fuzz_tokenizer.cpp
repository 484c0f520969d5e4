// libFuzzer target: tokenizers on arbitrary bytes. Byte-level BPE (Llama 3 GGUF and Llama 4
// tiktoken) must round-trip exactly (decode(encode(x)) == x, invalid UTF-8 included); the
// SentencePiece tokenizer must not crash; the streaming decoder must only ever emit valid UTF-8.
// Vocabularies are read from QUIRE_SHARED_DIR once.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "quire/inference/gguf.h"
#include "quire/inference/tokenizer.h"

using namespace quire::inference;

namespace {

std::optional<Tokenizer> loadGguf(const char* name)
{
    auto f = GgufFile::open(std::string(QUIRE_SHARED_DIR "/testdata/tokenizers/") + name);
    if (!f)
        return std::nullopt;
    auto t = Tokenizer::fromGguf(*f);
    return t ? std::optional<Tokenizer>(*t) : std::nullopt;
}

struct Tokenizers {
    std::optional<Tokenizer> llama3 = loadGguf("ggml-vocab-llama-bpe.gguf");
    std::optional<Tokenizer> spm = loadGguf("ggml-vocab-llama-spm.gguf");
    std::optional<Tokenizer> llama4;
    Tokenizers()
    {
        if (auto t = Tokenizer::fromTiktoken(QUIRE_SHARED_DIR "/testdata/tokenizers/llama4/tokenizer.model"))
            llama4 = *t;
        if (!llama3 || !spm || !llama4)
            std::abort();  // the fuzz run needs the shared vocabularies
    }
};

bool validUtf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        int n = b < 0x80 ? 1 : (b >= 0xC2 && b <= 0xDF) ? 2 : (b >= 0xE0 && b <= 0xEF) ? 3 : (b >= 0xF0 && b <= 0xF4) ? 4 : 0;
        if (n == 0 || i + static_cast<std::size_t>(n) > s.size())
            return false;
        for (int k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0xC0) != 0x80)
                return false;
        const auto c1 = n > 1 ? static_cast<unsigned char>(s[i + 1]) : 0;
        if ((b == 0xE0 && c1 < 0xA0) || (b == 0xED && c1 > 0x9F) || (b == 0xF0 && c1 < 0x90) || (b == 0xF4 && c1 > 0x8F))
            return false;
        i += static_cast<std::size_t>(n);
    }
    return true;
}

void checkStream(const Tokenizer& tok, const std::vector<TokenId>& ids)
{
    TokenStreamDecoder stream(tok);
    for (const auto id : ids)
        if (!validUtf8(stream.push(id)))
            __builtin_trap();
    if (!validUtf8(stream.flush()))
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const Tokenizers t;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (const auto* tok : {&*t.llama3, &*t.llama4}) {
        const auto ids = tok->encode(text);
        if (tok->decode(ids) != text)
            __builtin_trap();
        checkStream(*tok, ids);
        (void)tok->encode(text, true, true);
    }
    const auto ids = t.spm->encode(text, true, true);
    checkStream(*t.spm, ids);
    return 0;
}
