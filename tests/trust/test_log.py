"""The running log on both engines: the sequencer appends every stored span once, the checkpointer signs, keys rotate,
and the API serves checkpoints, proofs, leaves and evidence."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from sqlalchemy import Engine, delete, func, insert, select, text, update

from watchkeeper.config import Settings
from watchkeeper.content import pack_content, span_content
from watchkeeper.privacy.erasure import erase_subject
from watchkeeper.records import Span
from watchkeeper.server import create_app
from watchkeeper.store._codec import span_from_row, span_row
from watchkeeper.store.tables import checkpoints, erased_traces, merkle_nodes, spans
from watchkeeper.trust import (
    IssuePolicy,
    MemoryTreeStore,
    MerkleTree,
    ProofError,
    Signer,
    _sql,
    leaf_hash,
    open_checkpoint,
    record_leaf,
    verify_consistency,
    verify_inclusion,
)
from watchkeeper.trust.evidence import verify_evidence
from watchkeeper.trust.log import (
    Checkpointer,
    LogReader,
    Sequencer,
    ensure_log,
    list_keys,
    load_or_create_signer,
    merge_delay_s,
    parse_pinned,
    read_state,
    rotate_key,
)
from watchkeeper.trust.verify import verify_store

from ..store.test_store import T0, agent_trace, write
from ..test_records import spans as span_strategy


def seal(engine: Engine, key_file: Path, *, batch: int = 5000) -> Signer:
    """Sequence everything stored and sign a checkpoint; gives the signing key."""
    st = ensure_log(engine)
    signer, _ = load_or_create_signer(key_file, st.origin)
    Sequencer(engine, batch=batch).drain()
    Checkpointer(engine, key_file).run_once(force=True)
    return signer


def traces(engine: Engine, first: int, n: int, **kw: object) -> None:
    for t in range(first, first + n):
        write(engine, [replace(s, **kw) for s in agent_trace(t)])  # type: ignore[arg-type]


def leaves_in_log_order(engine: Engine) -> list[bytes]:
    with engine.connect() as conn:
        rows = conn.execute(select(spans).where(spans.c.log_index.isnot(None)).order_by(spans.c.log_index)).all()
    return [
        record_leaf(
            span_from_row(r, with_payload=False), project_id=r.project_id, ingested_ns=r.ingested_ns, payload=r.payload
        ).encode()
        for r in rows
    ]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(span_strategy())
def test_the_sql_leaf_is_the_leaf_of_the_stored_span(db: Engine, span: Span) -> None:
    payload = pack_content(span_content(span))
    row = {**span_row(span, 3, T0, payload), "log_index": 0}
    if db.dialect.name == "postgresql":  # PostgreSQL text cannot hold NUL; validation refuses it before the store
        assume(not any(isinstance(v, str) and "\x00" in v for v in row.values()))
    with db.begin() as conn:
        conn.execute(delete(spans))
        conn.execute(insert(spans), [row])
    # the sequencer records the payload hash; the leaf commits to it
    with db.begin() as conn:
        conn.execute(update(spans).values(payload_sha256=None if payload is None else hashlib.sha256(payload).digest()))
        row = conn.execute(select(spans)).one()
        got = conn.execute(text(f"SELECT {_sql.leaf_sql(db.dialect.name)} FROM spans")).scalar_one()
    want = record_leaf(span_from_row(row, with_payload=False), project_id=3, ingested_ns=T0, payload=payload).encode()
    assert _sql.leaf_decoder(db.dialect.name)(got) == want
    # the verifier's Python encoding of the same columns (its fast path on SQLite) gives the same bytes
    with db.connect() as conn:
        cols = conn.execute(text(f"SELECT {_sql.LEAF_COLUMNS} FROM spans")).one()
    assert _sql.leaf_encoder()(tuple(cols)) == want


def test_sequencing_appends_every_row_once_in_a_tree_equal_to_an_independent_one(db: Engine, tmp_path: Path) -> None:
    traces(db, 1, 80)  # 320 spans: more than one 256-leaf tile
    ensure_log(db)
    seq = Sequencer(db, batch=37)
    assert seq.drain() == 320
    assert seq.run_once() == 0
    with db.connect() as conn:
        idx = conn.execute(select(spans.c.log_index).order_by(spans.c.log_index)).scalars().all()
        tiles = conn.execute(select(func.count()).select_from(merkle_nodes).where(merkle_nodes.c.level == 8)).scalar()
    assert idx == list(range(320))
    assert tiles == 1
    mem = MerkleTree(MemoryTreeStore())
    mem.append([leaf_hash(x) for x in leaves_in_log_order(db)])
    st = read_state(db)
    assert st is not None and st.size == 320 and st.root == mem.root()
    reader = LogReader(db)
    for i in (0, 1, 255, 256, 319):
        n, leaf, proof, root = reader.inclusion(i, 320)
        assert proof == mem.inclusion_proof(i, 320)
        verify_inclusion(i, n, leaf, proof, root)
    n, proof, r1, r2 = reader.consistency(100, 320)
    verify_consistency(100, 320, proof, r1, r2)
    assert r1 == mem.root(100)


def test_rows_written_while_two_sequencers_run_each_get_exactly_one_index(db: Engine) -> None:
    ensure_log(db)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        seq = Sequencer(db, batch=13)
        while not stop.is_set():
            try:
                seq.run_once()
            except BaseException as e:
                errors.append(e)
                return

    workers = [threading.Thread(target=run) for _ in range(2)]
    for w in workers:
        w.start()
    traces(db, 1, 40)
    stop.set()
    for w in workers:
        w.join(30)
    assert not errors
    Sequencer(db).drain()
    with db.connect() as conn:
        idx = conn.execute(select(spans.c.log_index).order_by(spans.c.log_index)).scalars().all()
    assert idx == list(range(160))
    mem = MerkleTree(MemoryTreeStore())
    mem.append([leaf_hash(x) for x in leaves_in_log_order(db)])
    st = read_state(db)
    assert st is not None and st.root == mem.root()


def test_checkpoints_are_signed_every_n_leaves_or_seconds_and_again_when_idle(db: Engine, tmp_path: Path) -> None:
    key = tmp_path / "key"
    st = ensure_log(db)
    signer, made = load_or_create_signer(key, st.origin)
    assert made and (key.stat().st_mode & 0o777) == 0o600
    cp = Checkpointer(db, key, policy=IssuePolicy(every_s=10, every_leaves=8, idle_s=100))
    t = time.time()
    assert cp.run_once(now=t) is not None  # the first one at once (size 0)
    assert cp.run_once(now=t + 1) is None
    traces(db, 1, 1)
    Sequencer(db).drain()
    assert cp.run_once(now=t + 2) is None  # 4 leaves: neither 8 leaves nor 10 s yet
    traces(db, 2, 1)
    Sequencer(db).drain()
    note = cp.run_once(now=t + 3)  # 8 leaves
    assert note is not None and open_checkpoint(note, [signer.verifier]).checkpoint.size == 8
    assert cp.run_once(now=t + 50) is None
    idle = cp.run_once(now=time.time() + 101)  # unchanged, but re-issued so silence is visible
    assert idle is not None and open_checkpoint(idle, [signer.verifier]).checkpoint.size == 8


def test_the_checkpointer_refuses_to_sign_a_tree_that_does_not_extend_the_last_checkpoint(
    db: Engine, tmp_path: Path
) -> None:
    traces(db, 1, 3)
    seal(db, tmp_path / "key")
    traces(db, 4, 1)
    Sequencer(db).drain()
    with db.begin() as conn:  # rewrite history: one leaf hash of the signed part
        conn.execute(
            update(merkle_nodes).where(merkle_nodes.c.level == 0, merkle_nodes.c.idx == 2).values(hash=b"\x01" * 32)
        )
    try:
        Checkpointer(db, tmp_path / "key").run_once(force=True)
    except ProofError:
        pass
    else:
        raise AssertionError("a tree that rewrote signed history was signed")
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(checkpoints)).scalar() == 1


def test_a_rotated_key_verifies_old_checkpoints_only_and_the_new_key_signs_from_then_on(
    db: Engine, tmp_path: Path
) -> None:
    key = tmp_path / "key"
    traces(db, 1, 2)
    old = seal(db, key)
    rot = rotate_key(db, key)
    assert rot.size == 8 and rot.old == f"{old.verifier.vkey}@8"
    assert list_keys(db) == [rot.old, rot.new]
    assert (key.stat().st_mode & 0o777) == 0o600
    traces(db, 3, 2)
    Sequencer(db).drain()
    Checkpointer(db, key).run_once(force=True)
    assert verify_store(db, parse_pinned([rot.old, rot.new])).ok
    # the old key alone vouches for nothing past its retirement, and without its bound it is still refused
    # wherever the new key signed alone
    only_old = verify_store(db, parse_pinned([rot.old]))
    assert not only_old.ok and only_old.first_bad_index == 8


def test_an_erasure_records_which_traces_it_removed(db: Engine) -> None:
    traces(db, 1, 2, subject_id="subj_a")
    traces(db, 3, 1, subject_id="subj_b")
    erase_subject(db, "subj_a")
    with db.connect() as conn:
        got = sorted(conn.execute(select(erased_traces.c.trace_id)).scalars())
    assert got == [(1).to_bytes(16, "big"), (2).to_bytes(16, "big")]


def test_the_merge_delay_is_the_age_of_the_oldest_unsequenced_span(db: Engine) -> None:
    ensure_log(db)
    assert merge_delay_s(db) == 0.0
    traces(db, 1, 1)
    assert merge_delay_s(db, now_ns=T0 + 5 * 10**9) == 5.0
    Sequencer(db).drain()
    assert merge_delay_s(db) == 0.0


def test_the_api_serves_the_checkpoint_proofs_leaves_and_evidence(tmp_path: Path) -> None:
    s = Settings(
        auth=False, data_dir=str(tmp_path), max_future_s=10**10, checkpoint_interval_s=1, checkpoint_max_leaves=4
    )
    body = {
        "spans": [
            {
                "trace_id": f"{7:032x}",
                "span_id": f"{i + 1:016x}",
                "name": "chat",
                "kind": "llm",
                "start_time_ns": T0,
                "end_time_ns": T0 + 1000,
                "llm": {"request_model": "gpt-4o", "input_messages": [{"role": "user", "content": "hello"}]},
            }
            for i in range(6)
        ]
    }
    with TestClient(create_app(s)) as c:
        assert c.post("/api/v1/ingest", json=body).status_code == 200
        deadline = time.monotonic() + 20
        while True:
            r = c.get("/api/v1/log/checkpoint")
            if r.status_code == 200 and r.text.split("\n")[1] == "6":
                break
            assert time.monotonic() < deadline, r.text
            time.sleep(0.05)
        assert r.headers["content-type"].startswith("text/plain")
        vkey = Signer.from_skey((tmp_path / "log-signing-key").read_text().strip()).verifier
        cp = open_checkpoint(r.text, [vkey]).checkpoint
        inc = c.get("/api/v1/log/proof/inclusion", params={"index": 3}).json()
        assert inc["size"] == 6 and inc["root"] == cp.root.hex()
        verify_inclusion(3, 6, bytes.fromhex(inc["leaf_hash"]), [bytes.fromhex(h) for h in inc["proof"]], cp.root)
        con = c.get("/api/v1/log/proof/consistency", params={"from": 2, "to": 6}).json()
        verify_consistency(2, 6, [bytes.fromhex(h) for h in con["proof"]], bytes.fromhex(con["root_from"]), cp.root)
        leaf = c.get("/api/v1/log/leaves/3").json()
        assert leaf["leaf_hash"] == inc["leaf_hash"] and leaf["record"]["request_model"] == "gpt-4o"
        assert "hello" not in str(leaf)
        ev = c.get(f"/api/v1/log/evidence/{7:032x}/{2:016x}")
        assert ev.status_code == 200
        assert verify_evidence(ev.content, [vkey]).payload == "present"
        bad = c.get("/api/v1/log/proof/inclusion", params={"index": 6, "size": 6})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert c.get("/api/v1/log/proof/inclusion", params={"index": -1}).status_code == 422
        assert c.get("/api/v1/log/leaves/99").status_code == 404
        assert c.get("/api/v1/log/evidence/XYZ/1").status_code == 400
        metrics = c.get("/metrics").text
        assert "watchkeeper_log_merge_delay_seconds" in metrics and "watchkeeper_log_leaves 6.0" in metrics
    # the lifespan's end sequenced and signed everything
    from watchkeeper.store import make_engine

    engine = make_engine(s.url)
    try:
        report = verify_store(engine, [vkey], strict=True)
    finally:
        engine.dispose()
    assert report.ok, report.as_dict()
    assert os.stat(tmp_path / "log-signing-key").st_mode & 0o777 == 0o600


def test_log_routes_reject_indexes_beyond_64_bits_with_a_problem(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from watchkeeper.config import Settings
    from watchkeeper.server import create_app

    with TestClient(create_app(Settings(auth=False, data_dir=str(tmp_path)))) as client:
        for url in (
            "/api/v1/log/leaves/99999999999999999999999",
            "/api/v1/log/proof/inclusion?index=99999999999999999999999",
            "/api/v1/log/proof/consistency?from=1&to=99999999999999999999999",
        ):
            r = client.get(url)
            assert r.status_code == 422, url
            assert r.headers["content-type"].startswith("application/problem+json")
