"""`watchkeeper redact` on JSONL, and recognisers as plugins: registry, entry points, the public API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from watchkeeper import privacy
from watchkeeper.cli import main
from watchkeeper.privacy import Engine, Finding, PatternRecogniser, Registry, default_registry


def test_redact_reads_jsonl_and_writes_spans_with_input_offsets() -> None:
    lines = [
        {"id": 1, "text": "Mail ana@acme.io, key AKIAIOSFODNN7EXAMPLE"},
        {"id": "b", "text": "日本語 ana@acme.io"},
        {"id": 3, "text": "nothing here"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n"
    result = CliRunner().invoke(main, ["redact"], input=stdin.encode())
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert out[0] == {
        "id": 1,
        "text": "Mail <EMAIL_1>, key <AWS_ACCESS_KEY_ID_1>",
        "spans": [{"start": 5, "end": 16, "type": "EMAIL"}, {"start": 22, "end": 42, "type": "AWS_ACCESS_KEY_ID"}],
    }
    assert out[1]["spans"] == [{"start": 4, "end": 15, "type": "EMAIL"}]
    assert out[2] == {"id": 3, "text": "nothing here", "spans": []}
    assert out[3]["id"] is None and "line 4: not valid JSON" in out[3]["error"]
    assert "1 line(s) rejected" in result.stderr


def test_redact_errors_never_quote_the_text() -> None:
    result = CliRunner().invoke(main, ["redact"], input=b'{"id": 1, "text": ["ana@acme.io"]}\n')
    assert "ana@acme.io" not in result.output and "field 'text' must be a string" in result.output


def test_redact_has_help() -> None:
    result = CliRunner().invoke(main, ["redact", "--help"])
    assert result.exit_code == 0 and "JSONL" in result.output


class TicketIds:
    """A third-party recogniser: the Protocol needs only name, entity_types and find."""

    name = "ticket_ids"
    entity_types = ("TICKET",)

    def find(self, text: str) -> Iterator[Finding]:
        for m in re.finditer(r"\bCASE-\d{6}\b", text):
            yield Finding(m.start(), m.end(), "TICKET", self.name)


def test_a_plugin_registers_like_a_builtin_and_is_applied() -> None:
    reg = default_registry(entry_points=False)
    reg.register(TicketIds())
    r = privacy.make_redactor(engine=Engine(reg))
    assert privacy.redact_text("see CASE-123456 from ana@acme.io", r) == "see <TICKET_1> from <EMAIL_1>"
    with pytest.raises(ValueError, match="already registered"):
        reg.register(TicketIds())
    with pytest.raises(TypeError):
        reg.register(object())  # type: ignore[arg-type]


def test_pattern_recognisers_with_triggers_go_through_the_prefilter() -> None:
    reg = Registry([PatternRecogniser("emp", ("EMPLOYEE_ID",), re.compile(r"EMP\d{5}"), (r"EMP\d{5}",))])
    assert [(f.type, f.start) for f in Engine(reg).scan("id EMP12345 ok")] == [("EMPLOYEE_ID", 3)]


def test_a_trigger_hyperscan_cannot_compile_makes_only_its_recogniser_run_on_every_text() -> None:
    pytest.importorskip("hyperscan")
    # Hyperscan has no backreferences: that trigger fails, the other recogniser keeps its prefilter.
    doubled = PatternRecogniser("dbl", ("DOUBLED",), re.compile(r"\b(\w{3})-\1\b"), (r"(\w{3})-\1",))
    emp = PatternRecogniser("emp", ("EMPLOYEE_ID",), re.compile(r"EMP\d{5}"), (r"EMP\d{5}",))
    eng = Engine(Registry([doubled, emp]))
    assert eng._always == [0] and eng._db is not None
    assert [(f.type, f.start) for f in eng.scan("abc-abc and EMP12345")] == [("DOUBLED", 0), ("EMPLOYEE_ID", 12)]
    assert eng._candidates("nothing here") == [0]


def test_recognisers_load_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    class EP:
        name = "tickets"

        def load(self) -> type[TicketIds]:
            return TicketIds

    monkeypatch.setattr("watchkeeper._registry.entry_points", lambda group: [EP()] if group else [])
    reg = Registry()
    assert reg.load_entry_points() == ["ticket_ids"]
    assert reg.names() == ["ticket_ids"]


def test_the_public_api_is_pinned() -> None:
    assert set(privacy.__all__) >= {
        "Engine",
        "Finding",
        "Recogniser",
        "Registry",
        "Policy",
        "PolicyError",
        "Redactor",
        "RecordRedactor",
        "default_registry",
        "make_redactor",
        "parse_policy",
        "redact_jsonl",
        "redact_text",
        "ENTRY_POINT_GROUP",
    }
    assert privacy.ENTRY_POINT_GROUP == "watchkeeper.recognisers"
    assert set(default_registry(entry_points=False).entity_types()) >= privacy.PII_TYPES | privacy.SECRET_TYPES
