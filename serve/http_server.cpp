#include "serve/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "runtime/error.h"
#include "runtime/log.h"
#include "serve/generate_request.h"
#include "serve/generation_batcher.h"
#include "serve/http_request.h"

namespace pouch {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeadBytes = 16384;
constexpr const char* kVersionHeader = "X-Pouch-Model-Version";
// How often the loop looks for timed-out connections (an O(connections) scan).
constexpr auto kSweepInterval = std::chrono::milliseconds(50);

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Internal Server Error";
  }
}

std::string json_text(const json& body) {
  // replace: a BPE completion cut mid-character is not valid UTF-8.
  return body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

struct Response {
  int status = 200;
  std::string body;           // JSON text
  std::int64_t version = -1;  // the X-Pouch-Model-Version header when >= 0
  const char* allow = nullptr;
};

Response error_response(int status, const std::string& message) { return {status, json_text({{"error", message}})}; }

std::string serialize(const Response& r, bool close) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n", r.status,
                                reason_phrase(r.status), r.body.size());
  if (r.version >= 0) out += fmt::format("{}: {}\r\n", kVersionHeader, r.version);
  if (r.allow) out += fmt::format("Allow: {}\r\n", r.allow);
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

void set_epoll(int epoll_fd, int op, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd, op, fd, &ev) != 0 && op != EPOLL_CTL_DEL)
    fail("serve: epoll_ctl on fd {} failed: {}", fd, std::strerror(errno));
}

// One client connection. Requests on it are answered in order: while a
// generation is in flight (busy) the next pipelined request waits unparsed.
struct Connection {
  int fd = -1;
  std::uint64_t id = 0;  // unique for the server's life (fds are reused)
  std::string in, out;
  std::size_t out_sent = 0;
  std::optional<HttpRequestHead> head;  // of the request being received
  bool busy = false;
  bool close_after_write = false;
  bool read_closed = false;         // the client shut down its side
  bool writing = false;             // EPOLLOUT is armed
  bool dead = false;                // to be closed once the current event is handled
  Clock::time_point request_start;  // first byte of the request being received or answered
  Clock::time_point last_activity;
  std::string method, path;  // of the request being answered (for the log)
  bool keep_alive = true;
};

struct Finished {
  int fd;
  std::uint64_t id;
  GenerationOutcome outcome;
};

}  // namespace

struct HttpServer::Impl {
  Impl(ModelSlot& s, ServeOptions o)
      : slot(s),
        options(std::move(o)),
        batcher(slot, options.max_batch, options.max_queue,
                (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

  ~Impl() {
    batcher.stop();
    for (auto& [fd, c] : connections) ::close(fd);
    for (int fd : {listen_fd, epoll_fd, wake_fd})
      if (fd >= 0) ::close(fd);
  }

  ModelSlot& slot;
  ServeOptions options;
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1, port = -1;
  std::unordered_map<int, std::unique_ptr<Connection>> connections;
  std::uint64_t next_id = 1;
  std::atomic<bool> stop_requested{false};
  std::mutex finished_mutex;
  std::vector<Finished> finished;  // guarded by finished_mutex; posted by the batcher's thread
  bool warned_fd_limit = false;
  GenerationBatcher batcher;  // declared last: stopped first, while the fds it wakes are open

  std::string no_model_message() const {
    if (!options.watching) return fmt::format("the model {} is not loaded", options.source);
    return fmt::format(
        "no model has been published to {} yet: a continual-learning run publishes one every K "
        "steps (publish_serving_version: v-NNNNNN.h5, then LATEST); until then try again later, or "
        "serve a fixed file with pouch serve --weights FILE",
        options.source);
  }

  void wake() const {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd, &one, sizeof one);
  }

  Response health() const {
    const auto model = slot.current();
    json body{{"status", model ? "ok" : "waiting"},
              {"version", model ? json(model->version()) : json(nullptr)},
              {"model", model ? json(model->path()) : json(nullptr)},
              {"device", model ? json(std::string(device_name(model->device()))) : json(nullptr)},
              {options.watching ? "watching" : "weights", options.source},
              {"queue", batcher.in_line()}};
    return {200, json_text(body), model ? model->version() : -1};
  }

  // ---- writing ----

  // The events the loop waits for on c: readable until the client shuts its
  // side, writable while a response is only partly sent.
  void watch(const Connection& c) {
    const std::uint32_t in = c.read_closed ? 0u : std::uint32_t{EPOLLIN};
    const std::uint32_t out = c.writing ? std::uint32_t{EPOLLOUT} : 0u;
    set_epoll(epoll_fd, EPOLL_CTL_MOD, c.fd, in | out);
  }

  void respond(Connection& c, const Response& r) {
    const bool close = c.close_after_write || !c.keep_alive || c.read_closed || stop_requested;
    c.close_after_write = close;
    c.out += serialize(r, close);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - c.request_start).count();
    log_info("serve: {} {} {} version {} {:.1f} ms", c.method.empty() ? "-" : c.method, c.path.empty() ? "-" : c.path,
             r.status, r.version >= 0 ? std::to_string(r.version) : std::string("-"), ms);
    flush(c);
  }

