"""`watchkeeper serve --workers 2`: several processes on one port and one SQLite file still acknowledge only what
is committed, stay idempotent on re-send, and stop together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.server.test_durability import batch, check_all_present, load_until_killed, post
from watchkeeper.testing import free_port

pytestmark = pytest.mark.slow


def start_workers(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, WATCHKEEPER_LOG_LEVEL="warning", WATCHKEEPER_AUTH="false")
    cmd = [sys.executable, "-m", "watchkeeper.cli", "serve", "--workers", "2", "--port", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*cmd, "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: the test can kill parent and workers at once
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
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("server did not become ready")


def send_from_threads(port: int, senders: int, batches: int) -> list[str]:
    """Each sender posts ``batches`` batches of 50 spans on its own connections; returns the acked trace ids."""
    acked: list[str] = []
    lock = threading.Lock()

    def sender(k: int) -> None:
        for n in range(batches):
            body = batch(k, n, 50)
            try:
                status = post(port, body)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                return
            if status == 200:
                with lock:
                    acked.append(body["spans"][0]["trace_id"])

    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return acked


def test_two_workers_acknowledge_only_committed_spans_and_resending_adds_nothing(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    proc = start_workers(data, port, tmp_path / "server.log")
    try:
        acked = send_from_threads(port, senders=6, batches=8)
        assert len(acked) == 48
        # Both workers write the same SQLite file through their own writers; every acked span is there once...
        check_all_present(port, acked)
        # ...and sending everything again, to whichever worker takes the connection, duplicates nothing.
        assert len(send_from_threads(port, senders=6, batches=8)) == 48
        check_all_present(port, acked)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(60) == 0


def test_acknowledged_spans_survive_killing_every_worker_at_once(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    proc = start_workers(data, port, tmp_path / "server.log")
    acked = load_until_killed(port, proc, kill=lambda: os.killpg(proc.pid, signal.SIGKILL))
    proc = start_workers(data, port, tmp_path / "server.log")
    try:
        check_all_present(port, list(acked))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def test_workers_stop_when_the_parent_is_killed(tmp_path: Path) -> None:
    port = free_port()
    proc = start_workers(tmp_path / "data", port, tmp_path / "server.log")
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:  # the second worker starts once the first one serves
            children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
            workers = [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]
            if len(workers) == 2:
                break
            time.sleep(0.1)
        assert len(workers) == 2
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)  # leave no server behind when the test fails here
        raise
    proc.kill()  # the parent alone: its workers must not keep the port
    proc.wait(30)
    deadline = time.monotonic() + 30
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
        time.sleep(0.1)
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not alive, "workers outlived their parent"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_a_parent_that_runs_other_threads_spawns_its_workers_instead_of_forking() -> None:
    from watchkeeper import _serve

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert _serve._ready_to_fork() is False  # forking a threaded process is unsafe: spawn instead
    finally:
        release.set()
        other.join()
