"""``verify`` on both engines: each tamper case is an edit of the real database, and each names the first bad leaf;
legitimate purges and erasures pass; remembered checkpoints and evidence bundles verify offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, insert, select, update

from watchkeeper.cli import main
from watchkeeper.privacy.erasure import erase_subject
from watchkeeper.privacy.retention import make_policy, purge
from watchkeeper.store.tables import checkpoints, merkle_logs, merkle_nodes, privacy_events, spans
from watchkeeper.trust import Checkpoint, CompactRange, Signer, _sql, leaf_hash, sign_checkpoint
from watchkeeper.trust.evidence import EvidenceError, verify_evidence
from watchkeeper.trust.log import Checkpointer, LogReader, Sequencer, read_state
from watchkeeper.trust.verify import VerifyReport, _scan, verify_store

from ..store.test_store import T0, agent_trace
from .test_log import seal, traces

DAY = 86_400 * 10**9


@pytest.fixture
def sealed(db: Engine, tmp_path: Path) -> tuple[Engine, Signer]:
    """30 traces (120 spans, half with content), sequenced and signed."""
    traces(db, 1, 30)
    return db, seal(db, tmp_path / "key")


def _findings(r: VerifyReport) -> dict[str, object]:
    """The report without how it was made (time, reader)."""
    return {k: v for k, v in r.as_dict().items() if k not in ("seconds", "reader", "python_ranges")}


def check(engine: Engine, signer: Signer, **kw: object) -> VerifyReport:
    """verify_store; also with the Python reader only, which must find exactly the same."""
    report = verify_store(engine, [signer.verifier], **kw)  # type: ignore[arg-type]
    if _scan is not None:
        assert report.reader == "compiled", report.as_dict()
        pure = verify_store(engine, [signer.verifier], compiled=False, **kw)  # type: ignore[arg-type]
        assert pure.reader == "python" and _findings(pure) == _findings(report), (pure.as_dict(), report.as_dict())
    return report


def fails_at(report: VerifyReport, index: int, kind: str) -> None:
    assert not report.ok, report.as_dict()
    assert report.first_bad_index == index, report.as_dict()
    assert kind in {p.kind for p in report.problems}, report.as_dict()


def row_at(engine: Engine, index: int) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(select(spans).where(spans.c.log_index == index)).one()._mapping)


def with_payload(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(spans.c.log_index).where(spans.c.payload.isnot(None)).order_by(spans.c.log_index)
            ).scalars()
        )


def test_an_untouched_log_verifies(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    r = check(db, signer, strict=True)
    assert r.ok, r.as_dict()
    assert r.python_ranges == 0 or r.reader == "python", r.as_dict()  # the compiled scanner vouched for every range
    assert r.size == 120 and r.payloads["present"] + r.payloads["none"] == 120 and r.payloads["present"] > 0


def test_a_modified_metadata_byte_is_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    tid = bytearray(row_at(db, 41)["trace_id"])  # type: ignore[arg-type]
    tid[0] ^= 0x80
    with db.begin() as conn:
        conn.execute(update(spans).where(spans.c.log_index == 41).values(trace_id=bytes(tid)))
    fails_at(check(db, signer), 41, "leaf")


def test_a_modified_model_name_is_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    with db.begin() as conn:
        conn.execute(update(spans).where(spans.c.log_index == 57, spans.c.request_model.isnot(None)).values(
            request_model="gpt-4o-mini"))  # fmt: skip
        conn.execute(update(spans).where(spans.c.log_index == 57).values(input_tokens=1))
    fails_at(check(db, signer), 57, "leaf")


def test_a_modified_payload_byte_is_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    i = with_payload(db)[7]
    blob = bytearray(row_at(db, i)["payload"])  # type: ignore[arg-type]
    blob[len(blob) // 2] ^= 0x80
    with db.begin() as conn:
        conn.execute(update(spans).where(spans.c.log_index == i).values(payload=bytes(blob)))
    r = check(db, signer)
    fails_at(r, i, "payload")
    assert r.payloads["tampered"] == 1


def test_a_deleted_record_is_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    with db.begin() as conn:
        conn.execute(delete(spans).where(spans.c.log_index == 77))
    fails_at(check(db, signer), 77, "row-missing")


def test_swapped_records_are_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    a, b = row_at(db, 10), row_at(db, 90)
    with db.begin() as conn:  # swap the two rows' places in the log
        conn.execute(update(spans).where(spans.c.id == a["id"]).values(log_index=-1))
        conn.execute(update(spans).where(spans.c.id == b["id"]).values(log_index=10))
        conn.execute(update(spans).where(spans.c.id == a["id"]).values(log_index=90))
    fails_at(check(db, signer), 10, "leaf")


def test_swapped_contents_of_two_records_are_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    a, b = row_at(db, 21), row_at(db, 25)  # the same span of two traces: they differ only in their trace id
    with db.begin() as conn:
        conn.execute(update(spans).where(spans.c.id == a["id"]).values(trace_id=b"\0" * 16))
        conn.execute(update(spans).where(spans.c.id == b["id"]).values(trace_id=a["trace_id"]))
        conn.execute(update(spans).where(spans.c.id == a["id"]).values(trace_id=b["trace_id"]))
    fails_at(check(db, signer), 21, "leaf")


def truncate(db: Engine, keep: int) -> None:
    """What an operator who wants to hide the tail does: drop rows, hashes, checkpoints, rebuild the tree state."""
    with db.begin() as conn:
        conn.execute(delete(spans).where(spans.c.log_index >= keep))
        conn.execute(delete(merkle_nodes).where(merkle_nodes.c.idx >= 0, merkle_nodes.c.level > 0))
        conn.execute(delete(merkle_nodes).where(merkle_nodes.c.level == 0, merkle_nodes.c.idx >= keep))
        hashes = list(conn.execute(select(merkle_nodes.c.hash).order_by(merkle_nodes.c.idx)).scalars())
        compact = CompactRange()
        kept = compact.extend(hashes, keep_every=8)
        for level, hs in kept.items():
            if level:
                conn.execute(insert(merkle_nodes), [
                    {"log_id": 1, "level": level, "idx": i, "hash": h} for i, h in enumerate(hs)])  # fmt: skip
        conn.execute(update(merkle_logs).values(
            size=keep, frontier=_sql.encode_frontier(compact), root=compact.root()))  # fmt: skip
        conn.execute(delete(checkpoints).where(checkpoints.c.size > keep))


def test_a_truncated_tail_is_found_against_a_remembered_checkpoint(
    sealed: tuple[Engine, Signer], tmp_path: Path
) -> None:
    db, signer = sealed
    remembered = LogReader(db).latest_checkpoint()
    assert remembered is not None and remembered.size == 120
    truncate(db, 100)
    Checkpointer(db, tmp_path / "key").run_once(force=True)  # the operator even signs the shorter log
    assert check(db, signer).ok  # on its own, a shorter log is a valid log …
    fails_at(check(db, signer, against=remembered.note), 100, "truncated")  # … but not the one remembered


def test_a_truncated_tree_under_its_checkpoints_is_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    with db.begin() as conn:
        conn.execute(update(merkle_logs).values(size=100))
    r = check(db, signer)
    assert not r.ok and r.first_bad_index == 100
    assert {"truncated", "beyond-tree"} <= {p.kind for p in r.problems}


def forge_append(db: Engine) -> tuple[int, bytes]:
    """Appends one fabricated record to rows, tree and state, exactly as the sequencer would (no key needed)."""
    st = read_state(db)
    assert st is not None
    fake = {**row_at(db, 3), "trace_id": b"\xee" * 16, "log_index": st.size}
    fake.pop("id")
    with db.begin() as conn:
        conn.execute(insert(spans), [fake])
    reader = LogReader(db)
    new_leaf = reader.leaf(st.size)
    compact = _sql.decode_frontier(st.size, st.frontier)
    compact.extend([leaf_hash(new_leaf)])
    with db.begin() as conn:
        conn.execute(insert(merkle_nodes), [{"log_id": 1, "level": 0, "idx": st.size, "hash": leaf_hash(new_leaf)}])
        conn.execute(update(merkle_logs).values(size=compact.size, frontier=_sql.encode_frontier(compact),
                                                root=compact.root()))  # fmt: skip
    return st.size, compact.root()


def test_a_forged_append_is_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    index, root = forge_append(db)
    assert check(db, signer).unsigned == 1
    fails_at(check(db, signer, strict=True), index, "unsigned")
    # the forger cannot sign: reusing the last signature line on the new tree head does not verify
    last = LogReader(db).latest_checkpoint()
    assert last is not None
    sig = last.note.split("\n\n", 1)[1]
    body = Checkpoint(read_state(db).origin, index + 1, root).body()  # type: ignore[union-attr]
    with db.begin() as conn:
        conn.execute(insert(checkpoints).values(log_id=1, size=index + 1, root=root, note=body + "\n" + sig,
                                                signed_ns=T0))  # fmt: skip
    fails_at(check(db, signer), index, "checkpoint")


def test_a_fork_is_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    st = read_state(db)
    assert st is not None
    other = sign_checkpoint(Checkpoint(st.origin, 60, b"\x42" * 32), [signer])
    with db.begin() as conn:
        conn.execute(insert(checkpoints).values(log_id=1, size=60, root=b"\x42" * 32, note=other, signed_ns=T0))
    r = check(db, signer)
    fails_at(r, 0, "root")
    assert "fork" not in {p.kind for p in r.problems}  # one checkpoint of size 60: no pair, but the root is wrong
    honest = sign_checkpoint(Checkpoint(st.origin, 60, LogReaderRoot(db, 60)), [signer])
    with db.begin() as conn:
        conn.execute(insert(checkpoints).values(log_id=1, size=60, root=LogReaderRoot(db, 60), note=honest,
                                                signed_ns=T0))  # fmt: skip
    r = check(db, signer)
    assert {"fork", "root"} <= {p.kind for p in r.problems} and r.first_bad_index == 0


def LogReaderRoot(db: Engine, size: int) -> bytes:
    return LogReader(db).consistency(size, 120)[2]


def test_a_log_re_signed_with_another_key_is_refused(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    attacker = Signer.generate(signer.name)  # same name, different key
    with db.connect() as conn:
        rows = conn.execute(select(checkpoints.c.id, checkpoints.c.note)).all()
    with db.begin() as conn:
        for cp_id, note in rows:
            body = note.split("\n\n", 1)[0] + "\n"
            conn.execute(update(checkpoints).where(checkpoints.c.id == cp_id).values(
                note=body + "\n" + attacker.sign(body).line()))  # fmt: skip
    fails_at(check(db, signer), 0, "checkpoint")
    assert check(db, attacker).ok  # it is a consistent log — just not one the pinned key vouches for


def test_a_payload_deleted_without_a_purge_record_is_found(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    i = with_payload(db)[3]
    with db.begin() as conn:
        conn.execute(update(spans).where(spans.c.log_index == i).values(payload=None))
    r = check(db, signer)
    fails_at(r, i, "payload")
    assert r.payloads["tampered"] == 1


def test_a_purge_record_that_backdates_its_cutoff_is_refused(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    first = with_payload(db)[0]
    with db.begin() as conn:
        conn.execute(update(spans).values(payload=None))
        conn.execute(insert(privacy_events).values(project_id=1, action="purge", data_class="payloads",
                     policy="default", cutoff_ns=T0 + 400 * DAY, count=60, started_ns=T0 + DAY,
                     finished_ns=T0 + DAY + 1))  # fmt: skip
    r = check(db, signer)
    fails_at(r, first, "payload")
    assert "purge" in {p.kind for p in r.problems}


def test_a_legitimate_retention_purge_verifies_with_payloads_classified_purged(
    sealed: tuple[Engine, Signer],
) -> None:
    db, signer = sealed
    report = purge(db, make_policy("default"), now_ns=T0 + 31 * DAY)  # payloads 30 days, metadata 90 days
    assert report.count("payloads") == 60
    r = check(db, signer)
    assert r.ok, r.as_dict()
    assert r.payloads["purged"] == 60 and r.payloads["present"] == 0


def test_a_metadata_purge_that_deleted_rows_verifies(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    purge(db, make_policy("default"), now_ns=T0 + 91 * DAY)
    r = check(db, signer)
    assert r.ok, r.as_dict()
    assert r.rows_deleted == 120


def test_an_erasure_verifies_with_payloads_classified_erased(db: Engine, tmp_path: Path) -> None:
    traces(db, 1, 5, subject_id="subj_a")
    traces(db, 6, 5, subject_id="subj_b")
    signer = seal(db, tmp_path / "key")
    erase_subject(db, "subj_a")
    r = check(db, signer)
    assert r.ok, r.as_dict()
    assert r.payloads["erased"] == 10 and r.payloads["present"] == 10
    # an erasure only covers the traces it names
    i = with_payload(db)[0]
    with db.begin() as conn:
        conn.execute(update(spans).where(spans.c.log_index == i).values(payload=None))
    fails_at(check(db, signer), i, "payload")


def test_unsequenced_rows_are_counted_not_failed(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    traces(db, 100, 2)
    r = check(db, signer)
    assert r.ok and r.unsequenced == 8


def test_the_log_extends_an_older_exported_checkpoint_and_not_a_forked_one(
    sealed: tuple[Engine, Signer], tmp_path: Path
) -> None:
    db, signer = sealed
    old = LogReader(db).latest_checkpoint()
    assert old is not None
    traces(db, 100, 5)
    Sequencer(db).drain()
    Checkpointer(db, tmp_path / "key").run_once(force=True)
    r = check(db, signer, against=old.note)
    assert r.ok and r.against_size == 120 and r.size == 140
    forked = sign_checkpoint(Checkpoint(read_state(db).origin, 120, b"\x07" * 32), [signer])  # type: ignore[union-attr]
    fails_at(check(db, signer, against=forked), 0, "fork")


def test_an_evidence_bundle_verifies_offline_and_fails_when_a_byte_changes(sealed: tuple[Engine, Signer]) -> None:
    db, signer = sealed
    span = agent_trace(9)[1]
    ev = LogReader(db).evidence(bytes.fromhex(span.trace_id), bytes.fromhex(span.span_id))
    text = ev.dumps()
    assert verify_evidence(text, [signer.verifier]).payload == "present"
    doc = json.loads(text)
    for field, mutate in (
        ("leaf", lambda v: v[:-2] + ("00" if v[-2:] != "00" else "01")),
        ("proof", lambda v: [v[0][:-2] + ("00" if v[0][-2:] != "00" else "01"), *v[1:]]),
        ("index", lambda v: v + 1),
        ("checkpoint", lambda v: v.replace("\n", "\n\u200b", 1)),
        ("payload", lambda v: ("A" if v[0] != "A" else "B") + v[1:]),
    ):
        bad = dict(doc, **{field: mutate(doc[field])})
        with pytest.raises(EvidenceError):
            verify_evidence(json.dumps(bad), [signer.verifier])
    with pytest.raises(EvidenceError):
        verify_evidence(text, [Signer.generate(signer.name).verifier])


def test_the_verify_command_passes_then_fails_naming_the_first_bad_index(tmp_path: Path) -> None:
    from watchkeeper.store import make_engine, migrate

    data = tmp_path / "data"
    engine = make_engine(f"sqlite:///{data / 'watchkeeper.db'}")
    migrate(engine)
    traces(engine, 1, 5)
    signer = seal(engine, data / "log-signing-key")
    runner = CliRunner()
    out = tmp_path / "cp.txt"
    r = runner.invoke(main, ["log", "checkpoint", "--data-dir", str(data), "--out", str(out)])
    assert r.exit_code == 0, r.output
    args = ["verify", "--data-dir", str(data), "--key", signer.verifier.vkey, "--against", str(out)]
    r = runner.invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "OK" in r.output and "present 10" in r.output
    assert ("(compiled reader)" if _scan is not None else "(python reader)") in r.output
    r = runner.invoke(main, [*args, "--python-only"])
    assert r.exit_code == 0 and "(python reader): OK" in r.output, r.output
    ev = tmp_path / "ev.json"
    span = agent_trace(2)[1]
    r = runner.invoke(main, ["log", "evidence", span.trace_id, span.span_id, "--data-dir", str(data), "-o", str(ev)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["verify-evidence", str(ev), "--key", signer.verifier.vkey])
    assert r.exit_code == 0 and r.output.startswith("OK"), r.output
    with engine.begin() as conn:
        conn.execute(update(spans).where(spans.c.log_index == 13).values(status="error"))
    engine.dispose()
    r = runner.invoke(main, [*args, "--json"])
    assert r.exit_code == 1
    report = json.loads(r.output)
    assert report["ok"] is False and report["first_bad_index"] == 13
    r = runner.invoke(main, ["log", "keys", "--data-dir", str(data)])
    assert r.output.strip() == signer.verifier.vkey
