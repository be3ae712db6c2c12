#pragma once
// A small blocking HTTP/1.1 client for 127.0.0.1, one keep-alive connection:
// what the serve benchmark and the serve tests drive the server with. Every
// wait is bounded by the timeout given at construction. Raw bytes can be
// sent too (send_raw), for half-sent requests and pipelining.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pouch {

struct HttpReply {
  int status = 0;
  std::string headers;  // the raw header lines
  std::string body;
  bool closes = false;  // the server said Connection: close
};

class LoopbackClient {
 public:
  LoopbackClient(int port, std::chrono::milliseconds timeout);
  ~LoopbackClient();
  LoopbackClient(const LoopbackClient&) = delete;
  LoopbackClient& operator=(const LoopbackClient&) = delete;

  // One request (Content-Length body) and its reply, reconnecting first when
  // the connection is closed. nullopt on a timeout, a refused connection or
  // a connection the server closed early (error() says which).
  std::optional<HttpReply> request(std::string_view method, std::string_view path, std::string_view body = {});
  // Connects if needed and sends `bytes` as they are; false on failure.
  bool send_raw(std::string_view bytes);
  // Reads one reply to what was sent.
  std::optional<HttpReply> read_reply();
  // True once the server has closed this connection (reads return EOF),
  // waiting up to the timeout for that.
  bool closed_by_server();
  void close();
  const std::string& error() const { return error_; }

 private:
  bool connect();
  bool fill();  // reads more bytes into buffer_, waiting up to the deadline

  int port_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_, error_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace pouch
