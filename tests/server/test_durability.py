"""An acknowledged record survives SIGKILL: a real server process is killed mid-stream and restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.testing import free_port

pytestmark = pytest.mark.slow


def start_server(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, WATCHKEEPER_LOG_LEVEL="warning", WATCHKEEPER_AUTH="false")
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper.cli", "serve", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not become ready")


def batch(sender: int, n: int, size: int) -> dict[str, Any]:
    now = time.time_ns()
    return {
        "spans": [
            {
                "trace_id": f"{sender + 1:08x}{n:024x}",
                "span_id": f"{i + 1:016x}",
                "name": "chat",
                "kind": "llm",
                "start_time_ns": now,
                "end_time_ns": now + 1000,
                "llm": {"request_model": "gpt-4o", "input_messages": [{"role": "user", "content": "x" * 400}]},
            }
            for i in range(size)
        ]
    }


def post(port: int, body: dict[str, Any]) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/ingest",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code


def load_until_killed(port: int, proc: subprocess.Popen[bytes], kill: Callable[[], None] | None = None) -> list[str]:
    """Send batches from 4 threads; SIGKILL the server once 40 batches are acknowledged. Returns acked trace ids.

    ``kill`` replaces the SIGKILL of ``proc`` (e.g. to kill a whole process group of workers).
    """
    acked: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def sender(k: int) -> None:
        n = 0
        while True:
            body = batch(k, n, 50)
            try:
                status = post(port, body)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                return  # the server is gone: this request was never acknowledged
            if status == 200:
                with lock:
                    acked.append(body["spans"][0]["trace_id"])
                    if len(acked) >= 40:
                        enough.set()
            n += 1

    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    try:
        assert enough.wait(120), "the server acknowledged too little before the kill"
    finally:
        (kill or (lambda: proc.send_signal(signal.SIGKILL)))()
        proc.wait(30)
    for t in threads:
        t.join(60)
    with lock:
        return list(acked)


def check_all_present(port: int, acked: list[str]) -> None:
    for trace_id in acked:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/traces/{trace_id}", timeout=30) as r:
            assert json.loads(r.read())["span_count"] == 50, trace_id


def test_acknowledged_spans_survive_sigkill_on_sqlite(tmp_path: Path) -> None:
    port = free_port()
    args = ["--data-dir", str(tmp_path / "data")]
    proc = start_server(args, port, tmp_path / "server.log")
    acked = load_until_killed(port, proc)
    proc = start_server(args, port, tmp_path / "server.log")
    try:
        check_all_present(port, acked)
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.postgres
def test_acknowledged_spans_survive_sigkill_on_postgres(tmp_path: Path, pg_url: str) -> None:
    port = free_port()
    args = ["--database-url", pg_url]
    proc = start_server(args, port, tmp_path / "server.log")
    acked = load_until_killed(port, proc)
    proc = start_server(args, port, tmp_path / "server.log")
    try:
        check_all_present(port, acked)
    finally:
        proc.terminate()
        proc.wait(30)
