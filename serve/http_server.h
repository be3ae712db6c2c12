#pragma once
// The HTTP front of `pouch serve`: an epoll event loop on one thread
// (HTTP/1.1 with keep-alive; serve/http_request.h parses the heads):
//
//   POST /generate  {"prompt", "max_tokens", ...} (serve/generate_request.h)
//                   -> 200 {"text": completion, "version": N, "tokens": n}
//   GET  /health    -> 200 {"status": "ok"|"waiting", "version": N|null,
//                           "model": path|null, "watching": dir, "queue": n}
//
// Errors are {"error": "..."}: 400 bad request, 404 unknown route, 405 wrong
// method, 408 a request not received whole within io_timeout, 413 body over
// max_body_bytes, 431 head over 16 KiB, 501 chunked body, 503 no model yet,
// the generation line full or max_connections connections open.
//
// Threads: the loop thread (run()) accepts, reads, parses, answers /health
// itself and writes every response; no socket call ever blocks it, so slow
// or idle clients cost a connection slot each, never another client's turn.
// POST /generate is handed to the GenerationBatcher (its own thread runs the
// model, serve/generation_batcher.h), which posts the outcome back to the
// loop. Every request is logged: method, route, status, version, ms.
//
// Bounds: at most max_connections connections (one more is answered 503
// and closed); a request must arrive whole within io_timeout_ms of its
// first byte (else 408 and close); a response must be taken by the client
// within io_timeout_ms; a keep-alive connection idle for idle_timeout_ms
// between requests is closed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "serve/generation_batcher.h"
#include "serve/model_slot.h"

namespace pouch {

struct ServeOptions {
  std::string host = "127.0.0.1";  // loopback: not reachable from other machines
  int port = 8080;                 // 0: any free port (bind() returns it)
  std::int64_t max_queue = 256;    // requests waiting to join the batch
  std::int64_t max_batch = 64;     // requests decoded together
  std::size_t max_body_bytes = 65536;
  std::int64_t max_connections = 1024;
  std::int64_t io_timeout_ms = 10000;
  std::int64_t idle_timeout_ms = 30000;
  std::string source;    // what feeds the slot, for /health and the 503 message
  bool watching = true;  // source is a watched directory (else a fixed file)
};

class HttpServer {
 public:
  // Throws pouch::Error naming the option for a value out of range.
  HttpServer(ModelSlot& slot, ServeOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port; returns the port (the chosen one for port 0). Throws
  // pouch::Error naming the address when it cannot bind.
  int bind();
  // Serves until stop(); call after bind(), on a thread of its own or the
  // caller's.
  void run();
  // Ends run() (from any thread): no new connections; generations in
  // progress finish and are answered first.
  void stop();
  // The generation batcher's time in steps so far (benchmarks).
  StepTimes step_times() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pouch
