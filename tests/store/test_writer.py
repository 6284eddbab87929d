"""The writer: a full queue is refused before any work, and writers of several processes on one SQLite file take
turns through the lock file beside it."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from watchkeeper.errors import Overloaded
from watchkeeper.store import Writer, make_engine, migrate

from .test_store import agent_trace, count, rows


def test_check_room_refuses_only_a_full_queue(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wk.db'}")
    migrate(engine)
    w = Writer(engine, queue_max_records=4)
    w.check_room()  # empty: room
    fut = w.submit(rows(agent_trace(1)))  # not started: 4 records wait
    with pytest.raises(Overloaded) as e:
        w.check_room()
    assert e.value.retry_after_s >= 1
    w.start()
    try:
        assert fut.result(30) == 4
        w.check_room()
    finally:
        w.stop()
        engine.dispose()


def test_a_sqlite_writer_waits_for_its_turn_on_the_lock_file_and_then_commits(tmp_path: Path) -> None:
    db = tmp_path / "wk.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    w = Writer(engine)
    w.start()
    # Another process's writer holds the turn (an flock taken on another open file description, as it would be).
    fd = os.open(f"{db}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        fut = w.submit(rows(agent_trace(1)))
        time.sleep(0.3)
        assert not fut.done()  # waiting for the turn, not failing and not writing
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert fut.result(30) == 4
    finally:
        os.close(fd)
        w.stop()
    assert count(engine) == 4
    engine.dispose()
