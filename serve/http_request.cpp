#include "serve/http_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace pouch {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "close" or "keep-alive" among the comma-separated tokens of a Connection header.
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

HttpHeadParse refuse(int status, std::string error) { return HttpHeadParse{std::nullopt, status, std::move(error)}; }

}  // namespace

HttpHeadParse parse_http_head(std::string_view received, std::size_t max_head_bytes) {
  const std::size_t end = received.find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 > max_head_bytes) {
    if (received.size() >= max_head_bytes || end != std::string_view::npos)
      return refuse(431, fmt::format("the request line and headers are larger than {} bytes", max_head_bytes));
    return {};
  }
  std::string_view rest = received.substr(0, end + 2);
  auto next_line = [&rest] {
    const std::size_t eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    return line;
  };

  HttpRequestHead head;
  head.head_bytes = end + 4;
  const std::string_view request_line = next_line();
  const std::size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || sp1 == 0)
    return refuse(400, "the request line is not \"METHOD /path HTTP/1.1\"");
  head.method = request_line.substr(0, sp1);
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1), version = request_line.substr(sp2 + 1);
  if (target.empty() || target.front() != '/') return refuse(400, "the request target must be a path starting with /");
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return refuse(505, fmt::format("HTTP version {} is not served; use HTTP/1.1", version));
  head.path = target.substr(0, target.find('?'));
  head.keep_alive = version == "HTTP/1.1";

  bool have_length = false;
  while (!rest.empty()) {
    const std::string_view line = next_line();
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return refuse(400, "a header line has no \"Name: value\" form");
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      std::size_t length = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (ec != std::errc() || ptr != value.data() + value.size() || value.empty())
        return refuse(400, fmt::format("Content-Length \"{}\" is not a non-negative integer", value));
      if (have_length && length != head.content_length) return refuse(400, "two different Content-Length headers");
      head.content_length = length;
      have_length = true;
    } else if (iequals(name, "Transfer-Encoding")) {
      return refuse(501, "Transfer-Encoding (chunked bodies) is not supported; send the body with Content-Length");
    } else if (iequals(name, "Connection")) {
      if (has_token(value, "close")) head.keep_alive = false;
      if (has_token(value, "keep-alive")) head.keep_alive = true;
    } else if (iequals(name, "Expect")) {
      if (!iequals(value, "100-continue")) return refuse(417, fmt::format("Expect: {} is not supported", value));
      head.expect_continue = true;
    }
  }
  return HttpHeadParse{std::move(head), 0, {}};
}

}  // namespace pouch
