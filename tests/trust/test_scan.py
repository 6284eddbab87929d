"""The compiled scanner ``verify`` reads stores with (SQLite through its C API, PostgreSQL from a binary COPY in the
verifier's own transaction): the same leaf hashes as the canonical leaf encoding for every kind of row, a range it
cannot vouch for handed back to the Python reader instead of guessed, a COPY stream cut anywhere, the tree's pairing
equal to the Python one, and a store that keeps being written while it reads."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, text

from watchkeeper.trust import Signer, leaf_hash
from watchkeeper.trust.log import Sequencer
from watchkeeper.trust.merkle import node_hash, python_pair_level
from watchkeeper.trust.verify import (
    VerifyReport,
    _compiled_scanner,
    _LeafScan,
    _scan,
    _Snapshot,
    copy_sql,
    scanner_layout,
    verify_store,
)

from ..store.test_store import agent_trace, write
from .test_log import leaves_in_log_order, seal, traces


@pytest.fixture
def scan() -> ModuleType:
    if _scan is None:
        if os.environ.get("CI") == "true":
            pytest.fail("watchkeeper.trust._scan was not built (setup.py; needs gcc, libsqlite3-dev and libssl-dev)")
        pytest.skip("the compiled scanner is not built here (no C compiler or SQLite/OpenSSL headers): verify reads "
                    "with Python only")  # fmt: skip
    return _scan


def test_the_compiled_scanner_is_built(scan: ModuleType) -> None:
    assert callable(scan.pair_level) and scan.Scanner is not None and scan.CopyScanner is not None


@pytest.fixture
def store(db: Engine, tmp_path: Path) -> tuple[Engine, Signer]:
    """A sealed store whose rows cover what leaves hold: agents without a model, LLM calls with tokens, tool calls,
    errors, payloads and none, non-ASCII and very long text."""
    traces(db, 1, 12)
    odd = []
    for t, s in enumerate(agent_trace(40)[1:3]):
        if s.llm is not None:
            s = replace(s, llm=replace(s.llm, request_model="模型-ünïcode", response_model="m" * 100_000))
        if s.tool is not None:
            s = replace(s, tool=replace(s.tool, name="ツール" * 5000))
        odd.append(replace(s, span_id=f"{t + 1:016x}"))
    write(db, odd)
    return db, seal(db, tmp_path / "key")


class Reader:
    """The compiled reader verify builds for this engine, over a snapshot of the store."""

    def __init__(self, engine: Engine) -> None:
        self.snap = _Snapshot(engine)
        rows_sql = _LeafScan(self.snap, VerifyReport(), [], 1, compiled=False).rows_sql
        reader = _compiled_scanner(self.snap, rows_sql)
        assert reader is not None
        self.reader = reader

    def scan(self, a: int, b: int) -> tuple[list[bytes], int, int] | None:
        return self.reader.scan(a, b)

    def close(self) -> None:
        self.reader.close()
        self.snap.close()


@pytest.fixture
def reader(scan: ModuleType, store: tuple[Engine, Signer]) -> Iterator[Reader]:
    r = Reader(store[0])
    yield r
    r.close()


def test_the_scanner_gives_the_canonical_leaf_hashes(reader: Reader, store: tuple[Engine, Signer]) -> None:
    expected = [leaf_hash(leaf) for leaf in leaves_in_log_order(store[0])]
    got = reader.scan(0, len(expected))
    assert got is not None
    hashes, present, none = got
    assert hashes == expected
    assert present > 0 and none > 0 and present + none == len(expected)
    part = reader.scan(5, 9)
    assert part is not None and part[0] == expected[5:9]
    assert reader.scan(3, 3) == ([], 0, 0)


def _copy_stream(engine: Engine, a: int, b: int) -> bytes:
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur, cur.copy(copy_sql(a, b)) as copy:  # type: ignore[union-attr]
            return b"".join(bytes(c) for c in copy)
    finally:
        raw.close()


def _copy_scanner(scan: ModuleType) -> object:
    return scan.CopyScanner(*scanner_layout())


def _feed(sc: object, data: bytes, piece: int, a: int, b: int) -> tuple[list[bytes], int, int] | None:
    sc.start(a, b)  # type: ignore[attr-defined]
    for i in range(0, len(data), piece):
        sc.feed(memoryview(data)[i : i + piece])  # type: ignore[attr-defined]
    return sc.finish()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_copy_stream_gives_the_same_hashes_wherever_its_chunks_are_cut(
    scan: ModuleType, store: tuple[Engine, Signer]
) -> None:
    engine = store[0]
    expected = [leaf_hash(leaf) for leaf in leaves_in_log_order(engine)]
    n = len(expected)
    data = _copy_stream(engine, 0, n)
    sc = _copy_scanner(scan)
    for piece in (len(data), 1, 7, 4096):
        got = _feed(sc, data, piece, 0, n)
        assert got is not None and got[0] == expected, piece
    assert _feed(sc, data, 4096, 0, n + 1) is None  # a row short of the range
    assert _feed(sc, data[:-2], 4096, 0, n) is None  # no trailer: the stream was cut
    assert _feed(sc, data[:-40], 4096, 0, n) is None  # cut inside a row
    assert _feed(sc, b"PGCOPY\n\xfe\r\n\0" + data[11:], 4096, 0, n) is None  # not a binary COPY stream


def test_a_malformed_copy_stream_is_handed_back_not_guessed(scan: ModuleType) -> None:
    sc = _copy_scanner(scan)
    header = b"PGCOPY\n\xff\r\n\0" + bytes(8)
    assert _feed(sc, header + b"\xff\xff", 64, 0, 0) == ([], 0, 0)  # an empty range: header and trailer
    assert _feed(sc, header + b"\x00\x03" + b"\xff\xff\xff\xff" * 3 + b"\xff\xff", 64, 0, 1) is None  # 3 fields
    assert _feed(sc, b"garbage", 64, 0, 0) is None
    with pytest.raises(RuntimeError, match="start"):
        sc.finish()  # type: ignore[attr-defined]


# Edits both engines accept; then edits only SQLite's loose typing lets through (PostgreSQL refuses them itself).
EDITS = [
    "UPDATE spans SET start_ns = -1 WHERE log_index = :i",  # a negative time
    "UPDATE spans SET payload = NULL WHERE log_index = :i",  # a payload gone
    "UPDATE spans SET payload = :zero WHERE log_index = :i",  # a payload that does not hash to its value
    "UPDATE spans SET payload_sha256 = :zero WHERE log_index = :i",  # a committed hash of the wrong size
    "DELETE FROM spans WHERE log_index = :i",  # a row gone
    "UPDATE spans SET log_index = 10000 WHERE log_index = :i",  # a row moved out of its range
]
SQLITE_EDITS = [
    "UPDATE spans SET end_ns = 1.5 WHERE log_index = :i",  # a fraction in an integer column
    "UPDATE spans SET start_ns = 'soon' WHERE log_index = :i",  # text in an integer column
    "UPDATE spans SET trace_id = 7 WHERE log_index = :i",  # a number in a bytes column
]


def _edited_range_goes_back(engine: Engine, edit: str) -> None:
    n = len(leaves_in_log_order(engine))
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT log_index FROM spans WHERE payload IS NOT NULL ORDER BY log_index"))
        with_payload = [int(i) for (i,) in rows]
        at = with_payload[len(with_payload) // 2]
        conn.execute(text(edit), {"i": at, "zero": b"\0"} if ":zero" in edit else {"i": at})
    r = Reader(engine)
    try:
        assert r.scan(0, n) is None
        assert r.scan(at, at + 1) is None
        assert r.scan(0, at) is not None  # the rows before it are regular
    finally:
        r.close()


@pytest.mark.parametrize("edit", EDITS)
def test_a_range_the_scanner_cannot_vouch_for_goes_to_the_python_reader(
    scan: ModuleType, store: tuple[Engine, Signer], edit: str
) -> None:
    _edited_range_goes_back(store[0], edit)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("edit", SQLITE_EDITS)
def test_a_value_of_the_wrong_type_goes_to_the_python_reader(
    scan: ModuleType, store: tuple[Engine, Signer], edit: str
) -> None:
    _edited_range_goes_back(store[0], edit)


def test_the_pairing_of_a_level_equals_the_python_one(scan: ModuleType) -> None:
    rng = random.Random(7)
    for n in [*range(10), 255, 256, 257]:
        level = [rng.randbytes(32) for _ in range(n)]
        assert scan.pair_level(level) == python_pair_level(level)
        assert scan.pair_level(tuple(level)) == python_pair_level(level)
    odd = [b"", b"x" * 33, b"y" * 7]  # any lengths: the node hash of whatever is given
    assert scan.pair_level(odd) == [node_hash(b"", b"x" * 33), b"y" * 7]
    with pytest.raises(TypeError, match="bytes"):
        scan.pair_level([b"a" * 32, "b" * 32])


def test_a_running_store_verifies_while_it_is_written_and_sealed(
    scan: ModuleType, store: tuple[Engine, Signer]
) -> None:
    engine, signer = store
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_writing() -> None:
        t = 100
        try:
            while not stop.is_set():
                write(engine, agent_trace(t))
                Sequencer(engine, batch=7).drain()
                t += 1
        except BaseException as e:
            errors.append(e)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    sizes: list[int] = []
    try:
        while len(set(sizes)) < 3 and len(sizes) < 500 and not errors:  # until it has seen the log at three sizes
            r = verify_store(engine, [signer.verifier], chunk=16)
            assert r.ok and r.reader == "compiled" and r.python_ranges == 0, r.as_dict()
            sizes.append(r.size)
    finally:
        stop.set()
        writer.join()
    assert not errors, errors
    assert len(set(sizes)) == 3 and sizes == sorted(sizes)  # the log grew while it was verified
