#!/usr/bin/env bash
# pouch serve end to end: a server watching a run directory waits, picks up a
# version published by hand with the LATEST protocol (tmp + rename), answers
# /generate, refuses bad requests, and stops on SIGTERM; then --weights mode
# and SIGINT, on the simulated device, which must sample the same text as
# the CPU. Every wait is bounded.  usage: e2e_serve.sh POUCH
set -euo pipefail
pouch=$1
py=/usr/bin/python3
dir=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"

free_port() { $py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Sends SIGNAL to the server and waits (at most 15 s) for it to exit 0.
stop_server() {
  kill "-$1" "$server_pid"
  for _ in $(seq 150); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then echo "FAIL: pouch serve did not stop on SIG$1"; exit 1; fi
  local status=0
  wait "$server_pid" || status=$?
  server_pid=""
  [[ $status -eq 0 ]] || { echo "FAIL: pouch serve exited $status after SIG$1"; cat serve.log; exit 1; }
}

"$pouch" serve --help | grep -q -- "--watch"
if "$pouch" serve --port 1 > none.log 2>&1; then echo "FAIL: serve without --watch/--weights succeeded"; exit 1; fi
grep -q -- "--watch RUN_DIR" none.log

# A tiny trained model: its model.h5 carries the tokenizer.
"$pouch" train --model.layers=1 --model.d_model=32 --model.heads=2 --model.seq_len=64 --train.batch_size=4 \
  --data.task_train_samples=200 --log.peak_gflops=100 --phases=1 --phase.1.steps=2 --train.run_dir=run > train.log
test -s run/model.h5

port=$(free_port)
"$pouch" serve --watch run --port "$port" --poll-ms 50 --device cpu > serve.log 2>&1 &
server_pid=$!

timeout 60 $py - "$port" "$dir" <<'PY'
import json, os, shutil, sys, time, urllib.error, urllib.request
port, root = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

for _ in range(200):  # the server may still be starting
    try:
        status, health = call("GET", "/health")
        break
    except (urllib.error.URLError, ConnectionError):
        time.sleep(0.05)
else:
    sys.exit("FAIL: the server never answered /health")
# Nothing published yet: the run's model.h5 answers, as version 0.
assert status == 200 and health["status"] == "ok" and health["version"] == 0, health
assert health["model"].endswith("model.h5"), health
status, body = call("POST", "/generate", {"prompt": "Q: 3+4="})  # max_tokens is optional
assert status == 200 and body["version"] == 0, (status, body)

# Publish version 1 by hand, as publish_serving_version does: the file under
# a .tmp name, renamed into place, then LATEST the same way.
serve = os.path.join(root, "run", "serve")
os.makedirs(serve)
shutil.copy(os.path.join(root, "run", "model.h5"), os.path.join(serve, "v-000001.h5.tmp"))
os.rename(os.path.join(serve, "v-000001.h5.tmp"), os.path.join(serve, "v-000001.h5"))
with open(os.path.join(serve, "LATEST.tmp"), "w") as f:
    f.write("1 v-000001.h5\n")
os.rename(os.path.join(serve, "LATEST.tmp"), os.path.join(serve, "LATEST"))

for _ in range(200):
    status, health = call("GET", "/health")
    if health["version"] == 1:
        break
    time.sleep(0.05)
else:
    sys.exit(f"FAIL: version 1 was not picked up: {health}")
assert health["status"] == "ok" and health["model"].endswith("v-000001.h5") and health["device"] == "cpu", health

# Sampled (seeded), so that the text depends on every logit: the sim server
# below must give the same.
status, body = call("POST", "/generate",
                    {"prompt": "Q: 3+4=", "max_tokens": 12, "temperature": 1.0, "seed": 7, "ignore_eos": True})
assert status == 200 and body["version"] == 1 and body["tokens"] == 12, (status, body)
print("generated:", repr(body["text"]))
with open(os.path.join(root, "cpu_text.json"), "w") as f:
    json.dump(body["text"], f)
assert call("GET", "/nowhere")[0] == 404
assert call("GET", "/generate")[0] == 405
assert call("POST", "/generate", b"{oops")[0] == 400
assert call("POST", "/generate", {"prompt": "Q", "max_tokens": 8, "colour": 1})[0] == 400
assert call("POST", "/generate", {"prompt": "Q" * 70000, "max_tokens": 1})[0] == 413
print("watch mode ok")
PY
stop_server TERM
grep -q "SIGTERM received, stopping" serve.log
grep -q "POST /generate 200 version 1" serve.log

# One fixed file on the simulated device (delays on), stopped with SIGINT: the
# same weights and seed give the CPU's sampled text.
port=$(free_port)
POUCH_SIM_DELAY_US=0:20 "$pouch" serve --weights run/model.h5 --port "$port" --device sim > serve.log 2>&1 &
server_pid=$!
timeout 60 $py - "$port" cpu_text.json <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
cpu_text = json.load(open(sys.argv[2]))
for _ in range(200):
    try:
        with urllib.request.urlopen(base + "/health", timeout=20) as r:
            health = json.loads(r.read())
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("FAIL: the server never answered /health")
assert health["status"] == "ok" and health["version"] == 0 and health["device"] == "sim", health
request = {"prompt": "Q: 3+4=", "max_tokens": 12, "temperature": 1.0, "seed": 7, "ignore_eos": True}
req = urllib.request.Request(base + "/generate", data=json.dumps(request).encode(),
                             method="POST")
with urllib.request.urlopen(req, timeout=20) as r:
    body = json.loads(r.read())
assert body["version"] == 0 and body["tokens"] == 12, body
assert body["text"] == cpu_text, f"sim generated {body['text']!r}, cpu {cpu_text!r}"
print("weights mode on sim ok:", repr(body["text"]))
PY
stop_server INT

# A port already taken is a clear error, not a hang.
$py -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' > held_port &
holder=$!
for _ in $(seq 50); do [[ -s held_port ]] && break; sleep 0.1; done
if timeout 20 "$pouch" serve --weights run/model.h5 --port "$(cat held_port)" > taken.log 2>&1; then
  kill "$holder"; echo "FAIL: serving on a taken port succeeded"; exit 1
fi
kill "$holder"
grep -q "cannot listen on 127.0.0.1:$(cat held_port)" taken.log
echo "e2e serve ok"