  void flush(Connection& c) {
    while (c.out_sent < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_sent += static_cast<std::size_t>(n);
        c.last_activity = Clock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c.writing) {
          c.writing = true;
          watch(c);
        }
        return;
      }
      c.dead = true;  // the client is gone
      return;
    }
    c.out.clear();
    c.out_sent = 0;
    if (c.writing) {
      c.writing = false;
      watch(c);
    }
    if (c.close_after_write) c.dead = true;
  }

  // ---- reading ----

  void read_from(Connection& c) {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        const auto now = Clock::now();
        if (c.in.empty() && !c.head && !c.busy) c.request_start = now;
        c.in.append(buf, static_cast<std::size_t>(n));
        c.last_activity = now;
        if (static_cast<std::size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0) {
        c.dead = true;
        return;
      }
      // Orderly shutdown of the client's side: answer what it sent, then close.
      c.read_closed = true;
      watch(c);
      break;
    }
    // A client pipelining while its generation runs may not pile up memory.
    if (c.busy && c.in.size() > kMaxHeadBytes + options.max_body_bytes) c.dead = true;
  }

  // Answers every request received whole, in order, until one is in flight.
  void process(Connection& c) {
    while (!c.busy && !c.close_after_write && !c.dead) {
      if (!c.head) {
        HttpHeadParse parsed = parse_http_head(c.in, kMaxHeadBytes);
        if (parsed.status != 0) {
          c.method.clear();
          c.path.clear();
          c.close_after_write = true;  // the rest of the stream cannot be trusted
          return respond(c, error_response(parsed.status, parsed.error));
        }
        if (!parsed.head) break;
        c.head = std::move(parsed.head);
        c.method = c.head->method;
        c.path = c.head->path;
        c.keep_alive = c.head->keep_alive;
        if (early_answer(c)) continue;
        if (c.head->expect_continue && c.in.size() < c.head->head_bytes + c.head->content_length) {
          c.out += "HTTP/1.1 100 Continue\r\n\r\n";
          flush(c);
        }
      }
      const std::size_t whole = c.head->head_bytes + c.head->content_length;
      if (c.in.size() < whole) break;
      std::string body = c.in.substr(c.head->head_bytes, c.head->content_length);
      c.in.erase(0, whole);
      c.head.reset();
      dispatch(c, body);
      if (!c.in.empty()) c.request_start = Clock::now();
    }
    if (c.read_closed && !c.busy && c.out.empty()) c.dead = true;
  }

  // Route and size checks on the head alone, before any body is read: a
  // request refused here closes the connection when it has a body (its bytes
  // are not read). Returns true when it answered.
  bool early_answer(Connection& c) {
    const HttpRequestHead& h = *c.head;
    const char* allowed = h.path == "/generate" ? "POST" : h.path == "/health" ? "GET" : nullptr;
    std::optional<Response> refusal;
    if (allowed == nullptr) {
      refusal = error_response(404, fmt::format("no route {}; the routes are POST /generate and GET /health", h.path));
    } else if (h.method != allowed) {
      refusal = error_response(405, fmt::format("{} takes {}, not {}", h.path, allowed, h.method));
      refusal->allow = allowed;
    } else if (h.content_length > options.max_body_bytes) {
      refusal = error_response(413, fmt::format("the request body has {} bytes, more than the server's limit of {} "
                                                "bytes (pouch serve --max-body-bytes)",
                                                h.content_length, options.max_body_bytes));
    }
    if (!refusal) return false;
    if (h.content_length > 0) {
      c.close_after_write = true;
    } else {
      c.in.erase(0, h.head_bytes);
    }
    c.head.reset();
    respond(c, *refusal);
    return true;
  }

  void dispatch(Connection& c, const std::string& body) {
    if (c.path == "/health") return respond(c, health());
    GenerateRequest request;
    try {
      request = parse_generate_request(body, options.max_body_bytes);
    } catch (const RequestError& e) {
      return respond(c, error_response(e.status(), e.what()));
    }
    if (!slot.current()) return respond(c, error_response(503, no_model_message()));
    c.busy = true;
    const int fd = c.fd;
    const std::uint64_t id = c.id;
    const bool queued = batcher.submit(std::move(request), [this, fd, id](GenerationOutcome outcome) {
      {
        std::lock_guard lock(finished_mutex);
        finished.push_back({fd, id, std::move(outcome)});
      }
      wake();
    });
    if (queued) return;
    c.busy = false;
    respond(c, error_response(
                   503, fmt::format("the server is busy: {} requests already decode or wait (pouch serve "
                                    "--max-batch {}, --max-queue {}); try again shortly",
                                    options.max_batch + options.max_queue, options.max_batch, options.max_queue)));
  }

  // ---- the loop ----

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if ((errno == EMFILE || errno == ENFILE) && !warned_fd_limit) {
          log_warn("serve: cannot accept a connection: {} (raise ulimit -n or lower --max-connections)",
                   std::strerror(errno));
          warned_fd_limit = true;
        }
        return;
      }
      if (static_cast<std::int64_t>(connections.size()) >= options.max_connections) {
        // Told plainly rather than left waiting; best effort, never blocks.
        const std::string refusal =
            serialize(error_response(503, fmt::format("the server has {} connections open, its limit (pouch serve "
                                                      "--max-connections); try again shortly",
                                                      options.max_connections)),
                      true);
        [[maybe_unused]] const auto n = ::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        log_info("serve: - - 503 version - 0.0 ms (connection limit {})", options.max_connections);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      set_epoll(epoll_fd, EPOLL_CTL_ADD, fd, EPOLLIN);
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      c->id = next_id++;
      c->request_start = c->last_activity = Clock::now();
      connections.emplace(fd, std::move(c));
    }
  }

  void close_if_dead(int fd) {
    auto it = connections.find(fd);
    if (it == connections.end() || !it->second->dead) return;
    set_epoll(epoll_fd, EPOLL_CTL_DEL, fd, 0);
    ::close(fd);
    connections.erase(it);
  }

  void on_event(int fd, std::uint32_t events) {
    auto it = connections.find(fd);
    if (it == connections.end()) return;
    Connection& c = *it->second;
    if (events & EPOLLERR) c.dead = true;
    if (!c.dead && (events & EPOLLIN) && !c.read_closed) read_from(c);
    // Both directions are shut (or reset): nothing sent now would arrive.
    if (events & EPOLLHUP) c.dead = true;
    if (!c.dead && (events & EPOLLOUT)) flush(c);
    if (!c.dead) process(c);
    close_if_dead(fd);
  }

  void answer_finished() {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(wake_fd, &count, sizeof count);
    std::vector<Finished> done;
    {
      std::lock_guard lock(finished_mutex);
      done.swap(finished);
    }
    for (Finished& f : done) {
      auto it = connections.find(f.fd);
      if (it == connections.end() || it->second->id != f.id) continue;  // the client left meanwhile
      Connection& c = *it->second;
      c.busy = false;
      const GenerationOutcome& o = f.outcome;
      Response r =
          o.status == 200
              ? Response{200, json_text({{"text", o.text}, {"version", o.version}, {"tokens", o.tokens}}), o.version}
              : error_response(o.status, o.error);
      r.version = o.version;
      respond(c, r);
      process(c);
      close_if_dead(f.fd);
    }
  }

  // Timeouts: a request not received whole within io_timeout of its first
  // byte (408), a response the client does not take within io_timeout, a
  // keep-alive connection idle past idle_timeout.
  void sweep(Clock::time_point now) {
    const auto io = std::chrono::milliseconds(options.io_timeout_ms);
    const auto idle = std::chrono::milliseconds(options.idle_timeout_ms);
    std::vector<int> dead;
    for (auto& [fd, cp] : connections) {
      Connection& c = *cp;
      if (c.busy) continue;
      if (stop_requested && c.out.empty()) {
        c.dead = true;
      } else if (!c.out.empty()) {
        if (now - c.last_activity > io) c.dead = true;
      } else if (c.head || !c.in.empty()) {
        if (now - c.request_start > io) {
          c.close_after_write = true;
          respond(c, error_response(408, fmt::format("the request did not arrive whole within {} ms (pouch serve "
                                                     "--io-timeout-ms)",
                                                     options.io_timeout_ms)));
        }
      } else if (now - c.last_activity > idle) {
        c.dead = true;
      }
      if (c.dead) dead.push_back(fd);
    }
    for (int fd : dead) close_if_dead(fd);
  }

  void loop() {
    epoll_event events[256];
    auto last_sweep = Clock::now();
    for (;;) {
      if (stop_requested && listen_fd >= 0) {
        set_epoll(epoll_fd, EPOLL_CTL_DEL, listen_fd, 0);
        ::close(listen_fd);
        listen_fd = -1;
        sweep(Clock::now());
      }
      if (stop_requested && connections.empty()) return;
      const int n = ::epoll_wait(epoll_fd, events, 256, static_cast<int>(kSweepInterval.count()));
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd) {
          accept_all();
        } else if (fd == wake_fd) {
          answer_finished();
        } else {
          on_event(fd, events[i].events);
        }
      }
      const auto now = Clock::now();
      if (now - last_sweep >= kSweepInterval) {
        sweep(now);
        last_sweep = now;
      }
    }
  }
};

