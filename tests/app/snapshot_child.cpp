// A child process for the snapshot tests: restores the longest stored prefix of a token
// sequence from a library's KV block store, prefills the rest (saving blocks, moving the
// workspace's "latest" snapshot), and writes the final logits.
//
// snapshot_child LIBRARY MODEL BLOCK TOKENS_FILE LOGITS_OUT [--vocab GGUF] [--delay-ms N]
//   MODEL: a model file/folder; with --vocab, a Hugging Face weights folder used with the
//   tokenizer of GGUF (the tiny Llama 4 has none of its own). TOKENS_FILE: int32 ids.
// Prints "restored N computed M" and exits 0, or prints the error and exits 1.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "quire/app/kv_snapshots.h"
#include "quire/inference/llama4.h"

using namespace quire;

int main(int argc, char** argv)
{
    if (argc < 6) {
        std::fprintf(
            stderr,
            "usage: snapshot_child LIBRARY MODEL BLOCK TOKENS LOGITS [--vocab GGUF] [--delay-ms N]\n");
        return 2;
    }
    const std::filesystem::path library = argv[1], modelPath = argv[2];
    const int block = std::atoi(argv[3]);
    std::string vocab;
    int delayMs = 0;
    for (int i = 6; i + 1 < argc; i += 2) {
        if (std::string(argv[i]) == "--vocab")
            vocab = argv[i + 1];
        else if (std::string(argv[i]) == "--delay-ms")
            delayMs = std::atoi(argv[i + 1]);
    }
    std::vector<inference::TokenId> tokens;
    {
        std::ifstream in(argv[4], std::ios::binary);
        inference::TokenId t;
        while (in.read(reinterpret_cast<char*>(&t), sizeof t))
            tokens.push_back(t);
    }
    std::shared_ptr<const inference::Model> model;
    if (!vocab.empty()) {
        auto w = inference::loadLlama4ModelWeights(modelPath);
        auto g = inference::GgufFile::open(vocab);
        if (!w || !g)
            return std::fprintf(stderr, "cannot load the model\n"), 1;
        auto tok = inference::Tokenizer::fromGguf(*g);
        if (!tok)
            return std::fprintf(stderr, "%s\n", tok.error().message.c_str()), 1;
        model = std::make_shared<const inference::Model>(
            *w, std::move(*tok), inference::ChatTemplate::detect("", "llama4"), "tiny", modelPath);
    } else {
        auto m = inference::Model::load(modelPath);
        if (!m)
            return std::fprintf(stderr, "%s\n", m.error().message.c_str()), 1;
        model = *m;
    }
    inference::SessionOptions so;
    so.maxContext = int(tokens.size()) + 16;
    so.threads = 2;
    so.prefillBlock = block;
    auto session = inference::Session::create(model, so);
    if (!session)
        return std::fprintf(stderr, "%s\n", session.error().message.c_str()), 1;
    auto writer = storage::WriterThread::start(library);
    if (!writer)
        return std::fprintf(stderr, "%s\n", writer.error().message.c_str()), 1;
    std::shared_ptr<storage::WriterThread> w(std::move(*writer));
    app::SnapshotOptions opt;
    opt.denseBlockTokens = block;
    auto snaps = app::KvSnapshots::open(library, w, **session, opt);
    if (!snaps)
        return std::fprintf(stderr, "%s\n", snaps.error().message.c_str()), 1;
    constexpr std::int64_t kWorkspace = 1;
    const auto restored = (*snaps)->restore(**session, tokens, kWorkspace);
    for (const auto& n : restored.notes)
        std::printf("note: %s\n", n.c_str());
    auto done = (*snaps)->prefill(
        **session, tokens,
        [&](std::int64_t, std::int64_t) {
            if (delayMs > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
        },
        nullptr, kWorkspace);
    if (!done)
        return std::fprintf(stderr, "%s\n", done.error().message.c_str()), 1;
    for (const auto& n : done->notes)
        std::printf("note: %s\n", n.c_str());
    const auto logits = (*session)->logits();
    std::ofstream out(argv[5], std::ios::binary);
    out.write(reinterpret_cast<const char*>(logits.data()), std::streamsize(logits.size() * sizeof(float)));
    std::printf("restored %zu computed %zu\n", restored.tokens, tokens.size() - restored.tokens);
    return 0;
}
