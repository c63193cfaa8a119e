#!/usr/bin/env python3
"""kill -9 under load: how many answered requests are missing from the ledger afterwards.

Starts the built `switchyard` binary on a fresh SQLite database with one account pointing at a
local fixed-answer upstream, sends chat requests from several threads, kills the server with
SIGKILL mid-load, starts it again on the same data folder (which replays any spill file), and
compares the requests that got a 200 with the rows in `usage_events`.

    bench/kill9.py [path/to/switchyard] [seconds of load before the kill] [threads]
"""
import http.server
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "switchyard")
LOAD_SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 16
KEY = "sk-sy-kill9-0123456789abcdef"

ANSWER = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
}).encode()


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def do_GET(self):
        self.do_POST()

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # connections the killed gateway dropped


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data, port, config):
    env = dict(os.environ, SWITCHYARD_ADDR=f"127.0.0.1:{port}",
               DATABASE_URL=f"sqlite://{data}/switchyard.db", SWITCHYARD_DATA_DIR=data,
               SWITCHYARD_CONFIG=config, SWITCHYARD_PROBE_INTERVAL_SECS="0", RUST_LOG="error")
    proc = subprocess.Popen([BIN], env=env, stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def main():
    upstream = QuietServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    data = tempfile.mkdtemp(prefix="switchyard-kill9-")
    config = os.path.join(data, "config.yaml")
    with open(config, "w") as f:
        f.write(f"""admin: {{ username: admin, password: kill9-password-1 }}
accounts:
  - {{ name: main, kind: openai, api_key: upstream-key, base_url: "http://127.0.0.1:{upstream.server_address[1]}" }}
models:
  - {{ name: primary-llm, targets: [ {{ account: main, model: gpt-4o }} ] }}
keys:
  - {{ name: load, key: {KEY} }}
""")
    port = free_port()
    proc = start(data, port, config)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = json.dumps({"model": "primary-llm",
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    answered = 0
    lock = threading.Lock()
    stop = threading.Event()

    def load():
        nonlocal answered
        while not stop.is_set():
            request = urllib.request.Request(url, data=body, headers={
                "authorization": f"Bearer {KEY}", "content-type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    response.read()
                    if response.status == 200:
                        with lock:
                            answered += 1
            except OSError:
                pass

    threads = [threading.Thread(target=load) for _ in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(LOAD_SECONDS)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join()

    spill = os.path.join(data, "usage-spill.jsonl")
    spilled = os.path.getsize(spill) if os.path.exists(spill) else 0
    proc = start(data, port, config)
    time.sleep(2)  # replay of the spill file, if any
    rows = sqlite3.connect(os.path.join(data, "switchyard.db")).execute(
        "SELECT COUNT(*) FROM usage_events").fetchone()[0]
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    lost = max(answered - rows, 0)
    print(json.dumps({"load_seconds": LOAD_SECONDS, "threads": THREADS,
                      "answered_200": answered, "ledger_rows": rows, "lost": lost,
                      "lost_percent": round(100 * lost / answered, 3) if answered else 0,
                      "spill_bytes_at_kill": spilled}))


if __name__ == "__main__":
    main()
