#pragma once
// The head of an HTTP/1.x request (request line and headers), parsed from
// the bytes a connection has received so far. The server reads the body
// itself: Content-Length bytes after the head (no chunked bodies).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pouch {

struct HttpRequestHead {
  std::string method;
  std::string path;            // the target without its ?query
  std::size_t head_bytes = 0;  // request line + headers + the blank line
  std::size_t content_length = 0;
  bool keep_alive = true;  // HTTP/1.1 default; HTTP/1.0 only with "Connection: keep-alive"
  bool expect_continue = false;
};

// What a received prefix holds: nothing whole yet (nullopt head, status 0),
// a head, or an error the server answers before closing (status 400, 431
// head over max_head_bytes, 501 Transfer-Encoding, 505 not HTTP/1.x).
struct HttpHeadParse {
  std::optional<HttpRequestHead> head;
  int status = 0;
  std::string error;
};

HttpHeadParse parse_http_head(std::string_view received, std::size_t max_head_bytes);

}  // namespace pouch
