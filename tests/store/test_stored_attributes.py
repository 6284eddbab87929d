"""Signal labels are stored as arrays (a third less room per LLM span) and read back as objects, old rows too."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import Engine, select, text, update

from watchkeeper._attributes import SIGNALS_KEY, dump_attributes, load_attributes
from watchkeeper.analytics.catalogue import signal_label
from watchkeeper.records import LLMCall, Message
from watchkeeper.signals import Label
from watchkeeper.store import make_engine, migrate
from watchkeeper.store._codec import span_from_row
from watchkeeper.store.tables import spans

from .test_store import make_span, write

LABELS = {
    "language": Label("de", 0.97, "language-3").as_dict(),
    "prompt_injection": Label("prompt_injection", 0.5, "attacks-3", evidence=("forbidden_topic",)).as_dict(),
    "account_age": Label("unknown", 0.0, "cohort-1", reason="account.created_at_ns is absent").as_dict(),
}
ATTRS = {"otel.scope.name": "shop", SIGNALS_KEY: LABELS}


def test_labels_are_stored_as_arrays_and_read_back_as_the_objects_they_were() -> None:
    stored = dump_attributes(ATTRS)
    assert stored is not None
    doc = orjson.loads(stored)
    assert doc[SIGNALS_KEY]["language"] == ["de", 0.97, "language-3"]
    assert doc[SIGNALS_KEY]["prompt_injection"] == [
        "prompt_injection",
        0.5,
        "attacks-3",
        {"evidence": ["forbidden_topic"]},
    ]
    assert load_attributes(stored) == ATTRS
    assert len(orjson.dumps(ATTRS)) - len(stored) >= 24 * len(LABELS)  # "label", "score", "version" and braces
    assert dump_attributes({}) is None and load_attributes(None) == {}


def test_values_that_are_not_labels_are_stored_and_read_as_they_came() -> None:
    odd = {SIGNALS_KEY: {"custom": {"label": "x"}, "list": [1, 2], "n": 3}, "k": [1, 2, 3]}
    assert load_attributes(dump_attributes(odd)) == odd
    assert load_attributes(dump_attributes({SIGNALS_KEY: "not a map"})) == {SIGNALS_KEY: "not a map"}


def _labelled_span() -> object:
    return make_span(
        1,
        1,
        llm=LLMCall(provider="openai", input_messages=[Message(role="user", content="Hallo")]),
        attributes=ATTRS,
    )


def test_a_stored_span_reads_back_its_labels_and_sql_reads_the_label(db: Engine) -> None:
    write(db, [_labelled_span()])  # type: ignore[list-item]
    with db.connect() as conn:
        row = conn.execute(select(spans)).one()
        assert orjson.loads(row.attributes)[SIGNALS_KEY]["language"][0] == "de"
        assert span_from_row(row).attributes == ATTRS
        q = select(signal_label(db.dialect.name, "language"), signal_label(db.dialect.name, "prompt_injection"))
        assert tuple(conn.execute(q.select_from(spans)).one()) == ("de", "prompt_injection")


def test_rows_written_with_object_labels_still_read_and_filter(db: Engine) -> None:
    write(db, [_labelled_span()])  # type: ignore[list-item]
    before = orjson.dumps(ATTRS).decode()  # the form every store written before held
    with db.begin() as conn:
        conn.execute(update(spans).values(attributes=before))
    with db.connect() as conn:
        row = conn.execute(select(spans)).one()
        assert span_from_row(row).attributes == ATTRS
        q = select(signal_label(db.dialect.name, "language")).select_from(spans)
        assert conn.execute(q).scalar() == "de"


def test_a_new_sqlite_store_uses_16_kib_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    new = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    migrate(new)
    with new.connect() as conn:
        assert conn.execute(text("PRAGMA page_size")).scalar() == 16384
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == (32 << 20) // 16384
    new.dispose()
    import sqlite3

    old_path = tmp_path / "old.db"
    con = sqlite3.connect(old_path)  # a store made before: 4 KiB pages, already in WAL mode
    con.execute("PRAGMA page_size=4096")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (x)")
    con.close()
    old = make_engine(f"sqlite:///{old_path}")
    with old.connect() as conn:
        assert conn.execute(text("PRAGMA page_size")).scalar() == 4096
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == (32 << 20) // 4096
    old.dispose()
