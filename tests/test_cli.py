"""The CLI: every command has --help, the reference in docs/ is current, replay and export round-trip."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchkeeper.cli import main
from watchkeeper.store import head_revision

ROOT = Path(__file__).resolve().parents[1]


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for name in main.commands:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage: " in result.output


def test_the_cli_reference_is_current() -> None:
    render = runpy.run_path(str(ROOT / "docs" / "gen_cli_reference.py"))["render"]
    assert (ROOT / "docs" / "cli.md").read_text() == render()


def _records(n: int) -> list[dict[str, object]]:
    t = 1_700_000_000_000_000_000  # event time in 2023: replay keeps it
    out: list[dict[str, object]] = []
    for i in range(n):
        out.append(
            {
                "trace_id": f"{i + 1:032x}",
                "span_id": f"{1:016x}",
                "name": "agent",
                "kind": "agent",
                "start_time_ns": t + i,
                "end_time_ns": t + i + 10,
                "session_id": f"s{i % 3}",
            }
        )
        out.append(
            {
                "trace_id": f"{i + 1:032x}",
                "span_id": f"{2:016x}",
                "parent_span_id": f"{1:016x}",
                "name": "lookup",
                "kind": "tool",
                "start_time_ns": t + i + 1,
                "end_time_ns": t + i + 5,
                "tool": {"name": "lookup", "arguments": {"q": i}, "result": [i, "ok"]},
            }
        )
    out.append(
        {"id": "fb-1", "trace_id": f"{1:032x}", "kind": "correction", "value": "wrong order", "time_ns": t + 100}
    )
    return out


def test_replay_then_export_round_trips_records_and_keeps_event_time(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in _records(50)) + "\n")
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "d")]
    r = runner.invoke(main, ["replay", str(src), *data])
    assert r.exit_code == 0, r.output
    assert "replayed 100 spans and 1 feedback" in r.output
    r = runner.invoke(main, ["replay", str(src), *data])  # again: no duplicates
    assert r.exit_code == 0, r.output
    out = tmp_path / "out.jsonl"
    r = runner.invoke(main, ["export", "--reason", "round-trip test of export", "--out", str(out), *data])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 101
    spans = [x for x in lines if "span_id" in x]
    assert min(s["start_time_ns"] for s in spans) == 1_700_000_000_000_000_000
    tool = next(s for s in spans if s["name"] == "lookup" and s["trace_id"] == f"{7:032x}")
    assert tool["tool"]["arguments"] == {"q": 6} and tool["tool"]["result"] == [6, "ok"]
    assert lines[-1]["kind"] == "correction" and lines[-1]["value"] == "wrong order"
    # the export loads again into a fresh store, unchanged
    r = runner.invoke(main, ["replay", str(out), "--data-dir", str(tmp_path / "d2")])
    assert r.exit_code == 0, r.output
    out2 = tmp_path / "out2.jsonl"
    runner.invoke(
        main,
        ["export", "--reason", "round-trip test of export", "--out", str(out2), "--data-dir", str(tmp_path / "d2")],
    )
    assert [json.loads(x) for x in out2.read_text().splitlines()] == [
        dict(x, source="replay") if "span_id" in x or "kind" in x else x for x in lines
    ]


def test_a_bad_line_stops_replay_with_its_line_number(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    recs = _records(3)
    src.write_text("\n".join([json.dumps(recs[0]), "{oops", json.dumps(recs[1])]) + "\n")
    r = CliRunner().invoke(main, ["replay", str(src), "--data-dir", str(tmp_path / "d")])
    assert r.exit_code != 0
    assert "in.jsonl:2" in r.output
    src.write_text(json.dumps(dict(recs[0], trace_id="xyz")) + "\n")
    r = CliRunner().invoke(main, ["replay", str(src), "--data-dir", str(tmp_path / "d")])
    assert r.exit_code != 0 and "trace_id" in r.output


def test_export_to_parquet(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in _records(20)) + "\n")
    runner = CliRunner()
    assert runner.invoke(main, ["replay", str(src), "--data-dir", str(tmp_path / "d")]).exit_code == 0
    out = tmp_path / "spans.parquet"
    r = runner.invoke(
        main,
        [
            "export",
            "--reason",
            "parquet export test run",
            "--format",
            "parquet",
            "--out",
            str(out),
            "--data-dir",
            str(tmp_path / "d"),
        ],
    )
    assert r.exit_code == 0, r.output
    table = pq.read_table(out)
    assert table.num_rows == 40
    assert set(table.column("tool_name").to_pylist()) == {None, "lookup"}


def test_migrate_reports_the_schema_revision(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["migrate", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    head = head_revision()
    assert f"empty -> {head}" in r.output
    r = CliRunner().invoke(main, ["migrate", "--data-dir", str(tmp_path)])
    assert f"{head} -> {head}" in r.output


def test_a_bad_config_file_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "wk.toml"
    cfg.write_text("port = 'x'\n")
    r = CliRunner().invoke(main, ["migrate", "--config", str(cfg)])
    assert r.exit_code != 0
    assert "port must be an integer" in r.output


def test_config_never_prints_a_secret_setting(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["config"], env={"WATCHKEEPER_ENCRYPTION_KEY": "c2VjcmV0LWtleS1tYXRlcmlhbA=="})
    assert r.exit_code == 0, r.output
    assert "c2VjcmV0LWtleS1tYXRlcmlhbA" not in r.output and "encryption_key = (set, hidden)" in r.output
