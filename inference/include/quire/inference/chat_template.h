// Chat prompt formats. The engine does not run Jinja: it recognises the model's template
// (GGUF tokenizer.chat_template or tokenizer_config.json) by its marker tokens and renders the
// same text itself. Known: ChatML (SmolLM2, Qwen2), Llama 3 and Llama 4 headers; a template
// that names none of them falls back by architecture. Immutable, thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace quire::inference {

struct ChatMessage {
    std::string role; // "system", "user", "assistant"
    std::string content;
};

class ChatTemplate {
public:
    enum class Kind { ChatML, Llama3, Llama4 };

    explicit ChatTemplate(Kind kind, std::string defaultSystem = {});
    // Picks the format from a Jinja template text (may be empty) and the architecture name.
    // ChatML templates that insert a default system prompt (SmolLM2's, Qwen2's) keep it.
    static ChatTemplate detect(std::string_view jinja, std::string_view arch);

    Kind kind() const { return m_kind; }
    std::string_view name() const;
    const std::string& defaultSystem() const { return m_defaultSystem; }

    // The prompt text, special tokens written out (tokenize with special-token parsing and
    // without an extra BOS); with addAssistantPrompt, ends with the assistant header.
    std::string render(std::span<const ChatMessage> messages, bool addAssistantPrompt = true) const;
    // Text that ends an assistant turn (also a stop string when it is not a single token).
    std::vector<std::string> stopStrings() const;

private:
    Kind m_kind;
    std::string m_defaultSystem;
};

} // namespace quire::inference
