// `quire-cli generate`: one chat turn with a model, the reply streamed to stdout.
#include <QFileInfo>
#include <QStringList>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

#include "cli_support.h"
#include "commands.h"
#include "quire/app/paths.h"
#include "quire/inference/engine.h"

namespace quire::cli {

namespace {

constexpr const char* kUsage =
    "Usage: quire-cli generate --prompt TEXT [options]\n"
    "Applies the model's chat template to TEXT and prints the reply (greedy unless a sampling\n"
    "option is given).\n"
    "  --model PATH          GGUF file or Hugging Face folder (default: $QUIRE_DEFAULT_MODEL, else\n"
    "                        SmolLM2-135M-Instruct.Q4_1.gguf in the models folder)\n"
    "  --system TEXT         a system message\n"
    "  --raw                 feed TEXT as it is, without the chat template\n"
    "  --max-tokens N        reply length limit (default 256)\n"
    "  --backend NAME        cpu (default), cpu-reference, or cuda where built\n"
    "  --threads N           CPU threads (default: all cores)\n"
    "  --ctx N               context length (default: min(model, 4096))\n"
    "  --temperature T       sampling temperature (0 = greedy)\n"
    "  --top-k K  --top-p P  --min-p P\n"
    "  --repeat-penalty R  --presence-penalty P  --frequency-penalty P\n"
    "  --seed N              random seed for sampling (default 0x5EED)\n"
    "  --stats               print token counts and speed to stderr\n";

} // namespace

int cmdGenerate(const QStringList& args)
{
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    QString prompt, system, modelPath = defaultModelPath();
    bool raw = false, stats = false, havePrompt = false, sampling = false;
    inference::SamplerConfig sc;
    inference::SessionOptions so;
    so.maxContext = 0;
    int maxTokens = 256, ctx = 0;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        const bool hasValue = i + 1 < args.size();
        bool ok = true;
        if (a == "--raw") {
            raw = true;
        } else if (a == "--stats") {
            stats = true;
        } else if (!hasValue) {
            std::fprintf(stderr, "quire-cli generate: unexpected argument %s\n%s", qPrintable(a), kUsage);
            return Usage;
        } else if (a == "--prompt") {
            prompt = args[++i];
            havePrompt = true;
        } else if (a == "--system") {
            system = args[++i];
        } else if (a == "--model") {
            modelPath = args[++i];
        } else if (a == "--backend") {
            so.backend = args[++i].toStdString();
        } else if (a == "--max-tokens") {
            maxTokens = args[++i].toInt(&ok);
        } else if (a == "--threads") {
            so.threads = args[++i].toInt(&ok);
        } else if (a == "--ctx") {
            ctx = args[++i].toInt(&ok);
        } else if (a == "--temperature") {
            sc.temperature = args[++i].toFloat(&ok);
            sampling = true;
        } else if (a == "--top-k") {
            sc.topK = args[++i].toInt(&ok);
            sampling = true;
        } else if (a == "--top-p") {
            sc.topP = args[++i].toFloat(&ok);
            sampling = true;
        } else if (a == "--min-p") {
            sc.minP = args[++i].toFloat(&ok);
            sampling = true;
        } else if (a == "--repeat-penalty") {
            sc.repetitionPenalty = args[++i].toFloat(&ok);
        } else if (a == "--presence-penalty") {
            sc.presencePenalty = args[++i].toFloat(&ok);
        } else if (a == "--frequency-penalty") {
            sc.frequencyPenalty = args[++i].toFloat(&ok);
        } else if (a == "--seed") {
            sc.seed = args[++i].toULongLong(&ok, 0);
        } else {
            std::fprintf(stderr, "quire-cli generate: unknown option %s\n%s", qPrintable(a), kUsage);
            return Usage;
        }
        if (!ok) {
            std::fprintf(stderr, "quire-cli generate: bad value for %s\n", qPrintable(a));
            return Usage;
        }
    }
    if (!havePrompt) {
        std::fputs(kUsage, stderr);
        return Usage;
    }
    // Sampling options without a temperature sample at 1.0; with none, greedy.
    if (sampling && sc.temperature == 0.0f && !args.contains("--temperature"))
        sc.temperature = 1.0f;

    if (!QFileInfo::exists(modelPath)) {
        std::fprintf(stderr,
                     "quire-cli generate: model not found: %s (run ./quire.sh setup, or pass --model)\n",
                     qPrintable(modelPath));
        return Failure;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto model = inference::Model::load(modelPath.toStdString());
    if (!model) {
        std::fprintf(stderr, "quire-cli generate: %s\n", model.error().message.c_str());
        return Failure;
    }
    so.maxContext = ctx > 0 ? ctx : std::min((*model)->config().contextLength, 4096);
    auto session = inference::Session::create(*model, so);
    if (!session) {
        std::fprintf(stderr, "quire-cli generate: %s\n", session.error().message.c_str());
        return Failure;
    }

    std::vector<inference::TokenId> tokens;
    if (raw) {
        const auto& tok = (*model)->tokenizer();
        tokens = tok.encode(prompt.toStdString(), tok.addBosByDefault(), false);
    } else {
        std::vector<inference::ChatMessage> messages;
        if (!system.isEmpty())
            messages.push_back({"system", system.toStdString()});
        messages.push_back({"user", prompt.toStdString()});
        tokens = (*model)->encodeChat(messages);
    }

    const InterruptFlag interrupt;
    const std::atomic<bool>* cancel = interrupt.flag();
    const auto t1 = std::chrono::steady_clock::now();
    if (auto ok = (*session)->prefill(tokens, {}, cancel); !ok) {
        std::fprintf(stderr, "quire-cli generate: %s\n", ok.error().message.c_str());
        return ok.error().code == inference::ErrorCode::Cancelled ? Cancelled : Failure;
    }
    const auto t2 = std::chrono::steady_clock::now();
    inference::Sampler sampler(sc);
    inference::GenerateOptions go;
    go.maxTokens = maxTokens;
    go.stopStrings = (*model)->chatTemplate().stopStrings();
    auto result = (*session)->generate(
        sampler, go,
        [](inference::TokenId, std::string_view text) {
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
            return true;
        },
        cancel);
    std::fputc('\n', stdout);
    if (!result) {
        std::fprintf(stderr, "quire-cli generate: %s\n", result.error().message.c_str());
        return Failure;
    }
    if (stats) {
        const auto t3 = std::chrono::steady_clock::now();
        const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
        std::fprintf(stderr, "model %s (%s backend), load %.2f s\n", (*model)->name().c_str(),
                     std::string((*session)->backendName()).c_str(), secs(t0, t1));
        std::fprintf(stderr,
                     "prompt %zu tokens in %.2f s (%.1f tok/s); reply %zu tokens in %.2f s (%.1f tok/s)\n",
                     tokens.size(), secs(t1, t2), double(tokens.size()) / secs(t1, t2), result->tokens.size(),
                     secs(t2, t3), double(result->tokens.size()) / secs(t2, t3));
    }
    return result->reason == inference::StopReason::Cancelled ? Cancelled : Ok;
}

} // namespace quire::cli
