#include "quire/app/preset.h"

#include <QFile>

#include <algorithm>

namespace quire::app {

namespace {

struct Builtin {
    const char* key;
    const char* title;
    bool tree;
};
constexpr Builtin kBuiltins[] = {
    {"general", "General (mixed sources)", false},
    {"legal", "Legal review", false},
    {"code", "Codebase Q&A", true},
    {"meeting", "Meeting summary", false},
};

std::string replaceAll(std::string text, const std::string& from, const std::string& to)
{
    std::size_t at = 0;
    while ((at = text.find(from, at)) != std::string::npos) {
        text.replace(at, from.size(), to);
        at += to.size();
    }
    return text;
}

std::string trimTrailingNewlines(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

} // namespace

std::string Preset::systemPrompt(const std::string& workspace) const
{
    return replaceAll(systemTemplate, "{{workspace}}", workspace);
}

std::string Preset::documentsIntro(const std::string& workspace) const
{
    return replaceAll(documentsTemplate, "{{workspace}}", workspace);
}

std::string Preset::questionPrompt(const std::string& question) const
{
    return replaceAll(questionTemplate, "{{question}}", question);
}

std::vector<std::string> presetKeys()
{
    std::vector<std::string> keys;
    for (const auto& b : kBuiltins)
        keys.emplace_back(b.key);
    return keys;
}

std::expected<Preset, std::string> parsePreset(const std::string& key, const std::string& text)
{
    Preset p;
    p.key = key;
    p.title = key;
    std::string* section = nullptr;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string::npos)
            eol = text.size();
        const std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (line == "## system") {
            section = &p.systemTemplate;
        } else if (line == "## documents") {
            section = &p.documentsTemplate;
        } else if (line == "## question") {
            section = &p.questionTemplate;
        } else if (section) {
            section->append(line);
            section->push_back('\n');
        } else if (!line.empty() && !line.starts_with("#")) {
            return std::unexpected("prompt template " + key + ": text before the first section: " + line);
        }
        if (eol == text.size())
            break;
    }
    // The documents follow the intro after a blank line; the question follows the documents
    // after a line break.
    p.systemTemplate = trimTrailingNewlines(p.systemTemplate);
    p.documentsTemplate = trimTrailingNewlines(p.documentsTemplate);
    if (!p.documentsTemplate.empty())
        p.documentsTemplate += "\n\n";
    p.questionTemplate = std::string(1, '\n').append(trimTrailingNewlines(p.questionTemplate));
    if (p.systemTemplate.empty() || p.questionTemplate.find("{{question}}") == std::string::npos)
        return std::unexpected(
            "prompt template " + key +
            " needs a \"## system\" section and a \"## question\" section holding {{question}}");
    return p;
}

std::expected<Preset, std::string> loadPreset(const std::string& key)
{
    const auto* b = std::find_if(std::begin(kBuiltins), std::end(kBuiltins),
                                 [&](const Builtin& x) { return key == x.key; });
    if (b == std::end(kBuiltins)) {
        std::string known;
        for (const auto& k : presetKeys())
            known += (known.empty() ? "" : ", ") + k;
        return std::unexpected("unknown preset \"" + key + "\" (known: " + known + ")");
    }
    QFile f(QStringLiteral(":/quire/prompts/%1.txt").arg(QString::fromStdString(key)));
    if (!f.open(QIODevice::ReadOnly))
        return std::unexpected("the prompt template for preset " + key + " is missing from the resources");
    auto p = parsePreset(key, f.readAll().toStdString());
    if (p) {
        p->title = b->title;
        p->treeOverview = b->tree;
    }
    return p;
}

} // namespace quire::app
