// Placeholder until the tokenizer.json loader lands in this branch.
#include "tokenizer/tokenizer_impl.h"

namespace quire::inference {

std::expected<Tokenizer, Error> tokenizerFromHuggingFace(const std::filesystem::path& path)
{
    return std::unexpected(
        Error{ErrorCode::Unsupported, path.string() + ": tokenizer.json is not supported yet"});
}

} // namespace quire::inference
