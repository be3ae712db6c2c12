#include "serve/loopback_client.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace pouch {

namespace {

using Clock = std::chrono::steady_clock;

// The value of header `name` (lower-case) in raw header lines, or empty.
std::string_view header_value(std::string_view headers, std::string_view name) {
  std::size_t start = 0;
  while (start < headers.size()) {
    std::size_t end = headers.find("\r\n", start);
    if (end == std::string_view::npos) end = headers.size();
    const std::string_view line = headers.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon == name.size()) {
      bool same = true;
      for (std::size_t i = 0; i < colon && same; ++i)
        same = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
      if (same) {
        std::string_view v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        return v;
      }
    }
    start = end + 2;
  }
  return {};
}

}  // namespace

LoopbackClient::LoopbackClient(int port, std::chrono::milliseconds timeout) : port_(port), timeout_(timeout) {}

LoopbackClient::~LoopbackClient() { close(); }

void LoopbackClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

bool LoopbackClient::connect() {
  if (fd_ >= 0) return true;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = fmt::format("cannot connect to 127.0.0.1:{}: {}", port_, std::strerror(errno));
    close();
    return false;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool LoopbackClient::send_raw(std::string_view bytes) {
  if (!connect()) return false;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = fmt::format("send failed: {}", std::strerror(errno));
      close();
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool LoopbackClient::fill() {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    if (left <= 0) {
      error_ = fmt::format("no reply within {} ms", timeout_.count());
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n == 0 ? "the server closed the connection" : fmt::format("recv failed: {}", std::strerror(errno));
      return false;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
}

std::optional<HttpReply> LoopbackClient::read_reply() {
  if (fd_ < 0) {
    error_ = "not connected";
    return std::nullopt;
  }
  deadline_ = Clock::now() + timeout_;
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return close(), std::nullopt;
  HttpReply reply;
  const std::size_t eol = buffer_.find("\r\n");
  const std::string_view status_line(buffer_.data(), eol);
  const std::size_t sp = status_line.find(' ');
  if (sp == std::string_view::npos ||
      std::from_chars(status_line.data() + sp + 1, status_line.data() + status_line.size(), reply.status).ec !=
          std::errc()) {
    error_ = fmt::format("malformed status line \"{}\"", status_line);
    return close(), std::nullopt;
  }
  reply.headers = buffer_.substr(eol + 2, end - eol - 2);
  std::size_t length = 0;
  const std::string_view cl = header_value(reply.headers, "content-length");
  std::from_chars(cl.data(), cl.data() + cl.size(), length);
  reply.closes = header_value(reply.headers, "connection") == "close";
  while (buffer_.size() < end + 4 + length)
    if (!fill()) return close(), std::nullopt;
  reply.body = buffer_.substr(end + 4, length);
  buffer_.erase(0, end + 4 + length);
  if (reply.status == 100) return read_reply();
  if (reply.closes) close();
  return reply;
}

std::optional<HttpReply> LoopbackClient::request(std::string_view method, std::string_view path,
                                                 std::string_view body) {
  const std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n{}\r\n", method,
                                       path, body.size(), body.empty() ? "" : "Content-Type: application/json\r\n");
  if (!send_raw(head + std::string(body))) return std::nullopt;
  return read_reply();
}

bool LoopbackClient::closed_by_server() {
  if (fd_ < 0) return true;
  deadline_ = Clock::now() + timeout_;
  while (fill()) buffer_.clear();
  const bool eof = error_ == "the server closed the connection";
  close();
  return eof;
}

}  // namespace pouch
