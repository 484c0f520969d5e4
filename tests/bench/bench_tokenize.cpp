// BENCH tokenize: MB/s encoding ~100 MB of generated mixed text (English prose, source code,
// Cyrillic/Greek/CJK/Arabic/Devanagari/Korean text, emoji) with the Llama 4 tiktoken rank file,
// ours against the `tiktoken` Python package (bench_tokenize.py) on the same text, same rank
// file, same split pattern, in the same run. Both sides also report a checksum of the ids, so
// the comparison is only printed when they produced identical tokens.
//
//   bench_tokenize [--mb N] [--threads N] [--python python3]
// With --threads N > 1 the text is cut into documents at paragraph breaks and each side encodes
// the same documents on N threads (tiktoken: encode_ordinary_batch with num_threads=N).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "quire/inference/tokenizer.h"

using namespace quire::inference;

namespace {

struct Rng {
    std::uint64_t s;
    std::uint64_t next()
    {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    template <typename T, std::size_t N> const T& pick(const T (&a)[N]) { return a[below(N)]; }
};

const char* const kWords[] = {
    "the",        "of",       "and",         "to",           "in",          "a",          "is",
    "that",       "for",      "it",          "as",           "was",         "with",       "be",
    "by",         "on",       "not",         "he",           "this",        "are",        "or",
    "his",        "from",     "at",          "which",        "but",         "have",       "an",
    "had",        "they",     "you",         "were",         "their",       "one",        "all",
    "we",         "can",      "her",         "has",          "there",       "been",       "if",
    "more",       "when",     "will",        "would",        "who",         "so",         "no",
    "agreement",  "party",    "licensee",    "shall",        "document",    "analysis",   "context",
    "model",      "evidence", "meeting",     "recording",    "contract",    "section",    "paragraph",
    "obligation", "payment",  "termination", "confidential", "information", "warranty",   "liability",
    "notice",     "provided", "however",     "including",    "without",     "limitation", "reasonable",
    "efforts",    "between",  "through",     "during",       "before",      "after",      "against",
    "whether",    "because",  "although",    "government",   "university",  "research",   "history",
    "thousand",   "question", "answer",      "citation",     "Paris",       "London",     "Tuesday",
    "January",    "OpenAI",   "Quire",       "don't",        "it's",        "they're",    "we've",
    "I'm",        "you'll",   "he'd",        "HTTP",         "JSON",        "API",        "McDonald",
    "iPhone"};
const char* const kCode[] = {"if (x != nullptr && x->next) {",
                             "    return x->next->value;",
                             "}",
                             "for (int i = 0; i < n; ++i)",
                             "    sum += buf[i] * 0x1F;",
                             "def tokenize(text: str) -> list[int]:",
                             "    return [ord(c) for c in text]",
                             "#include <vector>",
                             "std::vector<int> v{1, 2, 3};",
                             "const auto it = map.find(key);",
                             "    self.cache[key] = value  # memoise",
                             "SELECT id, name FROM users WHERE age >= 18;",
                             "fn main() { println!(\"{}\", 42); }",
                             "  \"name\": \"quire\", \"version\": \"0.1.0\",",
                             "let total = items.reduce((a, b) => a + b, 0);",
                             "\t\tcase kFormat: return \"format\";",
                             "    except ValueError as e:",
                             "        raise RuntimeError(f\"bad value: {e}\")",
                             "x = np.zeros((1024, 768))",
                             "git commit -m \"fix: handle empty input\"",
                             "// TODO(perf): avoid the copy here"};
const char* const kForeign[] = {
    "Договор",  "вступает",   "в",          "силу",     "с",
    "момента",  "подписания", "сторонами",  "Καλημέρα", "κόσμε",
    "συμφωνία", "日本語",     "のテキスト", "と",       "中文文本",
    "以及",     "机器学习",   "模型",       "数据",     "分析",
    "东京",     "한국어",     "텍스트",     "계약서",   "العربية",
    "اتفاقية",  "الطرفين",    "हिन्दी",      "समझौता",   "दस्तावेज़",
    "ภาษาไทย",  "עברית",      "Ünïcödé",    "straße",   "ÆØÅ",
    "naïve",    "café",       "🦙",       "🚀",        "👩‍👩‍👧‍👦",
    "✅",        "😁",          "🇺🇸"};

void appendProse(Rng& r, std::string& out)
{
    const std::size_t sentences = 2 + r.below(6);
    for (std::size_t s = 0; s < sentences; ++s) {
        const std::size_t words = 5 + r.below(16);
        for (std::size_t w = 0; w < words; ++w) {
            std::string word = r.pick(kWords);
            if (w == 0 && word[0] >= 'a' && word[0] <= 'z')
                word[0] = static_cast<char>(word[0] - 32);
            out += word;
            if (r.below(25) == 0) {
                out += ' ';
                out += std::to_string(r.below(100000));
            }
            out += (w + 1 < words) ? (r.below(9) == 0 ? ", " : " ") : (r.below(5) == 0 ? "? " : ". ");
        }
    }
    out += "\n\n";
}

void appendCode(Rng& r, std::string& out)
{
    const std::size_t lines = 3 + r.below(12);
    for (std::size_t l = 0; l < lines; ++l) {
        out += std::string(4 * r.below(3), ' ');
        out += r.pick(kCode);
        out += '\n';
    }
    out += '\n';
}

void appendForeign(Rng& r, std::string& out)
{
    const std::size_t words = 10 + r.below(30);
    for (std::size_t w = 0; w < words; ++w) {
        out += r.pick(kForeign);
        out += r.below(6) == 0 ? "，" : " ";
    }
    out += "\n\n";
}

std::string generate(std::size_t bytes)
{
    Rng r{0x9E3779B97F4A7C15ull};
    std::string out;
    out.reserve(bytes + 4096);
    while (out.size() < bytes) {
        const auto k = r.below(4);
        if (k < 2)
            appendProse(r, out);
        else if (k == 2)
            appendCode(r, out);
        else
            appendForeign(r, out);
    }
    return out;
}

// Documents for the threaded runs: cut at paragraph breaks, ~64 KiB each.
std::vector<std::string_view> documents(const std::string& text)
{
    std::vector<std::string_view> docs;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t cut = text.find("\n\n", std::min(text.size(), pos + (64u << 10)));
        cut = cut == std::string::npos ? text.size() : cut + 2;
        docs.push_back(std::string_view(text).substr(pos, cut - pos));
        pos = cut;
    }
    return docs;
}

struct Checksum {
    std::uint64_t count = 0, sum = 0, weighted = 0;
    void add(const std::vector<TokenId>& ids)
    {
        for (const auto id : ids) {
            ++count;
            sum += static_cast<std::uint64_t>(id);
            weighted += count * static_cast<std::uint64_t>(id);
        }
    }
};

} // namespace

