"""A real OpenAI-compatible server for the tests (llama.cpp serving SmolLM2 on loopback), and a proxy in front
of it that injects faults: 429 with Retry-After, 500, replies slower than the client's timeout, dropped
connections and malformed JSON. The proxy also counts the requests the server really answered."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from curation.llm.local import default_gguf

MODEL = "smollm2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()), "--host", "127.0.0.1",
               "--port", str(self.port), "--model_alias", MODEL, "--n_ctx", "2048", "--n_threads", "2"]
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: the server logs a lot and a full pipe blocks it
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"llama_cpp.server exited: {self.log.read().decode()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.base_url}/models", timeout=2).read()
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("llama_cpp.server did not start within 120 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class FaultProxy:
    """Forwards to the server; `faults` is a cycle of what to do with successive requests ('ok' forwards)."""

    def __init__(self, upstream_port: int, faults: list[str], slow_seconds: float = 3.0):
        self.upstream_port = upstream_port
        self.cycle = itertools.cycle(faults)
        self.slow_seconds = slow_seconds
        self.seen: Counter[str] = Counter()
        self.answered = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                             **(headers or {})}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy.lock:
                    fault = next(proxy.cycle)
                    proxy.seen[fault] += 1
                if fault == "429":
                    self._reply(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "0.2"})
                elif fault == "500":
                    self._reply(500, b'{"error": {"message": "internal"}}')
                elif fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.connection.close()
                    self.close_connection = True
                elif fault == "malformed":
                    self._reply(200, b'{"id": "x", "choices": [{"message": ')
                else:
                    if fault == "slow":
                        time.sleep(proxy.slow_seconds)
                    self._forward(body)

            def _forward(self, body: bytes) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=300)
                headers = {"Content-Type": "application/json"}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if self.command == "POST" and resp.status == 200:
                    with proxy.lock:
                        proxy.answered += 1
                with contextlib.suppress(OSError):  # the client gave up (timeout): the server still did the work
                    self._reply(resp.status, data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
