#include "quire/inference/chat_template.h"

namespace quire::inference {

namespace {

std::string trim(std::string_view s)
{
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos)
        return {};
    const auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

// The literal default system prompt of a ChatML template such as SmolLM2's:
//   ... != 'system' %}{{ '<|im_start|>system\nYou are ...<|im_end|>\n' }} ...
// Jinja string escapes inside the literal (\n, \', \\) are undone.
std::string chatmlDefaultSystem(std::string_view jinja)
{
    // The newline after "system" is a real one in some files and a Jinja escape in others.
    std::string_view open = "<|im_start|>system\n";
    auto start = jinja.find(open);
    if (start == std::string_view::npos) {
        open = "<|im_start|>system\\n";
        start = jinja.find(open);
    }
    if (start == std::string_view::npos)
        return {};
    const auto end = jinja.find("<|im_end|>", start);
    if (end == std::string_view::npos)
        return {};
    const std::string_view raw = jinja.substr(start + open.size(), end - start - open.size());
    if (raw.find("{{") != std::string_view::npos || raw.find("{%") != std::string_view::npos)
        return {};
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\')
            ++i;
        else if (raw[i] == '\'' || raw[i] == '"')
            return {}; // the literal ends: the system text is built from the messages
    }
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) {
            const char c = raw[++i];
            out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        } else {
            out += raw[i];
        }
    }
    return out;
}

} // namespace

ChatTemplate::ChatTemplate(Kind kind, std::string defaultSystem)
    : m_kind(kind), m_defaultSystem(std::move(defaultSystem))
{
}

ChatTemplate ChatTemplate::detect(std::string_view jinja, std::string_view arch)
{
    if (jinja.find("<|header_start|>") != std::string_view::npos)
        return ChatTemplate(Kind::Llama4);
    if (jinja.find("<|start_header_id|>") != std::string_view::npos)
        return ChatTemplate(Kind::Llama3);
    if (jinja.find("<|im_start|>") != std::string_view::npos)
        return ChatTemplate(Kind::ChatML, chatmlDefaultSystem(jinja));
    if (arch == "llama4")
        return ChatTemplate(Kind::Llama4);
    if (arch == "llama")
        return ChatTemplate(Kind::Llama3);
    return ChatTemplate(Kind::ChatML);
}

std::string_view ChatTemplate::name() const
{
    switch (m_kind) {
    case Kind::ChatML:
        return "chatml";
    case Kind::Llama3:
        return "llama3";
    case Kind::Llama4:
        return "llama4";
    }
    return "";
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages, bool addAssistantPrompt) const
{
    std::string out;
    const bool hasSystem = !messages.empty() && messages.front().role == "system";
    switch (m_kind) {
    case Kind::ChatML:
        if (!hasSystem && !m_defaultSystem.empty())
            out += "<|im_start|>system\n" + m_defaultSystem + "<|im_end|>\n";
        for (const ChatMessage& m : messages)
            out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        if (addAssistantPrompt)
            out += "<|im_start|>assistant\n";
        break;
    case Kind::Llama3:
        // Llama 3: every message's content is trimmed.
        out += "<|begin_of_text|>";
        for (const ChatMessage& m : messages)
            out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
        if (addAssistantPrompt)
            out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        break;
    case Kind::Llama4:
        // Llama 4: only the system text is trimmed (llama4-architecture.md 11.2).
        out += "<|begin_of_text|>";
        for (std::size_t i = 0; i < messages.size(); ++i) {
            const ChatMessage& m = messages[i];
            const bool system = i == 0 && m.role == "system";
            out += "<|header_start|>" + m.role + "<|header_end|>\n\n" +
                   (system ? trim(m.content) : m.content) + "<|eot|>";
        }
        if (addAssistantPrompt)
            out += "<|header_start|>assistant<|header_end|>\n\n";
        break;
    }
    return out;
}

std::vector<std::string> ChatTemplate::stopStrings() const
{
    switch (m_kind) {
    case Kind::ChatML:
        return {"<|im_end|>"};
    case Kind::Llama3:
        return {"<|eot_id|>"};
    case Kind::Llama4:
        return {"<|eot|>", "<|eom|>"};
    }
    return {};
}

} // namespace quire::inference
