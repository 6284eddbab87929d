"""Test helpers for Watchkeeper users and plugin authors.

``running_server`` starts a real Watchkeeper server (uvicorn, real socket, its own store) in a background thread
and yields its base URL; point an OTLP exporter or the SDK at it and read back what arrived::

    from watchkeeper.testing import running_server

    def test_my_agent_is_traced(tmp_path):
        with running_server(tmp_path) as server:
            run_my_agent(endpoint=server.url)
            server.flush()
            assert server.traces()
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import Settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerHandle:
    url: str
    app: Any

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:  # noqa: S310 - local test server
            return json.loads(r.read())

    def traces(self, **params: str) -> list[dict[str, Any]]:
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        out: list[dict[str, Any]] = self.get_json("/api/v1/traces" + (f"?{qs}" if qs else ""))["traces"]
        return out

    def trace(self, trace_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.get_json(f"/api/v1/traces/{trace_id}")
        return out

    def flush(self) -> None:
        """Wait until the writer's queue is empty (everything acknowledged is already committed)."""
        rt = self.app.state.runtime
        deadline = time.monotonic() + 30
        while rt.writer.depth and time.monotonic() < deadline:
            time.sleep(0.01)


@contextmanager
def running_server(data_dir: str | Path, settings: Settings | None = None, **overrides: Any) -> Iterator[ServerHandle]:
    """A real server on 127.0.0.1 and a free port, with its store in ``data_dir``; stopped on exit."""
    import uvicorn

    from .server import create_app

    port = free_port()
    s = replace(settings or Settings(), data_dir=str(data_dir), host="127.0.0.1", port=port, **overrides)
    app = create_app(s)
    server = uvicorn.Server(uvicorn.Config(app, host=s.host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True, name="watchkeeper-test-server")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield ServerHandle(url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(30)


__all__ = ["ServerHandle", "free_port", "running_server"]
