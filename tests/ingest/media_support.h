// Media corpora for the tests: speech from espeak-ng, containers and video from the ffmpeg
// command line (both installed by quire.sh). Word-level scoring for recognition results.
#pragma once

#include <QProcess>
#include <QStandardPaths>
#include <QStringList>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

namespace quire::ingest::test {

inline bool haveTools(std::initializer_list<const char*> tools)
{
    for (const char* t : tools)
        if (QStandardPaths::findExecutable(t).isEmpty())
            return false;
    return true;
}

inline bool run(const QString& program, const QStringList& args)
{
    QProcess p;
    p.start(program, args);
    return p.waitForFinished(120000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

inline bool ffmpeg(const QStringList& args)
{
    return run("ffmpeg", QStringList{"-nostdin", "-loglevel", "error", "-y"} + args);
}

// A clear synthetic voice that PocketSphinx's US English model handles reasonably.
inline bool speak(const std::string& text, const std::filesystem::path& wav)
{
    return run("espeak-ng", {"-v", "en-us+f2", "-s", "150", "-w", QString::fromStdString(wav.string()),
                             QString::fromStdString(text)});
}

inline QString q(const std::filesystem::path& p)
{
    return QString::fromStdString(p.string());
}

inline std::vector<std::string> normalizedWords(const std::string& text)
{
    std::vector<std::string> out;
    std::string cur;
    for (char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'') {
            cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!cur.empty()) {
            out.push_back(cur);
            cur.clear();
        }
    }
    return out;
}

// Word error rate: Levenshtein distance over words divided by the reference length.
inline double wordErrorRate(const std::string& reference, const std::string& hypothesis)
{
    const auto r = normalizedWords(reference), h = normalizedWords(hypothesis);
    std::vector<std::size_t> prev(h.size() + 1), cur(h.size() + 1);
    for (std::size_t j = 0; j <= h.size(); ++j)
        prev[j] = j;
    for (std::size_t i = 1; i <= r.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= h.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] == h[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return r.empty() ? 0.0 : static_cast<double>(prev[h.size()]) / static_cast<double>(r.size());
}

// Share of reference words found in the hypothesis (as a multiset, order ignored).
inline double wordRecovery(const std::string& reference, const std::string& hypothesis)
{
    auto r = normalizedWords(reference), h = normalizedWords(hypothesis);
    std::size_t found = 0;
    for (const auto& w : r) {
        auto it = std::ranges::find(h, w);
        if (it != h.end()) {
            ++found;
            h.erase(it);
        }
    }
    return r.empty() ? 1.0 : static_cast<double>(found) / static_cast<double>(r.size());
}

} // namespace quire::ingest::test