namespace {

// Each connection holds a descriptor: make sure max_connections of them fit
// under RLIMIT_NOFILE (raising the soft limit up to the hard one if needed).
void ensure_fd_limit(std::int64_t max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t needed = static_cast<rlim_t>(max_connections) + 64;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? needed : std::min(needed, lim.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < needed)
      fail(
          "--max-connections {} needs {} file descriptors but this process may open {} (ulimit -n): lower "
          "--max-connections or raise the limit",
          max_connections, needed, static_cast<std::uint64_t>(lim.rlim_cur));
  }
}

}  // namespace

HttpServer::HttpServer(ModelSlot& slot, ServeOptions options) {
  if (options.max_body_bytes == 0) fail("--max-body-bytes must be positive");
  if (options.max_connections < 1) fail("--max-connections must be >= 1 (got {})", options.max_connections);
  if (options.io_timeout_ms < 1) fail("--io-timeout-ms must be >= 1 (got {})", options.io_timeout_ms);
  if (options.idle_timeout_ms < 1) fail("--idle-timeout-ms must be >= 1 (got {})", options.idle_timeout_ms);
  ensure_fd_limit(options.max_connections);
  impl_ = std::make_unique<Impl>(slot, std::move(options));
  Impl& m = *impl_;
  m.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  m.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m.epoll_fd < 0 || m.wake_fd < 0) fail("serve: cannot create the event loop: {}", std::strerror(errno));
  set_epoll(m.epoll_fd, EPOLL_CTL_ADD, m.wake_fd, EPOLLIN);
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind() {
  Impl& m = *impl_;
  if (m.options.port < 0 || m.options.port > 65535) fail("--port must be in [0, 65535] (got {})", m.options.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(m.options.port);
  auto cannot = [&](const std::string& why) {
    fail("cannot listen on {}:{}: {}; pick another --port or --host (an address of this machine)", m.options.host,
         m.options.port, why);
  };
  if (const int rc = ::getaddrinfo(m.options.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    cannot(gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = found; a && m.listen_fd < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      m.listen_fd = fd;
    } else {
      why = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  if (m.listen_fd < 0) cannot(why);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(m.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  m.port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  set_epoll(m.epoll_fd, EPOLL_CTL_ADD, m.listen_fd, EPOLLIN);
  return m.port;
}

void HttpServer::run() {
  POUCH_CHECK(impl_->port > 0, "HttpServer::run before bind");
  impl_->loop();
}

StepTimes HttpServer::step_times() const { return impl_->batcher.step_times(); }

void HttpServer::stop() {
  impl_->stop_requested = true;
  impl_->wake();
}

}  // namespace pouch
