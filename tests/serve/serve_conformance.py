#!/usr/bin/env python3
"""Black-box conformance checks of a `pouch serve` binary, over loopback sockets.

usage: serve_conformance.py POUCH [--only CHECK[,CHECK...]] [--keep DIR]

Each check is one defect the serving rewrite fixed; each starts its own server
(on 127.0.0.1, port 0) so that one check's load cannot spill into another's:

  vocab        a model whose vocab_size (64, the plain config's) is larger than
               its tokenizer's alphabet answers sampled requests with 200, not
               500 "token id N is outside its vocabulary"
  idle         300 connections that sent half a request do not stop GET /health
               from being answered promptly
  body         a 20 KB body is read to its last byte (not refused with 413),
               also when sent as `curl -d` sends it (form Content-Type, and
               "Expect: 100-continue" as curl before 8 does for bodies over
               1 KiB); with --max-body-bytes B, bodies of B-1 and B bytes are
               read to their last byte, one of B+1 bytes gets 413
  health_rate  GET /health over 16 keep-alive connections: at least
               HEALTH_MIN_RPS requests/s (the old server managed 280-560)
  max_tokens   POST /generate without max_tokens is answered, with a bounded
               number of tokens
  watch        --watch RUN_DIR on a run with model.h5 and no published versions
               serves model.h5 as version 0

The model is trained by the binary itself (`pouch train`, a few steps of a
1-layer model), once, into a scratch directory. Everything is bounded: every
socket has a timeout, every loop a count, the whole run a deadline. Prints one
line per check and ends with "N passed, N failed"; exits 1 if any failed.
"""
import argparse
import http.client
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
HEALTH_MIN_RPS = 2000  # 4x above the old server's best, far under what an idle loop does
HEALTH_SECONDS = 2.0
IDLE_CONNECTIONS = 300
HEALTH_DEADLINE_S = 3.0  # /health beside the idle connections must answer within this
DEFAULT_MAX_TOKENS = 64  # serve/generate_request.h kDefaultMaxTokens


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


class Server:
    """A `pouch serve` process on a free port, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, pouch, args, workdir, name):
        self.log_path = os.path.join(workdir, f"serve-{name}.log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen([pouch, "serve", "--port", "0", *args], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                m = re.search(r"listening on http://[^:]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise CheckFailed(f"the server did not start: {self.tail()}")

    def tail(self):
        with open(self.log_path) as f:
            return f.read()[-800:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# What `curl -d` sends a body as when not told otherwise.
CURL_DEFAULT_TYPE = "application/x-www-form-urlencoded"


def status_and_body(r):
    """(status, the body as JSON, or as text when it is not JSON) of a response."""
    raw = r.read()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw.decode(errors="replace")


def call(port, method, path, body=None, timeout=20.0, content_type="application/json"):
    """One request on a fresh connection: (status, parsed JSON body or raw text)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": content_type})
        return status_and_body(conn.getresponse())
    finally:
        conn.close()


def wait_for_health(port, until, seconds=15.0):
    """Polls /health until until(body) holds; returns the last body."""
    deadline = time.monotonic() + seconds
    body = None
    while time.monotonic() < deadline:
        try:
            status, body = call(port, "GET", "/health", timeout=5)
            if status == 200 and until(body):
                return body
        except OSError:
            pass
        time.sleep(0.05)
    return body


def model_ready(body):
    return isinstance(body, dict) and body.get("status") == "ok"


# ---- the checks ----


def check_vocab(ctx):
    with Server(ctx.pouch, ["--weights", ctx.weights], ctx.workdir, "vocab") as s:
        expect(model_ready(wait_for_health(s.port, model_ready)), "the model never loaded")
        failures = []
        for seed in range(24):  # sampled: ids past the tokenizer's 31 carry most of the mass untrained
            status, body = call(s.port, "POST", "/generate",
                                {"prompt": "Q: 3+4=", "max_tokens": 32, "temperature": 1, "seed": seed})
            if status != 200:
                failures.append(f"seed {seed}: {status} {body}")
        expect(not failures, f"{len(failures)} of 24 sampled requests failed, e.g. {failures[:1]}")
        return "24 of 24 sampled requests answered 200"


def check_idle(ctx):
    with Server(ctx.pouch, ["--weights", ctx.weights], ctx.workdir, "idle") as s:
        expect(model_ready(wait_for_health(s.port, model_ready)), "the model never loaded")
        idle = []
        try:
            half = b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            for _ in range(IDLE_CONNECTIONS):
                sock = socket.create_connection((HOST, s.port), timeout=5)
                sock.sendall(half)
                idle.append(sock)
            time.sleep(0.2)  # let the server take them in
            t0 = time.monotonic()
            try:
                status, body = call(s.port, "GET", "/health", timeout=HEALTH_DEADLINE_S)
            except (socket.timeout, OSError) as e:
                raise CheckFailed(f"GET /health beside {IDLE_CONNECTIONS} half-sent requests: {e!r} "
                                  f"after {time.monotonic() - t0:.1f} s")
            ms = (time.monotonic() - t0) * 1000
            expect(status == 200, f"GET /health answered {status} {body}")
            return f"/health answered in {ms:.1f} ms beside {IDLE_CONNECTIONS} half-sent requests"
        finally:
            for sock in idle:
                sock.close()


