#pragma once
// The HTTP front of `pouch serve` (cpp-httplib underneath, kept out of this
// header so its configuration macros stay in http_server.cpp):
//
//   POST /generate  {"prompt", "max_tokens", ...} (serve/generate_request.h)
//                   -> 200 {"text": completion, "version": N, "tokens": n}
//   GET  /health    -> 200 {"status": "ok"|"waiting", "version": N|null,
//                           "model": path|null, "watching": dir, "queue": n}
//
// Errors are {"error": "..."}: 400 bad request, 404 unknown route, 405 wrong
// method, 413 body over max_body_bytes, 503 no model yet or the line of
// waiting requests full, 500 a failure inside generation.
//
// Each request takes one snapshot of the ModelSlot when its turn at the
// generator comes (GenerationQueue: one generation at a time, first come
// first served) and uses it for validation, generation and the "version" of
// its answer. Every request is logged: method, route, status, version, ms.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "serve/model_slot.h"

namespace pouch {

struct ServeOptions {
  std::string host = "127.0.0.1";  // loopback: not reachable from other machines
  int port = 8080;                 // 0: any free port (bind() returns it)
  std::int64_t max_queue = 64;     // requests waiting behind the one generating
  std::size_t max_body_bytes = 65536;
  int threads = 0;       // connection threads; 0: max_queue + 4
  std::string source;    // what feeds the slot, for /health and the 503 message
  bool watching = true;  // source is a watched directory (else a fixed file)
};

class HttpServer {
 public:
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
  // Stops run() (from any thread): no new connections; requests in progress
  // finish.
  void stop();
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pouch
