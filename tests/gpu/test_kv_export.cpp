// KV export and import of the CUDA runners (Runner::kvLayout / readKv / appendUncomputed / writeKv): K and V
// read from one runner after a prompt and written into a fresh runner that appended the same tokens
// uncomputed; both then continue with the same tokens and must give bit-identical logits (same kernels, same
// inputs). The dense runner (tiny Llama) and the Llama 4 runner with bf16 KV (tiny moe_chunked: chunk 16,
// so the chunked layers export only the last chunk's positions); the Llama 4 runner with fp8 global pages
// refuses to export.
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gpu_test.h"
#include "inference/llama4_test_util.h"
#include "quire/inference/backend.h"
#include "quire/inference/llama4.h"
#include "quire/inference/model_weights.h"

namespace qi = quire::inference;

namespace {

std::unique_ptr<qi::Runner> cudaRunner(std::shared_ptr<const qi::ModelWeights> w, int context,
                                       std::optional<qi::KvDtype> kv = std::nullopt)
{
    auto b = qi::findBackend("cuda");
    if (!b)
        throw std::runtime_error(b.error().message);
    qi::RunnerOptions o;
    o.maxContext = context;
    o.kvDtype = kv;
    auto r = (*b)->createRunner(std::move(w), o);
    if (!r)
        throw std::runtime_error(r.error().message);
    return std::move(*r);
}

// Copies every position `from` holds into `to` (which appended the same tokens uncomputed first); chunked
// layers only from the start of the chunk of the last position. Returns an empty string or what failed.
std::string transfer(qi::Runner& from, qi::Runner& to, const std::vector<std::int32_t>& tokens)
{
    auto layout = from.kvLayout();
    if (!layout)
        return "kvLayout: " + layout.error().message;
    if (layout->dtype != qi::KvDtype::BF16)
        return "the layout is not bf16";
    if (auto ok = to.appendUncomputed(tokens); !ok)
        return "appendUncomputed: " + ok.error().message;
    const int held = from.position();
    for (int l = 0; l < layout->nLayers; ++l) {
        const int begin = layout->isChunked(l) ? (held - 1) / layout->chunkSize * layout->chunkSize : 0;
        std::vector<std::byte> k(std::size_t(held - begin) * layout->rowBytes()), v(k.size());
        if (auto ok = from.readKv(l, begin, held, k, v); !ok)
            return "readKv: " + ok.error().message;
        if (auto ok = to.writeKv(l, begin, held, k, v); !ok)
            return "writeKv: " + ok.error().message;
    }
    return {};
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

GPU_TEST(denseKvExportImportContinuesBitIdentically)
{
    auto weights =
        qi::loadLlamaWeightsHf(std::filesystem::path(QUIRE_TEST_DATA_DIR) / "inference" / "tiny_llama");
    GPU_CHECK(weights.has_value());
    const int V = (*weights)->config.vocabSize;
    std::vector<std::int32_t> tokens(26);
    for (std::size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = std::int32_t((7 * i + 3) % std::size_t(V));
    const std::vector<std::int32_t> prompt(tokens.begin(), tokens.begin() + 20),
        next(tokens.begin() + 20, tokens.end());
    auto a = cudaRunner(*weights, 64);
    auto b = cudaRunner(*weights, 64);
    std::vector<float> row(static_cast<std::size_t>(V));
    GPU_CHECK(a->forward(prompt, row, false).has_value());
    const std::string failed = transfer(*a, *b, prompt);
    GPU_CHECK_MSG(failed.empty(), failed);
    GPU_CHECK(b->position() == 20);
    std::vector<float> la(next.size() * std::size_t(V)), lb(la.size());
    GPU_CHECK(a->forward(next, la, true).has_value());
    GPU_CHECK(b->forward(next, lb, true).has_value());
    GPU_CHECK_MSG(sameBits(la, lb), "logits after the import differ");
    // A decode step each (the single-token path) as well.
    std::vector<float> da(row.size()), db(row.size());
    GPU_CHECK(a->forward(std::vector<std::int32_t>{5}, da, false).has_value());
    GPU_CHECK(b->forward(std::vector<std::int32_t>{5}, db, false).has_value());
    GPU_CHECK_MSG(sameBits(da, db), "decode logits after the import differ");
}

GPU_TEST(llama4Bf16KvExportImportContinuesBitIdentically)
{
    const auto golden = quire::test::loadLlama4Golden("moe_chunked"); // chunk 16
    qi::Llama4LoadOptions lo;
    lo.quantization.experts = qi::WeightFormat::Int4;
    lo.quantization.groupSize = 128;
    auto w = qi::loadLlama4ModelWeights(quire::test::kLlama4Data / "moe_chunked", lo);
    GPU_CHECK_MSG(w.has_value(), w.error().message);
    const int V = golden.vocab;
    const std::vector<std::int32_t> prompt(golden.tokens.begin(), golden.tokens.begin() + 40),
        next(golden.tokens.begin() + 40, golden.tokens.begin() + 50);
    auto a = cudaRunner(*w, 256, qi::KvDtype::BF16);
    auto b = cudaRunner(*w, 256, qi::KvDtype::BF16);
    std::vector<float> row(static_cast<std::size_t>(V));
    GPU_CHECK(a->forward(prompt, row, false).has_value());
    const std::string failed = transfer(*a, *b, prompt);
    GPU_CHECK_MSG(failed.empty(), failed);
    // A chunked layer does not hold positions before the last chunk.
    const auto layout = a->kvLayout();
    GPU_CHECK(layout.has_value() && layout->isChunked(0) && !layout->isChunked(3));
    std::vector<std::byte> k(layout->rowBytes()), v(k.size());
    GPU_CHECK(!a->readKv(0, 20, 21, k, v).has_value());
    GPU_CHECK(a->readKv(3, 20, 21, k, v).has_value());
    // Continuing across the chunk boundary at 48 gives the same logits on both.
    std::vector<float> la(next.size() * std::size_t(V)), lb(la.size());
    GPU_CHECK(a->forward(next, la, true).has_value());
    GPU_CHECK(b->forward(next, lb, true).has_value());
    GPU_CHECK_MSG(sameBits(la, lb), "logits after the import differ");

    auto fp8 = cudaRunner(*w, 256, qi::KvDtype::Fp8E4M3);
    const auto refused = fp8->kvLayout();
    GPU_CHECK(!refused.has_value() && refused.error().code == qi::ErrorCode::Unsupported);
}
