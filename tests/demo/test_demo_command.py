"""`watchkeeper demo` as a user runs it: a real process, stopped with Ctrl-C while it is still loading its history.
It stops cleanly (exit status 0, as `serve --workers N` does; a line saying what happened; no traceback,
no "Aborted!" and no dropped-records warning from its own traffic threads), and the store it leaves opens and holds
what was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from watchkeeper.config import Settings
from watchkeeper.store import make_engine
from watchkeeper.testing import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]


def _wait_for(log: Path, needle: str, proc: subprocess.Popen[bytes], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"the demo exited with {proc.returncode}: {log.read_text()[-3000:]}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"{needle!r} not printed within {within_s} s: {log.read_text()[-3000:]}")


def test_ctrl_c_while_the_history_loads_stops_cleanly_and_keeps_what_was_stored(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    log = tmp_path / "demo.log"
    args = ["--data-dir", str(data), "--port", str(free_port()), "--backfill-hours", "0.05", "--history-days", "30"]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper.cli", "demo", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, WATCHKEEPER_LOG_LEVEL="warning"),
        )
    try:
        _wait_for(log, "Loading 30 days of history", proc, within_s=240)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0  # a requested stop, as with serve --workers
    finally:
        if proc.poll() is None:
            proc.kill()
    printed = log.read_text(errors="replace")
    assert "Traceback" not in printed
    assert "send failed" not in printed
    assert "Aborted" not in printed
    assert "History loaded" not in printed  # it really was stopped mid-load
    assert "Stopped while the demo was loading traffic; what was acknowledged is stored." in printed

    engine = make_engine(Settings(data_dir=str(data)).url)
    with engine.connect() as c:
        assert c.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert c.execute(text("SELECT count(*) FROM spans")).scalar() > 0
    engine.dispose()
