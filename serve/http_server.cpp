#include "serve/http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "runtime/error.h"
#include "runtime/log.h"
#include "serve/generate_request.h"
#include "serve/generation_queue.h"

namespace pouch {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kVersionHeader = "X-Pouch-Model-Version";

// httplib serves each connection on one pool thread from request line to
// response, so the start of the request being served lives per thread
// (set by the pre-routing handler, read by the logger).
thread_local std::optional<Clock::time_point> request_start;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // replace: a BPE completion cut mid-character is not valid UTF-8.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}});
}

// splitmix64 (Steele et al., "Fast splittable pseudorandom number
// generators", OOPSLA'14): spreads a counter into well-mixed seeds.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

struct HttpServer::Impl {
  Impl(ModelSlot& s, ServeOptions o) : slot(s), options(std::move(o)), queue(options.max_queue) {}

  ModelSlot& slot;
  ServeOptions options;
  GenerationQueue queue;
  httplib::Server server;
  int port = -1;
  // httplib's stop() does nothing until listen has started; these let
  // stop() called just before (or while) run() starts still end it.
  std::atomic<bool> stop_requested{false}, in_run{false};
  const std::uint64_t seed_base = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  std::atomic<std::uint64_t> request_counter{0};

  std::string no_model_message() const {
    if (!options.watching) return fmt::format("the model {} is not loaded", options.source);
    return fmt::format(
        "no model has been published to {} yet: a continual-learning run publishes one every K "
        "steps (publish_serving_version: v-NNNNNN.h5, then LATEST); until then try again later, or "
        "serve a fixed file with pouch serve --weights FILE",
        options.source);
  }

  void health(httplib::Response& res) {
    const auto model = slot.current();
    json body{{"status", model ? "ok" : "waiting"},
              {"version", model ? json(model->version()) : json(nullptr)},
              {"model", model ? json(model->path()) : json(nullptr)},
              {options.watching ? "watching" : "weights", options.source},
              {"queue", queue.in_line()}};
    if (model) res.set_header(kVersionHeader, std::to_string(model->version()));
    send_json(res, 200, body);
  }

  void generate(const httplib::Request& req, httplib::Response& res) {
    GenerateRequest request;
    try {
      request = parse_generate_request(req.body, options.max_body_bytes);
    } catch (const RequestError& e) {
      return send_error(res, e.status(), e.what());
    }
    if (!slot.current()) return send_error(res, 503, no_model_message());
    auto turn = queue.wait_turn();
    if (!turn)
      return send_error(res, 503,
                        fmt::format("the server is busy: {} requests already wait for the generator (pouch serve "
                                    "--max-queue); try again shortly",
                                    options.max_queue));
    // The snapshot that answers: taken at this request's turn, so it is the
    // newest version then, and held until the response is built.
    const std::shared_ptr<const ServingModel> model = slot.current();
    std::vector<std::int32_t> ids;
    try {
      ids = encode_generate_prompt(request, *model);
    } catch (const RequestError& e) {
      return send_error(res, e.status(), e.what());
    }
    GenerateOptions opt;
    opt.sampling = request.sampling;
    opt.max_tokens = request.max_tokens;
    opt.stop_token = model->tokenizer().eot_id();
    const std::uint64_t seed = request.seed ? *request.seed : splitmix64(seed_base + request_counter++);
    Completion completion;
    try {
      completion = model->generate(ids, opt, seed);
    } catch (const Error& e) {
      return send_error(res, 500, fmt::format("generation failed with version {}: {}", model->version(), e.what()));
    }
    res.set_header(kVersionHeader, std::to_string(model->version()));
    send_json(res, 200,
              json{{"text", completion.text},
                   {"version", model->version()},
                   {"tokens", static_cast<std::int64_t>(completion.ids.size())}});
  }

