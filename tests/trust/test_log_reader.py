"""LogReader on both engines: what it serves verifies with the auditor's snippet (docs/trust.md, which shares no
code with Watchkeeper), and each request reads on one pooled connection, in one snapshot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from watchkeeper.errors import Conflict, NotFound
from watchkeeper.store.tables import spans
from watchkeeper.trust import Verifier, leaf_hash, verify_consistency
from watchkeeper.trust.evidence import verify_evidence
from watchkeeper.trust.log import LogReader, Sequencer, read_state

from .test_auditor_snippet import _snippet
from .test_log import seal, traces


@pytest.fixture
def grown(db: Engine, tmp_path: Path) -> tuple[Engine, str]:
    """A log with a signed checkpoint at 280 leaves and 120 more leaves sequenced after it; the signer's vkey."""
    traces(db, 1, 70)  # 4 spans a trace: the checkpoint crosses the first 256-leaf tile
    signer = seal(db, tmp_path / "key")
    traces(db, 71, 30)
    assert Sequencer(db).drain() == 120
    return db, signer.verifier.vkey


def test_proofs_served_from_the_store_verify_with_the_independent_snippet(grown: tuple[Engine, str]) -> None:
    db, vkey = grown
    ns = _snippet()
    reader = LogReader(db)
    cp = reader.latest_checkpoint()
    assert cp is not None and cp.size == 280
    _origin, size, root = ns["verify_checkpoint"](cp.note, vkey)
    assert (size, root) == (280, cp.root)
    for i in (0, 1, 255, 256, 279):
        # default size: the checkpoint's, below the stored tree's (400), so the root is not the stored one
        n, served, proof, got_root = reader.inclusion(i)
        assert (n, got_root, served) == (280, cp.root, leaf_hash(reader.leaf(i)))
        ns["verify_inclusion"](reader.leaf(i), i, size, proof, root)
    for i in (0, 280, 399):  # at the stored tree's size: its root
        n, _leaf_hash, proof, got_root = reader.inclusion(i, 400)
        st = read_state(db)
        assert st is not None and (n, got_root) == (400, st.root)
        ns["verify_inclusion"](reader.leaf(i), i, n, proof, got_root)
    with pytest.raises(AssertionError):
        ns["verify_inclusion"](reader.leaf(4), 3, size, reader.inclusion(3)[2], root)
    n, cproof, r1, r2 = reader.consistency(100)
    assert n == 280 and r2 == cp.root
    verify_consistency(100, 280, cproof, r1, r2)
    n, cproof, r1, r2 = reader.consistency(280, 400)
    assert r1 == cp.root
    verify_consistency(280, 400, cproof, r1, r2)


def test_every_request_checks_one_connection_out(grown: tuple[Engine, str]) -> None:
    db, _vkey = grown
    reader = LogReader(db)
    with db.connect() as conn:
        tid, sid = conn.execute(select(spans.c.trace_id, spans.c.span_id).where(spans.c.log_index == 17)).one()
    checkouts: list[Any] = []

    def count(*_args: Any) -> None:
        checkouts.append(None)

    requests: dict[str, Callable[[], object]] = {
        "latest_checkpoint": reader.latest_checkpoint,
        "checkpoint_at_least": lambda: reader.checkpoint_at_least(200),
        "inclusion at the checkpoint": lambda: reader.inclusion(17),
        "inclusion at a size": lambda: reader.inclusion(300, 400),
        "consistency to the checkpoint": lambda: reader.consistency(17),
        "consistency between sizes": lambda: reader.consistency(17, 333),
        "leaf": lambda: reader.leaf(17),
        "find": lambda: reader.find(tid, sid),
        "evidence": lambda: reader.evidence(tid, sid),
    }
    event.listen(db, "checkout", count)
    try:
        for name, request in requests.items():
            checkouts.clear()
            request()
            assert len(checkouts) == 1, name
        checkouts.clear()
        with pytest.raises(NotFound):
            reader.leaf(10**6)
        assert len(checkouts) == 1
    finally:
        event.remove(db, "checkout", count)


def test_evidence_read_in_one_snapshot_verifies_and_waits_for_a_covering_checkpoint(
    grown: tuple[Engine, str],
) -> None:
    db, vkey = grown
    with db.connect() as conn:
        ids = {
            r.log_index: (r.trace_id, r.span_id)
            for r in conn.execute(select(spans).where(spans.c.log_index.in_((255, 300))))
        }
    reader = LogReader(db)
    ev = reader.evidence(*ids[255])
    assert ev.index == 255 and ev.leaf == reader.leaf(255)
    result = verify_evidence(ev.dumps(), [Verifier.from_vkey(vkey)])  # raises if any check fails
    assert result.checkpoint.checkpoint.size == 280
    ns = _snippet()
    ns["verify_inclusion"](ev.leaf, 255, 280, list(ev.proof), ns["verify_checkpoint"](ev.checkpoint, vkey)[2])
    with pytest.raises(Conflict, match="no signed checkpoint covers"):
        reader.evidence(*ids[300])  # sequenced after the checkpoint
