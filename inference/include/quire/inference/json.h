// A small JSON reader for the engine's own needs (safetensors headers, config.json), since the
// engine core may use nothing beyond the C++ standard library. Parses RFC 8259 text into an
// immutable tree of Json values; numbers are doubles. Values are plain data: thread-safe to read.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "quire/inference/error.h"

namespace quire::inference {

class Json {
public:
    using Array = std::vector<Json>;
    using Object = std::map<std::string, Json, std::less<>>;

    Json() = default;
    explicit Json(std::nullptr_t) {}
    explicit Json(bool b) : m_value(b) {}
    explicit Json(double d) : m_value(d) {}
    explicit Json(std::string s) : m_value(std::move(s)) {}
    explicit Json(Array a) : m_value(std::move(a)) {}
    explicit Json(Object o) : m_value(std::move(o)) {}

    // Parses a whole document; trailing non-space text, depth past 512 or bad UTF-16 escapes
    // are errors with the byte offset in the message.
    static std::expected<Json, Error> parse(std::string_view text);

    bool isNull() const { return std::holds_alternative<std::monostate>(m_value); }
    bool isBool() const { return std::holds_alternative<bool>(m_value); }
    bool isNumber() const { return std::holds_alternative<double>(m_value); }
    bool isString() const { return std::holds_alternative<std::string>(m_value); }
    bool isArray() const { return std::holds_alternative<Array>(m_value); }
    bool isObject() const { return std::holds_alternative<Object>(m_value); }

    const bool* asBool() const { return std::get_if<bool>(&m_value); }
    const double* asNumber() const { return std::get_if<double>(&m_value); }
    const std::string* asString() const { return std::get_if<std::string>(&m_value); }
    const Array* asArray() const { return std::get_if<Array>(&m_value); }
    const Object* asObject() const { return std::get_if<Object>(&m_value); }
    // The number if it is an integer that fits in int64, else nullopt.
    std::optional<std::int64_t> asInt() const;

    // Member of an object (nullptr if this is not an object or the key is absent).
    const Json* find(std::string_view key) const;

private:
    std::variant<std::monostate, bool, double, std::string, Array, Object> m_value;
};

} // namespace quire::inference
