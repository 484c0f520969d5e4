// Writes small seed inputs for the fuzz targets into a folder: valid GGUF files of every
// metadata type and a few tensor types (tests/inference/test_gguf_builder.h), and tokenizer.json
// documents. Usage: make_fuzz_seeds DIR
#include <bit>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "inference/test_gguf_builder.h"

using quire::test::GgufBuilder;

namespace {

void write(const std::filesystem::path& p, const std::vector<std::uint8_t>& b)
{
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_fuzz_seeds DIR\n");
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir / "gguf");
    std::filesystem::create_directories(dir / "tokenizer_json");
    {
        GgufBuilder b;
        b.kvString("general.architecture", "llama");
        b.kvU32("llama.block_count", 2);
        b.kvStringArray("tokenizer.ggml.tokens", {"a", "b", "<s>"});
        auto& kv = b.kvBytes();
        b.key("f", GgufBuilder::F32), GgufBuilder::putU32(kv, std::bit_cast<std::uint32_t>(0.5f));
        b.key("d", GgufBuilder::F64), GgufBuilder::putU64(kv, std::bit_cast<std::uint64_t>(2.0));
        b.key("n", GgufBuilder::Array), GgufBuilder::putU32(kv, GgufBuilder::Array), GgufBuilder::putU64(kv, 1);
        GgufBuilder::putU32(kv, GgufBuilder::I16), GgufBuilder::putU64(kv, 2), kv.insert(kv.end(), {1, 0, 2, 0});
        b.tensor("w", {4, 2}, 0, std::vector<std::uint8_t>(32, 1));
        b.tensor("q", {32}, 8, std::vector<std::uint8_t>(34, 2));
        b.tensor("k", {256}, 12, std::vector<std::uint8_t>(144, 3));
        write(dir / "gguf" / "small.gguf", b.build());
    }
    {
        GgufBuilder b;
        b.alignment = 64;
        b.kvU32("general.alignment", 64);
        b.tensor("h", {8}, 1, std::vector<std::uint8_t>(16, 4));
        write(dir / "gguf" / "aligned.gguf", b.build());
    }
    write(dir / "gguf" / "empty.gguf", GgufBuilder().build());
    const std::string json =
        R"({"normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [)"
        R"({"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false,)"
        R"( "use_regex": true}]}, "added_tokens": [{"id": 5, "content": "<|x|>", "special": true}],)"
        R"( "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|x|>"}}]},)"
        R"( "model": {"type": "BPE", "vocab": {"H": 0, "e": 1, "He": 2, "\u0120": 3, "l": 4},)"
        R"( "merges": ["H e", ["\u0120", "l"]]}})";
    std::ofstream(dir / "tokenizer_json" / "small.json") << json;
    std::ofstream(dir / "tokenizer_json" / "escapes.json") << R"({"a": "\ud83e\udd99\n\t\"", "b": [1, -2.5e3, true, null]})";
    return 0;
}
