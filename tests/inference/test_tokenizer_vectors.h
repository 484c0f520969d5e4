// Reads the tokenizer test vectors of shared/testdata/tokenizers: `.inp` holds strings each
// followed by a line `__ggml_vocab_test__`; line N of `.out` holds the ids of string N, each
// preceded by a space.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace quire::test {

struct TokenizerVector {
    std::string text;
    std::vector<int> ids;
};

inline std::string readWholeFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::vector<std::string> readVectorInputs(const std::string& inpPath)
{
    const std::string all = readWholeFile(inpPath);
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < all.size()) {
        const auto next = all.find(sep, pos);
        if (next == std::string::npos)
            break;
        out.push_back(all.substr(pos, next - pos));
        pos = next + sep.size();
    }
    return out;
}

inline std::vector<TokenizerVector> readVectors(const std::string& inpPath, const std::string& outPath)
{
    std::vector<TokenizerVector> v;
    for (auto& t : readVectorInputs(inpPath))
        v.push_back({std::move(t), {}});
    std::istringstream out(readWholeFile(outPath));
    std::string line;
    for (auto& tv : v) {
        if (!std::getline(out, line))
            break;
        std::istringstream ls(line);
        int id;
        while (ls >> id)
            tv.ids.push_back(id);
    }
    return v;
}

} // namespace quire::test
