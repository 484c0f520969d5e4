// A small JSON reader (RFC 8259) for tokenizer.json and its companions: a DOM of values, strict
// parsing with a depth limit, errors that say where. Not a general-purpose library: objects keep
// their members in file order and lookups are linear, which suits the few keys read here.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace quire::inference::json {

struct Value;
struct Member;
using Array = std::vector<Value>;
using Object = std::vector<Member>;

struct Value {
    std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v;

    bool isNull() const { return std::holds_alternative<std::nullptr_t>(v); }
    const std::string* string() const { return std::get_if<std::string>(&v); }
    const Array* array() const { return std::get_if<Array>(&v); }
    const Object* object() const { return std::get_if<Object>(&v); }
    const double* number() const { return std::get_if<double>(&v); }
    const bool* boolean() const { return std::get_if<bool>(&v); }
    // Member of an object, or nullptr (also when this is not an object).
    const Value* get(std::string_view key) const;
    std::string_view stringOr(std::string_view key, std::string_view fallback) const;
    bool boolOr(std::string_view key, bool fallback) const;
};

struct Member {
    std::string key;
    Value value;
};

// Parses a whole document; the error says what is wrong and at which line.
std::expected<Value, std::string> parse(std::string_view text);

} // namespace quire::inference::json
