"""The CLI: `watchkeeper rules check` (precise errors, exit status 1) and `watchkeeper silence add|list|expire`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from watchkeeper.cli import main


def test_rules_check_accepts_the_shipped_rules_and_describes_them() -> None:
    path = Path(__file__).resolve().parents[2] / "src/watchkeeper/alerting/default_rules.yaml"
    r = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert r.exit_code == 0, r.output
    assert "11 rules (11 enabled), 1 receivers: OK" in r.stdout
    assert "RefusalRateSpike: refusals = LLM spans labelled full_refusal or partial_refusal" in r.stdout
    assert "LatencyRegression: latency = a histogram measure" in r.stdout
    assert "TokenThroughputRegression: time_per_output_token = a histogram measure" in r.stdout
    assert "warning:" not in r.stderr


def test_rules_check_prints_every_problem_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "version: 1\nrules:\n  - alert: X\n    metric: refusal\n    severity: page\n    for: 2d\n    lookback: 1d\n"
        "    annotations: {summary: s}\n"
    )
    r = CliRunner().invoke(main, ["rules", "check", str(bad)])
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert f"{bad}:4: rule 'X': metric: unknown metric 'refusal'; known:" in lines[0]
    assert any(f"{bad}:6: rule 'X': for: must not be longer than the lookback (2d > 1d)" in x for x in lines)
    assert any("annotations.runbook_url: required for severity page" in x for x in lines)
    assert lines[-1] == "3 problem(s); nothing was loaded"
    missing = CliRunner().invoke(main, ["rules", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "nope.yaml: file: does not exist" in missing.stderr


def test_silences_are_added_listed_and_expired_from_the_cli(tmp_path: Path) -> None:
    run = CliRunner()
    d = ["--data-dir", str(tmp_path)]
    add = run.invoke(
        main,
        ["silence", "add", *d, "-m", 'alertname="RefusalRateSpike"', "-m", "language=fr", "--duration", "2h",
         "--author", "alice", "--comment", "filter rollback"],
    )  # fmt: skip
    assert add.exit_code == 0, add.output
    sid = add.stdout.split()[1]
    listed = run.invoke(main, ["silence", "list", *d, "--state", "active"])
    assert sid in listed.stdout and '{alertname="RefusalRateSpike",language="fr"}' in listed.stdout
    assert "alice\tfilter rollback" in listed.stdout
    gone = run.invoke(main, ["silence", "expire", *d, sid])
    assert gone.exit_code == 0 and f"silence {sid} expired" in gone.stdout
    again = run.invoke(main, ["silence", "expire", *d, sid])
    assert again.exit_code == 1 and "already expired" in again.output
    assert run.invoke(main, ["silence", "list", *d, "--state", "active"]).stdout == "no silences\n"


def test_a_bad_silence_is_refused_with_the_reason(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path)]
    base = ["silence", "add", *d, "--author", "a", "--comment", "c"]
    everything = CliRunner().invoke(main, [*base, "-m", 'team=~".*"', "--duration", "1h"])
    assert everything.exit_code == 2 and "must not match the empty value" in everything.output
    no_end = CliRunner().invoke(main, [*base, "-m", "team=db"])
    assert no_end.exit_code == 2 and "exactly one of an end time or a duration" in no_end.output
    bad = CliRunner().invoke(main, [*base, "-m", "team==db", "--duration", "1h"])
    assert bad.exit_code == 2 and "matchers[0]" in bad.output
