// `quire-cli tokenize`: token ids of text, for checking a tokenizer against reference vectors.
#include <QStringList>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "commands.h"
#include "quire/inference/tokenizer.h"

namespace quire::cli {

namespace {

constexpr const char* kUsage =
    "Usage: quire-cli tokenize --model PATH (--vectors FILE.inp | --text TEXT) [--bos] [--special]\n"
    "Prints the token ids of each test string of FILE.inp (strings each followed by a line\n"
    "__ggml_vocab_test__), one line per string, each id preceded by a space; or of TEXT.\n"
    "PATH: a GGUF file, a tiktoken tokenizer.model, or a Hugging Face directory / tokenizer.json.\n"
    "  --bos      prepend the BOS token\n"
    "  --special  parse special tokens written in the text (e.g. <|im_start|>)\n";

void printIds(const std::vector<inference::TokenId>& ids)
{
    std::string line;
    for (const auto id : ids) {
        line += ' ';
        line += std::to_string(id);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
}

} // namespace

int cmdTokenize(const QStringList& args)
{
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    QString model, vectors, text;
    bool bos = false, special = false, haveText = false;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        if (a == "--bos") {
            bos = true;
        } else if (a == "--special") {
            special = true;
        } else if ((a == "--model" || a == "--vectors" || a == "--text") && i + 1 < args.size()) {
            (a == "--model" ? model : a == "--vectors" ? vectors : text) = args[++i];
            haveText = haveText || a == "--text";
        } else {
            std::fprintf(stderr, "quire-cli tokenize: unexpected argument %s\n%s", qPrintable(a), kUsage);
            return Usage;
        }
    }
    if (model.isEmpty() || (vectors.isEmpty() == !haveText)) {
        std::fputs(kUsage, stderr);
        return Usage;
    }
    auto tok = inference::Tokenizer::open(model.toStdString());
    if (!tok) {
        std::fprintf(stderr, "quire-cli tokenize: %s\n", tok.error().message.c_str());
        return Failure;
    }
    if (haveText) {
        printIds(tok->encode(text.toStdString(), bos, special));
        return Ok;
    }
    std::ifstream in(vectors.toStdString(), std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "quire-cli tokenize: cannot read %s\n", qPrintable(vectors));
        return Failure;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string all = ss.str();
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (std::size_t pos = 0; pos < all.size();) {
        const auto next = all.find(sep, pos);
        if (next == std::string::npos)
            break;
        printIds(tok->encode(std::string_view(all).substr(pos, next - pos), bos, special));
        pos = next + sep.size();
    }
    return Ok;
}

} // namespace quire::cli
