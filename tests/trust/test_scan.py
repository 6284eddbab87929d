"""The compiled scanner ``verify`` reads SQLite stores with: the same leaf hashes as the canonical leaf encoding for
every kind of row, a range it cannot vouch for handed back to the Python reader instead of guessed, the tree's
pairing equal to the Python one, and a store that keeps being written while it reads."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine

from watchkeeper.store import make_engine, migrate
from watchkeeper.trust import Signer, _sql, leaf_hash
from watchkeeper.trust.log import Sequencer
from watchkeeper.trust.merkle import node_hash, python_pair_level
from watchkeeper.trust.verify import _MMAP_BYTES, _scan, verify_store

from ..store.test_store import agent_trace, write
from .test_log import leaves_in_log_order, seal, traces

ROWS_SQL = (
    f"SELECT {_sql.LEAF_COLUMNS}, payload, log_index FROM spans "
    "WHERE log_index >= ? AND log_index < ? ORDER BY log_index"
)


@pytest.fixture
def scan() -> ModuleType:
    if _scan is None:
        if os.environ.get("CI") == "true":
            pytest.fail("watchkeeper.trust._scan was not built (setup.py; needs gcc, libsqlite3-dev and libssl-dev)")
        pytest.skip("the compiled scanner is not built here (no C compiler or SQLite/OpenSSL headers): verify reads "
                    "with Python only")  # fmt: skip
    return _scan


def test_the_compiled_scanner_is_built(scan: ModuleType) -> None:
    assert callable(scan.pair_level) and scan.Scanner is not None


@pytest.fixture
def store(tmp_path: Path) -> tuple[Engine, Path, Signer]:
    """A sealed SQLite store whose rows cover what leaves hold: agents without a model, LLM calls with tokens, tool
    calls, errors, payloads and none, non-ASCII and very long text."""
    path = tmp_path / "watchkeeper.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    traces(engine, 1, 12)
    odd = []
    for t, s in enumerate(agent_trace(40)[1:3]):
        if s.llm is not None:
            s = replace(s, llm=replace(s.llm, request_model="模型-ünïcode", response_model="m" * 100_000))
        if s.tool is not None:
            s = replace(s, tool=replace(s.tool, name="ツール" * 5000))
        odd.append(replace(s, span_id=f"{t + 1:016x}"))
    write(engine, odd)
    return engine, path, seal(engine, tmp_path / "key")


def scanner(scan: ModuleType, path: Path) -> object:
    layout = _sql.LEAF_LAYOUT
    kinds = "".join(("U" if n else "u") if k == "uint" else ("B" if n else "b") for _t, _c, k, n in layout)
    tags = bytes(t for t, _c, _k, _n in layout)
    committed = [c for _t, c, _k, _n in layout].index("payload_sha256")
    return scan.Scanner(str(path), ROWS_SQL, tags, kinds, _sql.LEAF_HEAD, committed, _MMAP_BYTES)


def test_the_scanner_gives_the_canonical_leaf_hashes(scan: ModuleType, store: tuple[Engine, Path, Signer]) -> None:
    engine, path, _signer = store
    expected = [leaf_hash(leaf) for leaf in leaves_in_log_order(engine)]
    s = scanner(scan, path)
    got = s.scan(0, len(expected))  # type: ignore[attr-defined]
    assert got is not None
    hashes, present, none = got
    assert hashes == expected
    assert present > 0 and none > 0 and present + none == len(expected)
    assert s.scan(5, 9)[0] == expected[5:9]  # type: ignore[attr-defined]
    assert s.scan(3, 3) == ([], 0, 0)  # type: ignore[attr-defined]
    s.close()  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="closed"):
        s.scan(0, 1)  # type: ignore[attr-defined]


def _tamper(path: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(path)
    db.execute(sql, params)
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE spans SET end_ns = 1.5 WHERE log_index = ?",  # a fraction in an integer column
        "UPDATE spans SET start_ns = 'soon' WHERE log_index = ?",  # text in an integer column
        "UPDATE spans SET start_ns = -1 WHERE log_index = ?",  # a negative time
        "UPDATE spans SET trace_id = 7 WHERE log_index = ?",  # a number in a bytes column
        "UPDATE spans SET payload = NULL WHERE log_index = ?",  # a payload gone
        "UPDATE spans SET payload = x'00' WHERE log_index = ?",  # a payload that does not hash to its value
        "UPDATE spans SET payload_sha256 = x'00' WHERE log_index = ?",  # a committed hash of the wrong size
        "DELETE FROM spans WHERE log_index = ?",  # a row gone
        "UPDATE spans SET log_index = 10000 WHERE log_index = ?",  # a row moved out of its range
    ],
)
def test_a_range_the_scanner_cannot_vouch_for_goes_to_the_python_reader(
    scan: ModuleType, store: tuple[Engine, Path, Signer], edit: str
) -> None:
    engine, path, _signer = store
    n = len(leaves_in_log_order(engine))
    with_payload = [i for i, in sqlite3.connect(path).execute(
        "SELECT log_index FROM spans WHERE payload IS NOT NULL ORDER BY log_index")]  # fmt: skip
    at = with_payload[len(with_payload) // 2]
    _tamper(path, edit, at)
    s = scanner(scan, path)
    assert s.scan(0, n) is None  # type: ignore[attr-defined]
    assert s.scan(at, at + 1) is None  # type: ignore[attr-defined]
    assert s.scan(0, at) is not None  # the rows before it are regular
    s.close()  # type: ignore[attr-defined]


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
    scan: ModuleType, store: tuple[Engine, Path, Signer]
) -> None:
    engine, _path, signer = store
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