  // Routes are exact paths; a known path with another method is 405, any
  // other path 404. Answered before httplib reads a body it would discard.
  httplib::Server::HandlerResponse route_check(const httplib::Request& req, httplib::Response& res) {
    request_start = Clock::now();
    const char* allowed = req.path == "/generate" ? "POST" : req.path == "/health" ? "GET" : nullptr;
    if (allowed == nullptr) {
      send_error(res, 404, fmt::format("no route {}; the routes are POST /generate and GET /health", req.path));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != allowed) {
      res.set_header("Allow", allowed);
      send_error(res, 405, fmt::format("{} takes {}, not {}", req.path, allowed, req.method));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  // Errors httplib raises itself (413 for a body over the limit, 400 for a
  // malformed request) come with an empty body: give them the JSON form.
  httplib::Server::HandlerResponse fill_error(const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413)
      send_error(res, 413,
                 fmt::format("the request body is larger than the server's limit of {} bytes (pouch serve "
                             "--max-body-bytes)",
                             options.max_body_bytes));
    else
      send_error(res, res.status,
                 fmt::format("HTTP {}: the request is malformed or too large (request line, headers)", res.status));
    return httplib::Server::HandlerResponse::Handled;
  }

  void log_request(const httplib::Request& req, const httplib::Response& res) {
    const double ms =
        request_start ? std::chrono::duration<double, std::milli>(Clock::now() - *request_start).count() : 0.0;
    request_start.reset();
    const std::string version = res.get_header_value(kVersionHeader);
    log_info("serve: {} {} {} version {} {:.1f} ms", req.method, req.path, res.status, version.empty() ? "-" : version,
             ms);
  }
};

HttpServer::HttpServer(ModelSlot& slot, ServeOptions options)
    : impl_(std::make_unique<Impl>(slot, std::move(options))) {
  Impl& m = *impl_;
  if (m.options.max_queue < 0) fail("--max-queue must be >= 0 (got {})", m.options.max_queue);
  if (m.options.max_body_bytes == 0) fail("--max-body-bytes must be positive");
  if (m.options.threads < 0) fail("--threads must be >= 0 (got {})", m.options.threads);
  // Each request waiting for the generator holds its connection's thread, so
  // the pool must be larger than the line, with room for /health.
  const std::size_t threads = m.options.threads > 0 ? static_cast<std::size_t>(m.options.threads)
                                                    : static_cast<std::size_t>(m.options.max_queue) + 4;
  m.server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  m.server.set_payload_max_length(m.options.max_body_bytes);
  m.server.set_pre_routing_handler(
      [&m](const httplib::Request& req, httplib::Response& res) { return m.route_check(req, res); });
  m.server.set_error_handler(httplib::Server::HandlerWithResponse(
      [&m](const httplib::Request& req, httplib::Response& res) { return m.fill_error(req, res); }));
  m.server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, "internal error: " + what);
  });
  m.server.set_logger([&m](const httplib::Request& req, const httplib::Response& res) { m.log_request(req, res); });
  m.server.Get("/health", [&m](const httplib::Request&, httplib::Response& res) { m.health(res); });
  m.server.Post("/generate", [&m](const httplib::Request& req, httplib::Response& res) { m.generate(req, res); });
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind() {
  Impl& m = *impl_;
  if (m.options.port < 0 || m.options.port > 65535) fail("--port must be in [0, 65535] (got {})", m.options.port);
  const bool ok = m.options.port == 0 ? (m.port = m.server.bind_to_any_port(m.options.host)) > 0
                                      : m.server.bind_to_port(m.options.host, m.options.port);
  if (!ok)
    fail(
        "cannot listen on {}:{}: the port is in use or the host is not an address of this machine; pick another "
        "--port or --host",
        m.options.host, m.options.port);
  if (m.options.port != 0) m.port = m.options.port;
  return m.port;
}

void HttpServer::run() {
  POUCH_CHECK(impl_->port > 0, "HttpServer::run before bind");
  impl_->in_run = true;
  if (!impl_->stop_requested) impl_->server.listen_after_bind();
  impl_->in_run = false;
}

void HttpServer::stop() {
  impl_->stop_requested = true;
  while (impl_->in_run) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool HttpServer::running() const { return impl_->server.is_running(); }

}  // namespace pouch
