"""The demo's stand-in for a pager: a local HTTP endpoint that takes the alert engine's webhook notifications
(Alertmanager webhook payload, version 4) and prints one line per notification, so the console shows what an
on-call engineer would receive.

Standard library only; it listens on 127.0.0.1 (a free port) and never leaves the machine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

PATH: Final = "/notify"
_MAX_BODY: Final = 4 * 1024 * 1024


def describe(payload: Mapping[str, Any]) -> str:
    """One line about a notification: its status, alert name, the slice and severity of its first alert, and the
    link to that alert's page (where its chart is)."""
    alerts = [a for a in payload.get("alerts") or () if isinstance(a, Mapping)]
    group = payload.get("groupLabels") or {}
    first: Mapping[str, Any] = alerts[0] if alerts else {}
    labels: Mapping[str, Any] = first.get("labels") or {}
    name = labels.get("alertname") or group.get("alertname") or "?"
    dims = [d for d in str(labels.get("slice", "")).split(",") if d and d in labels]
    where = " ".join(f"{d}={labels[d]}" for d in dims) or "all traffic"
    parts = [str(payload.get("status", "?")).upper(), str(name), where]
    if labels.get("severity"):
        parts.append(f"({labels['severity']})")
    if first.get("generatorURL"):
        parts.append(str(first["generatorURL"]))
    if len(alerts) > 1:
        parts.append(f"(+{len(alerts) - 1} more in this notification)")
    return "notification received: " + " ".join(parts)


class WebhookReceiver:
    """A local webhook on 127.0.0.1: each notification POSTed to :attr:`url` is kept in :attr:`received` and
    described to ``echo`` in one line. Start it with :meth:`start` (or ``with``); it answers 200 to every JSON body."""

    def __init__(self, echo: Callable[[str], None] = print, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.echo = echo
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to send notifications."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{PATH}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path != PATH or not 0 < length <= _MAX_BODY:
                    self._answer(404 if self.path != PATH else 400)
                    return
                try:
                    payload = json.loads(self.rfile.read(length))
                except ValueError:
                    self._answer(400)
                    return
                if not isinstance(payload, dict):
                    self._answer(400)
                    return
                with receiver._lock:
                    receiver.received.append(payload)
                receiver.echo(describe(payload))
                self._answer(200)

            def _answer(self, status: int) -> None:
                body = b'{"status":"success"}' if status == 200 else b'{"status":"error"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per notification is printed above; no access log

        return Handler

    def start(self) -> WebhookReceiver:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                daemon=True,
                name="watchkeeper-demo-webhook",
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