int main(int argc, char** argv)
{
    std::size_t mb = 100;
    int threads = 1;
    std::string python = "python3";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--mb")
            mb = std::stoul(argv[i + 1]);
        else if (a == "--threads")
            threads = std::stoi(argv[i + 1]);
        else if (a == "--python")
            python = argv[i + 1];
    }
    const std::filesystem::path rankFile = QUIRE_SHARED_DIR "/testdata/tokenizers/llama4/tokenizer.model";
    auto tok = Tokenizer::fromTiktoken(rankFile, TiktokenFlavor::Llama4);
    if (!tok) {
        std::fprintf(stderr, "bench_tokenize: %s\n", tok.error().message.c_str());
        return 77;
    }
    const std::string text = generate(mb << 20);
    const auto docs = documents(text);
    const double megabytes = static_cast<double>(text.size()) / 1e6;

    // Ours.
    Checksum ours;
    const auto t0 = std::chrono::steady_clock::now();
    if (threads <= 1) {
        for (const auto d : docs)
            ours.add(tok->encode(d));
    } else {
        std::vector<std::vector<TokenId>> results(docs.size());
        std::atomic<std::size_t> next{0};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                for (std::size_t i; (i = next++) < docs.size();)
                    results[i] = tok->encode(docs[i]);
            });
        for (auto& th : pool)
            th.join();
        for (const auto& r : results)
            ours.add(r);
    }
    const double oursSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double oursMbps = megabytes / oursSec;
    std::printf("ours: %.1f MB in %.2f s, %llu tokens, %d thread(s)\n", megabytes, oursSec,
                static_cast<unsigned long long>(ours.count), threads);

    // tiktoken on the same documents.
    const auto textPath = std::filesystem::temp_directory_path() /
                          ("quire_bench_tokenize_" + std::to_string(::getpid()) + ".txt");
    std::ofstream(textPath, std::ios::binary).write(text.data(), static_cast<std::streamsize>(text.size()));
    const std::string script = QUIRE_SOURCE_DIR "/tests/bench/bench_tokenize.py";
    const std::string cmd = python + " '" + script + "' '" + rankFile.string() + "' '" + textPath.string() +
                            "' " + std::to_string(threads);
    FILE* p = ::popen(cmd.c_str(), "r");
    char line[512] = {};
    double baseMbps = 0;
    unsigned long long count = 0, sum = 0, weighted = 0;
    bool parsed = false;
    while (p && std::fgets(line, sizeof line, p))
        if (std::sscanf(line, "tiktoken mbps=%lf count=%llu sum=%llu weighted=%llu", &baseMbps, &count, &sum,
                        &weighted) == 4)
            parsed = true;
    const int rc = p ? ::pclose(p) : -1;
    std::filesystem::remove(textPath);
    if (!parsed || rc != 0) {
        std::fprintf(stderr, "bench_tokenize: the tiktoken baseline did not run (pip install tiktoken)\n");
        return 77;
    }
    std::printf("tiktoken: %.2f MB/s, %llu tokens\n", baseMbps, count);
    if (count != ours.count || sum != ours.sum || weighted != ours.weighted) {
        std::fprintf(stderr, "bench_tokenize: token ids differ from tiktoken's (ours %llu tokens)\n",
                     static_cast<unsigned long long>(ours.count));
        return 1;
    }
    std::printf(
        "BENCH tokenize ours=%.2f MB/s baseline=%.2f MB/s (tiktoken %s, llama4 rank file, %d thread(s) "
        "each, %.0f MB mixed text) ratio=%.2f\n",
        oursMbps, baseMbps, "python", threads, megabytes, oursMbps / baseMbps);
    return 0;
}
