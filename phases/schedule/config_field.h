#pragma once
// A config key's field in a struct (RunConfig, or one phase's PhaseConfig),
// reached through an accessor so nested structs need no member-pointer
// chains; the variant's alternative also fixes the value's type. One set of
// rules for reading, writing and naming the type of every key.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "runtime/optim_config.h"

namespace pouch {

template <typename S>
using ConfigField = std::variant<std::int64_t& (*)(S&), std::uint64_t& (*)(S&), float& (*)(S&), double& (*)(S&),
                                 bool& (*)(S&), std::string& (*)(S&), LrSchedule& (*)(S&)>;

// A capture-less lambda, so it converts to the ConfigField alternative of its type.
#define POUCH_FIELD_OF(Struct, member) \
  [](Struct & c) -> auto& { return c.member; }

namespace config_field_detail {

template <typename T>
struct ValueType;
template <typename T, typename S>
struct ValueType<T& (*)(S&)> {
  using type = T;
};

template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  if constexpr (std::is_unsigned_v<T>) {
    if (text[0] == '-') return false;  // from_chars would not wrap, but say "no" plainly
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if constexpr (std::is_floating_point_v<T>) return std::isfinite(out);
  return true;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return out;
}

}  // namespace config_field_detail

template <typename S>
std::string field_type_name(const ConfigField<S>& field) {
  return std::visit(
      [](auto get) -> std::string {
        using T = typename config_field_detail::ValueType<decltype(get)>::type;
        if constexpr (std::is_same_v<T, std::int64_t>) return "int";
        if constexpr (std::is_same_v<T, std::uint64_t>) return "uint";
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) return "float";
        if constexpr (std::is_same_v<T, bool>) return "bool";
        if constexpr (std::is_same_v<T, std::string>) return "string";
        if constexpr (std::is_same_v<T, LrSchedule>) return "constant|cosine";
      },
      field);
}

template <typename S>
bool field_is_bool(const ConfigField<S>& field) {
  return std::holds_alternative<bool& (*)(S&)>(field);
}

// The value as INI text (floats: the shortest text that reads back the same).
template <typename S>
std::string format_field(const ConfigField<S>& field, const S& config) {
  // The accessors take a mutable struct only so one table serves reading
  // and writing; this path only reads.
  S& c = const_cast<S&>(config);
  return std::visit(
      [&](auto get) -> std::string {
        const auto& v = get(c);
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>)
          return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, LrSchedule>)
          return v == LrSchedule::Constant ? "constant" : "cosine";
        else
          return fmt::format("{}", v);
      },
      field);
}

// Sets the field from text; returns what was expected when the text does not
// parse, or "" on success.
template <typename S>
std::string assign_field(const ConfigField<S>& field, S& config, const std::string& text) {
  using config_field_detail::lower;
  using config_field_detail::parse_number;
  return std::visit(
      [&](auto get) -> std::string {
        auto& v = get(config);
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          v = text;
          return "";
        } else if constexpr (std::is_same_v<T, bool>) {
          std::string t = lower(text);
          if (t == "true" || t == "1" || t == "yes" || t == "on")
            v = true;
          else if (t == "false" || t == "0" || t == "no" || t == "off")
            v = false;
          else
            return "expected true or false";
          return "";
        } else if constexpr (std::is_same_v<T, LrSchedule>) {
          std::string t = lower(text);
          if (t == "constant")
            v = LrSchedule::Constant;
          else if (t == "cosine")
            v = LrSchedule::Cosine;
          else
            return "expected constant or cosine";
          return "";
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          return parse_number(text, v) ? "" : "expected a non-negative integer";
        } else if constexpr (std::is_integral_v<T>) {
          return parse_number(text, v) ? "" : "expected an integer";
        } else {
          return parse_number(text, v) ? "" : "expected a finite number such as 0.001 or 1e-3";
        }
      },
      field);
}

}  // namespace pouch
