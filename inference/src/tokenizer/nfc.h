// Unicode Normalization Form C, for tokenizer.json files whose normalizer is NFC (Qwen2).
// Tables are generated (unicode_normalization.inc, same Unicode version as the categories).
// Pure functions; thread-safe. Bytes that are not valid UTF-8 pass through unchanged.
#pragma once

#include <string>
#include <string_view>

namespace quire::inference::tok {

// True when the text is certainly in NFC already (the NFC_Quick_Check fast path; most text).
bool isNfcQuick(std::string_view text);
std::string toNfc(std::string_view text);

} // namespace quire::inference::tok
