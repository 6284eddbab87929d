"""The writer keeps rollups and records in one transaction on both engines: a failed commit stores neither, a killed
server leaves them agreeing, and writers racing on the same records count each once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from watchkeeper.errors import StorageError
from watchkeeper.records import Span, SpanKind
from watchkeeper.store import RowBatch, Writer, make_engine
from watchkeeper.store._rollups import Tally
from watchkeeper.store.tables import rollups, spans

from ..analytics.rollup_helpers import MIN, NS, T0, ingest, row_batch
from ..server.test_durability import load_until_killed, start_server


def _span(i: int, start: int = T0) -> Span:
    return Span(trace_id=f"{i:032x}", span_id=f"{i:016x}", name="s", kind=SpanKind.LLM, start_time_ns=start,
                end_time_ns=start + NS)  # fmt: skip


def stored(engine: Engine) -> tuple[int, int, int]:
    """(spans stored, spans counted in the whole traffic's 1-hour rows, ... in its 1-minute rows)."""
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(spans)).scalar_one()
        counted = {
            w: conn.execute(
                select(func.coalesce(func.sum(rollups.c.spans), 0)).where(rollups.c.dims == "", rollups.c.width_s == w)
            ).scalar_one()
            for w in (60, 3600)
        }
    return int(n), int(counted[3600]), int(counted[60])


def test_a_failed_commit_stores_neither_the_records_nor_their_counts(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Tally, cursor: object = None) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Tally, "apply", broken)
    w = Writer(db)
    w.start()
    try:
        with pytest.raises(StorageError):
            w.submit(row_batch([_span(i) for i in range(1, 4)])).result(30)
    finally:
        w.stop()
    assert stored(db) == (0, 0, 0)
    monkeypatch.undo()
    ingest(db, [([_span(i) for i in range(1, 4)], [])])
    assert stored(db) == (3, 3, 3)


def test_writers_racing_on_the_same_records_count_each_once(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.store import writer as writer_module

    rewrites: list[int] = []
    real = writer_module.unstored

    def spy(*args: object, **kw: object) -> list[bool]:
        rewrites.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(writer_module, "unstored", spy)
    batches = [[_span(i + 10 * b, T0 + b * MIN) for i in range(1, 11)] for b in range(6)]
    writers = [Writer(db), Writer(db)]
    errors: list[BaseException] = []

    def send(w: Writer, order: list[list[Span]]) -> None:
        try:
            for b in order:
                w.submit(row_batch(b)).result(60)
                w.submit(row_batch(b[:5])).result(60)  # and a partial re-send
        except BaseException as e:
            errors.append(e)

    for w in writers:
        w.start()
    threads = [threading.Thread(target=send, args=(writers[0], batches)),
               threading.Thread(target=send, args=(writers[1], batches[::-1]))]  # fmt: skip
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for w in writers:
            w.stop()
    assert errors == []
    assert stored(db) == (60, 60, 60)
    assert rewrites  # the re-sends went through the path that counts only the rows actually inserted


def test_a_group_commit_counts_only_its_counted_batches(db: Engine) -> None:
    w = Writer(db)
    counted, raw = row_batch([_span(1), _span(2)]), row_batch([_span(3)])
    uncounted = RowBatch(span_rows=raw.span_rows)  # rows written by a tool that bypasses the pipeline
    futures = [w.submit(counted), w.submit(uncounted)]
    w.start()  # both were queued before the writer ran: one transaction
    try:
        assert [f.result(30) for f in futures] == [2, 1]
    finally:
        w.stop()
    assert stored(db) == (3, 2, 2)
    with pytest.raises(ValueError, match="one entry per span row"):
        w.submit(RowBatch(span_rows=raw.span_rows, rollups=counted.rollups))


@pytest.mark.slow
def test_records_and_counts_agree_after_the_server_is_killed(tmp_path: Path, db_url: str) -> None:
    from watchkeeper.testing import free_port

    port = free_port()
    proc = start_server(["--database-url", db_url], port, tmp_path / "server.log")
    acked = load_until_killed(port, proc)
    engine = make_engine(db_url)
    try:
        n, hourly, minutely = stored(engine)
        assert n >= 50 * len(acked) and n == hourly == minutely
        with engine.connect() as conn:  # and every dimension's values add up to the same
            by_kind = conn.execute(
                select(func.sum(rollups.c.turns)).where(rollups.c.dims == "kind", rollups.c.width_s == 60)
            ).scalar()
        assert int(by_kind or 0) == n  # every span of the load is a turn (no parent)
    finally:
        engine.dispose()
