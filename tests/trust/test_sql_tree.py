"""The tree in SQL on both engines: proofs read in one query equal the naive tree's; verify's shortcuts (the logged
hashes of a range compared as one value, the leaf encoder's memo) never change a verdict."""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text, update

from watchkeeper.store.tables import merkle_nodes
from watchkeeper.trust import MerkleTree, _sql, leaf_hash, verify_consistency, verify_inclusion
from watchkeeper.trust.log import ensure_log, locked, read_state
from watchkeeper.trust.verify import verify_store

from .test_log import seal, traces
from .test_merkle import make_leaves, naive_mth, naive_path, naive_subproof

LEAVES = make_leaves(600)  # more than two 256-leaf tiles: every proof crosses the stored level 8


def append(engine: Engine, leaves: list[bytes], batch: int) -> None:
    """Appends leaves to the records log as the sequencer does (level 0, every 8th level, the compact range)."""
    d = engine.dialect.name
    p = _sql.param(d)
    ensure_log(engine)
    for i in range(0, len(leaves), batch):
        st = read_state(engine)
        assert st is not None
        compact = _sql.decode_frontier(st.size, st.frontier)
        kept = compact.extend([leaf_hash(x) for x in leaves[i : i + batch]], keep_every=_sql.STRIDE)
        with locked(engine) as cur:
            _sql.insert_nodes(cur, d, 1, kept, st.size)
            cur.execute(
                f"UPDATE merkle_logs SET size={p}, frontier={p}, root={p}, updated_ns={p} WHERE id={p}",
                (compact.size, _sql.encode_frontier(compact), compact.root(), time.time_ns(), 1),
            )


class Counting:
    """A query function over the engine that counts the queries it runs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls = 0

    def __call__(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        self.calls += 1
        with self.engine.connect() as conn:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cur.execute(sql, params)
            return list(cur.fetchall())


@pytest.fixture
def tree_db(db: Engine) -> Engine:
    append(db, LEAVES, batch=97)
    return db


def sql_tree(engine: Engine, query: Counting) -> MerkleTree:
    st = read_state(engine)
    assert st is not None
    store = _sql.CursorTreeStore(query, engine.dialect.name, 1, st.size)
    return MerkleTree(store, _sql.decode_frontier(st.size, st.frontier))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 600), data=st.data())
def test_a_proof_from_the_sql_tree_is_the_naive_one_and_reads_the_store_once(
    tree_db: Engine, n: int, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, n - 1))
    m = data.draw(st.integers(1, n))
    root = naive_mth(LEAVES[:n])
    query = Counting(tree_db)
    tree = sql_tree(tree_db, query)
    proof = tree.inclusion_proof(i, n)
    assert proof == naive_path(i, LEAVES[:n])
    assert tree.store.hashes(0, i, i + 1) == [leaf_hash(LEAVES[i])]  # read with the proof
    assert query.calls <= 1
    verify_inclusion(i, n, leaf_hash(LEAVES[i]), proof, root)
    query.calls = 0
    tree = sql_tree(tree_db, query)
    cproof = tree.consistency_proof(m, n)
    assert cproof == naive_subproof(m, LEAVES[:n], True)
    assert tree.root(m) == naive_mth(LEAVES[:m]) and tree.root(n) == root  # both read with the proof
    assert query.calls <= 1
    if m < n:
        verify_consistency(m, n, cproof, naive_mth(LEAVES[:m]), root)


def test_the_sql_store_refuses_spans_beyond_the_tree_and_reports_missing_hashes(tree_db: Engine) -> None:
    query = Counting(tree_db)
    store = _sql.CursorTreeStore(query, tree_db.dialect.name, 1, 600)
    with pytest.raises(IndexError):
        store.hashes_many([(0, 0, 2), (0, 599, 601)])
    with pytest.raises(IndexError):
        store.hashes_many([(3, 0, 1)])  # only every 8th level is stored
    assert store.hashes_many([(8, 0, 2), (0, 0, 0)]) == [store.hashes(8, 0, 2), []]
    with tree_db.begin() as conn:
        conn.execute(merkle_nodes.delete().where(merkle_nodes.c.level == 0, merkle_nodes.c.idx == 300))
    tree = sql_tree(tree_db, Counting(tree_db))
    with pytest.raises(Exception, match="missing hashes"):
        tree.inclusion_proof(301, 600)


@pytest.mark.parametrize(
    ("column", "first", "then"),
    [
        (11, 5, 5.0),  # a token count stored as a float, after the same integer
        (16, 1, 1.0),  # the schema version
        (4, "llm", 7),  # a number in a text column, after a text
        (3, b"\x01" * 8, 7),  # a number as a parent id
        (17, b"\x02" * 32, "x" * 32),  # a text payload hash
    ],
)
def test_the_leaf_encoder_refuses_a_wrong_type_whatever_it_encoded_before(column: int, first: Any, then: Any) -> None:
    row: list[Any] = [1, b"\x00" * 16, b"\x00" * 8, None, "llm", "ok", 1, 2, 3, None, None, None, None, None,
                      None, None, 1, None]  # fmt: skip
    enc = _sql.leaf_encoder()
    row[column] = first
    enc(row)
    row[column] = then
    with pytest.raises((TypeError, struct.error)):
        enc(row)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 39), byte=st.integers(0, 31), chunk=st.sampled_from([7, 16, 1 << 16]))
def test_verify_names_any_changed_logged_hash_whatever_the_chunk(
    db: Engine, tmp_path: Path, index: int, byte: int, chunk: int
) -> None:
    if not _has_log(db):
        traces(db, 1, 10)  # 40 spans
        seal(db, tmp_path / "key")
    signer_key = tmp_path / "key"
    from watchkeeper.trust.log import load_signer

    signer = load_signer(signer_key)
    assert verify_store(db, [signer.verifier], chunk=chunk).ok
    with db.begin() as conn:
        h = bytearray(
            conn.execute(text(f"SELECT hash FROM merkle_nodes WHERE level = 0 AND idx = {index}")).scalar_one()
        )
        h[byte] ^= 0x01
        conn.execute(update(merkle_nodes).where(merkle_nodes.c.level == 0, merkle_nodes.c.idx == index)
                     .values(hash=bytes(h)))  # fmt: skip
    try:
        r = verify_store(db, [signer.verifier], chunk=chunk)
        assert not r.ok and r.first_bad_index == index and "leaf" in {p.kind for p in r.problems}, r.as_dict()
    finally:
        with db.begin() as conn:
            h[byte] ^= 0x01
            conn.execute(update(merkle_nodes).where(merkle_nodes.c.level == 0, merkle_nodes.c.idx == index)
                         .values(hash=bytes(h)))  # fmt: skip


def _has_log(db: Engine) -> bool:
    st = read_state(db)
    return st is not None and st.size > 0


def test_verify_leaves_the_pooled_sqlite_connection_as_it_found_it(tmp_path: Path) -> None:
    from watchkeeper.store import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'wk.db'}", pool_size=1)
    migrate(engine)
    traces(engine, 1, 3)
    signer = seal(engine, tmp_path / "key")
    assert verify_store(engine, [signer.verifier]).ok
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        assert raw.text_factory is str
        assert conn.execute(text("PRAGMA mmap_size")).scalar_one() == 0
    engine.dispose()
