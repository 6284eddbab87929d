"""Test helpers for SDK tests: a real scripted ingest server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHTTPServer(ThreadingHTTPServer):
    """A client hanging up early (a closed stream, a timeout) is part of the tests, not an error to print."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # None: the accepted-counts answer
    hold: threading.Event | None = None  # wait on this before answering (a slow server)


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: dict[str, Any]


class IngestServer:
    """A real HTTP server answering POST /api/v1/ingest from a script of replies (then 200 for the rest)."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        self.paths: list[str] = []
        self._cv = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                body = json.loads(raw)
                with server._cv:
                    reply = server.script.popleft() if server.script else Reply()
                if reply.hold is not None:
                    reply.hold.wait(30)
                with server._cv:
                    server.paths.append(self.path)
                    server.received.append(Received(time.monotonic(), dict(self.headers.items()), body))
                    server._cv.notify_all()
                answer = reply.body
                if answer is None:
                    counts = {"spans": len(body.get("spans", [])), "feedback": len(body.get("feedback", []))}
                    answer = json.dumps({"accepted": counts}).encode()
                self.send_response(reply.status)
                content_type = "application/json" if reply.status < 400 else "application/problem+json"
                self.send_header("Content-Type", content_type)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: len(self.received) >= count, timeout)

    def spans(self) -> list[dict[str, Any]]:
        with self._cv:
            return [s for r in self.received for s in r.body.get("spans", [])]

    def feedback(self) -> list[dict[str, Any]]:
        with self._cv:
            return [f for r in self.received for f in r.body.get("feedback", [])]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
