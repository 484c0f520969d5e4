// Context presets: how a workspace is laid out for the model and what it is told. Four are
// built in, each with a prompt template compiled into the binary from resources/prompts/:
// "general" (mixed sources), "legal" (legal review: clause-level page anchors, cite page and
// quote), "code" (codebase Q&A: a tree overview of each batch of files first, file:line anchors)
// and "meeting" (meeting summary: time anchors, speakers when the transcript knows them).
//
// Values; thread-safe.
#pragma once

#include <expected>
#include <string>
#include <vector>

namespace quire::app {

struct Preset {
    std::string key;               // "general", "legal", "code", "meeting"
    std::string title;             // for people
    std::string systemTemplate;    // the system turn: instructions; {{workspace}} is replaced
    std::string documentsTemplate; // opens the user turn, before the documents; {{workspace}} too
    std::string questionTemplate;  // after the documents, same user turn; {{question}} is replaced
    bool treeOverview = false;     // a file tree before each batch of documents

    std::string systemPrompt(const std::string& workspace) const;
    std::string documentsIntro(const std::string& workspace) const;
    std::string questionPrompt(const std::string& question) const;
};

// The built-in presets, in a fixed order.
std::vector<std::string> presetKeys();
// Loads a preset's template from the compiled-in resources; an error names the known keys.
std::expected<Preset, std::string> loadPreset(const std::string& key);
// Parses a template text ("## system", "## documents", "## question" sections; "# " comment
// lines before them).
std::expected<Preset, std::string> parsePreset(const std::string& key, const std::string& text);

} // namespace quire::app