def padded(fields, size):
    """A JSON body of exactly `size` bytes: `fields`, spaces, then "colour": 1 at the very end.

    The unknown field is the last thing in the body, so an answer naming it
    shows the server read the body to its last byte."""
    head = json.dumps(fields)[:-1] + ","
    tail = ' "colour": 1}'
    pad = size - len(head) - len(tail)
    assert pad >= 0, size
    return (head + " " * pad + tail).encode()


def post_expecting_continue(port, body, wait_s=3.0):
    """POST /generate as `curl -d @file` (before curl 8) sends a body over 1 KiB: its
    default Content-Type, the head with "Expect: 100-continue", the body only after
    the server's "100 Continue" (RFC 9110 10.1.1; a server may instead answer at once
    with a final status, and then the body is not sent). Returns (status, parsed body)."""
    sock = socket.create_connection((HOST, port), timeout=20)
    try:
        sock.sendall((f"POST /generate HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: {CURL_DEFAULT_TYPE}\r\n"
                      f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ)
        ready = sel.select(timeout=wait_s)
        sel.close()
        if not ready or sock.recv(16, socket.MSG_PEEK).startswith(b"HTTP/1.1 100"):
            sock.sendall(body)  # no interim answer within wait_s: send anyway, as curl does
        r = http.client.HTTPResponse(sock)  # begin() skips the 100 Continue
        r.begin()
        return status_and_body(r)
    finally:
        sock.close()


def read_to_end(status, answer):
    return status == 400 and "colour" in str(answer)


def check_body(ctx):
    results = []
    with Server(ctx.pouch, ["--weights", ctx.weights], ctx.workdir, "body-default") as s:
        expect(model_ready(wait_for_health(s.port, model_ready)), "the model never loaded")
        body = padded({"prompt": "Q", "max_tokens": 1}, 20000)
        # The server reads JSON whatever Content-Type says: curl -d labels it a form.
        for content_type in ("application/json", CURL_DEFAULT_TYPE):
            status, answer = call(s.port, "POST", "/generate", body, content_type=content_type)
            expect(read_to_end(status, answer), f"a 20000-byte body (limit 65536, Content-Type {content_type}) "
                   f"was not read to its end: {status} {answer}")
        status, answer = post_expecting_continue(s.port, body)
        expect(read_to_end(status, answer), f"a 20000-byte body (limit 65536) sent as curl -d does (form type, "
               f"\"Expect: 100-continue\") was not read to its end: {status} {answer}")
        results.append("20000 B (JSON, form type, form type + Expect: 100-continue): read")
    limit = 30000
    with Server(ctx.pouch, ["--weights", ctx.weights, "--max-body-bytes", str(limit)], ctx.workdir, "body-limit") as s:
        expect(model_ready(wait_for_health(s.port, model_ready)), "the model never loaded")
        for size in (limit - 1, limit):
            for send, how in ((lambda b: call(s.port, "POST", "/generate", b), "plain"),
                              (lambda b: post_expecting_continue(s.port, b), "Expect: 100-continue")):
                status, answer = send(padded({"prompt": "Q", "max_tokens": 1}, size))
                expect(read_to_end(status, answer),
                       f"a {size}-byte body ({how}, limit {limit}) was not read to its end: {status} {answer}")
            results.append(f"{size} B: read")
        status, answer = call(s.port, "POST", "/generate", padded({"prompt": "Q", "max_tokens": 1}, limit + 1))
        expect(status == 413, f"a {limit + 1}-byte body (limit {limit}) got {status}, not 413: {answer}")
        results.append(f"{limit + 1} B: 413")
    return ", ".join(results)


def health_rate(port, connections, seconds):
    """GET /health on `connections` keep-alive sockets, one request in flight on each,
    from one thread (selectors) so the client's own cost stays low. A connection the
    server closes after an answer (Connection: close) is opened again, as any client
    would. Returns requests/s."""
    request = f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()

    def connect():
        sock = socket.create_connection((HOST, port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sock.sendall(request)
        sel.register(sock, selectors.EVENT_READ, bytearray())

    for _ in range(connections):
        connect()
    done = reconnects = 0
    start = time.monotonic()
    end = start + seconds
    try:
        while time.monotonic() < end:
            events = sel.select(timeout=5)
            expect(events, "no /health answer within 5 s")
            for key, _ in events:
                sock, buf = key.fileobj, key.data
                chunk = sock.recv(65536)
                expect(chunk or not buf, f"the server closed a connection mid-answer: {bytes(buf)!r}")
                buf += chunk
                closing = not chunk
                # One answer is a head with Content-Length and that many bytes.
                while True:
                    head_end = buf.find(b"\r\n\r\n")
                    if head_end < 0:
                        break
                    head = bytes(buf[:head_end])
                    m = re.search(rb"content-length:\s*(\d+)", head, re.I)
                    expect(m, f"an answer without Content-Length: {head!r}")
                    whole = head_end + 4 + int(m.group(1))
                    if len(buf) < whole:
                        break
                    expect(buf.startswith(b"HTTP/1.1 200"), f"/health answered {bytes(buf[:40])!r}")
                    del buf[:whole]
                    done += 1
                    if re.search(rb"connection:\s*close", head, re.I):
                        closing = True
                        break
                    sock.sendall(request)
                if closing:
                    sel.unregister(sock)
                    sock.close()
                    reconnects += 1
                    connect()
        return done / (time.monotonic() - start), reconnects
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()


def check_health_rate(ctx):
    with Server(ctx.pouch, ["--weights", ctx.weights], ctx.workdir, "health") as s:
        expect(model_ready(wait_for_health(s.port, model_ready)), "the model never loaded")
        rate, reconnects = health_rate(s.port, 16, HEALTH_SECONDS)
        expect(rate >= HEALTH_MIN_RPS, f"GET /health at 16 keep-alive connections: {rate:.0f} requests/s, "
               f"under {HEALTH_MIN_RPS} ({reconnects} reconnections after Connection: close)")
        return (f"{rate:.0f} requests/s at 16 keep-alive connections, {reconnects} reconnections "
                "(this Python client's own limit included)")


def check_max_tokens(ctx):
    with Server(ctx.pouch, ["--weights", ctx.weights], ctx.workdir, "max-tokens") as s:
        expect(model_ready(wait_for_health(s.port, model_ready)), "the model never loaded")
        status, body = call(s.port, "POST", "/generate", {"prompt": "Q: 3+4=", "temperature": 0})
        expect(status == 200, f"POST /generate without max_tokens got {status}: {body}")
        expect(0 <= body["tokens"] <= DEFAULT_MAX_TOKENS, f"{body['tokens']} tokens, over the default bound")
        return f"200 with {body['tokens']} tokens (bound {DEFAULT_MAX_TOKENS})"


def check_watch(ctx):
    run = os.path.join(ctx.workdir, "watch-run")
    os.makedirs(run, exist_ok=True)
    shutil.copy(ctx.weights, os.path.join(run, "model.h5"))
    with Server(ctx.pouch, ["--watch", run, "--poll-ms", "50"], ctx.workdir, "watch") as s:
        health = wait_for_health(s.port, model_ready, seconds=10)
        expect(model_ready(health) and health.get("version") == 0,
               f"--watch on a run with model.h5 and no serve/: /health after 10 s is {health}")
        status, body = call(s.port, "POST", "/generate", {"prompt": "Q: 3+4=", "max_tokens": 4, "temperature": 0})
        expect(status == 200 and body.get("version") == 0, f"/generate got {status} {body}")
        return "model.h5 served as version 0"


CHECKS = {
    "vocab": check_vocab,
    "idle": check_idle,
    "body": check_body,
    "health_rate": check_health_rate,
    "max_tokens": check_max_tokens,
    "watch": check_watch,
}


def train_model(pouch, workdir):
    """A 1-layer model of the plain config (vocab_size 64 over the built-in task's
    31-character tokenizer), two steps: its model.h5 carries the tokenizer."""
    run = os.path.join(workdir, "trained")
    cmd = [pouch, "train", "--model.layers=1", "--model.d_model=32", "--model.heads=2", "--model.seq_len=64",
           "--model.vocab_size=64", "--train.batch_size=4", "--data.task_train_samples=200", "--log.peak_gflops=100",
           "--phases=1", "--phase.1.steps=2", f"--train.run_dir={run}"]
    done = subprocess.run(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    if done.returncode != 0:
        sys.exit(f"FAIL: training the test model failed ({done.returncode}):\n{done.stdout[-2000:]}")
    return os.path.join(run, "model.h5")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pouch", help="the pouch binary to check")
    parser.add_argument("--only", default="", help="comma-separated checks to run (default: all)")
    parser.add_argument("--keep", default="", help="work in this directory and keep it (logs, model)")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        sys.exit(f"unknown check(s) {unknown}; the checks are {', '.join(CHECKS)}")

    workdir = args.keep or tempfile.mkdtemp(prefix="serve-conformance-")
    os.makedirs(workdir, exist_ok=True)

    class Ctx:
        pass

    ctx = Ctx()
    ctx.pouch = os.path.abspath(args.pouch)
    ctx.workdir = workdir
    ctx.weights = train_model(ctx.pouch, workdir)

    passed = failed = 0
    try:
        for name in names:
            t0 = time.monotonic()
            try:
                detail = CHECKS[name](ctx)
                passed += 1
                print(f"PASS {name}: {detail} ({time.monotonic() - t0:.1f} s)", flush=True)
            except (CheckFailed, OSError, KeyError, TypeError) as e:
                failed += 1
                print(f"FAIL {name}: {e} ({time.monotonic() - t0:.1f} s)", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
