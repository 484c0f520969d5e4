// BENCH context_assembly: assembling a workspace context (per-piece tokenization for prefix
// stability, marks, source map) against tokenizing the same text as one string, in the same run.
// The difference is what prefix stability and the source map cost.
#include <QCoreApplication>

#include <chrono>
#include <cstdio>
#include <random>

#include "quire/app/context_assembly.h"

using namespace quire;
using namespace quire::app;

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    auto tok = inference::Tokenizer::open(QUIRE_SHARED_DIR "/testdata/tokenizers/ggml-vocab-llama-bpe.gguf");
    if (!tok) {
        std::fprintf(stderr, "%s\n", tok.error().message.c_str());
        return 1;
    }
    const inference::ChatTemplate chat(inference::ChatTemplate::Kind::Llama3);
    // 120 documents of 40 paragraphs of ~45 words of contract-like prose, deterministic.
    static const char* kWords[] = {
        "the",  "supplier", "shall",    "deliver", "goods",     "within",    "thirty", "days",
        "of",   "order",    "customer", "may",     "terminate", "agreement", "notice", "liability",
        "fees", "invoice",  "payable",  "party",   "written",   "breach",    "remedy", "clause",
        "(30)", "EUR",      "4,800",    "month",   "data",      "processing"};
    std::mt19937 rng(7);
    AssemblyInput in;
    in.workspace = "bench";
    in.preset = *loadPreset("legal");
    for (int d = 1; d <= 120; ++d) {
        ContextDocument doc;
        doc.number = d;
        doc.documentId = d;
        doc.path = doc.displayPath = "contracts/contract-" + std::to_string(d) + ".pdf";
        doc.kind = ingest::SourceKind::Pdf;
        for (int p = 0; p < 40; ++p) {
            ingest::Segment s;
            s.anchor.where = ingest::PageAnchor{1 + p / 8, {}};
            s.text = std::to_string(p + 1) + ".";
            for (int w = 0; w < 45; ++w) {
                // Two words in three from a fixed list, the rest made of syllables (a vocabulary
                // of thousands, so the tokenizer's caches do not flatter either side).
                if (rng() % 3 != 0) {
                    s.text += std::string(" ") + kWords[rng() % (sizeof kWords / sizeof *kWords)];
                } else {
                    static const char* kSyl[] = {"ka", "ren", "to",  "mil", "os",
                                                 "va", "dre", "qui", "len", "st"};
                    s.text += " ";
                    for (int k = 0; k < 2 + int(rng() % 3); ++k)
                        s.text += kSyl[rng() % 10];
                }
            }
            s.text += ".";
            doc.segments.push_back(std::move(s));
        }
        in.documents.push_back(std::move(doc));
    }
    using Clock = std::chrono::steady_clock;
    double oursBest = 1e9, baseBest = 1e9;
    std::size_t tokens = 0, baseTokens = 0;
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = Clock::now();
        auto ctx = assembleContext(in, *tok, chat);
        const auto t1 = Clock::now();
        const auto ids = tok->encode(ctx->text, false, true);
        const auto t2 = Clock::now();
        tokens = ctx->tokens.size();
        baseTokens = ids.size();
        oursBest = std::min(oursBest, std::chrono::duration<double>(t1 - t0).count());
        baseBest = std::min(baseBest, std::chrono::duration<double>(t2 - t1).count());
    }
    const double ours = double(tokens) / oursBest, base = double(baseTokens) / baseBest;
    std::printf("context: %zu tokens assembled (%zu when tokenized as one string), best of 3\n", tokens,
                baseTokens);
    std::printf(
        "BENCH context_assembly ours=%.0f tokens/s baseline=%.0f tokens/s (the same text tokenized as one "
        "string) ratio=%.2f\n",
        ours, base, ours / base);
    return 0;
}
