"""SIGKILL while the log seals: a real server is killed mid-stream, restarted, and the log still verifies with every
acknowledged span in it."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchkeeper.cli import main
from watchkeeper.store import make_engine, migrate
from watchkeeper.store.tables import metadata
from watchkeeper.testing import free_port
from watchkeeper.trust import Signer

from ..server.test_durability import check_all_present, load_until_killed, start_server

pytestmark = pytest.mark.slow


def wait_sequenced(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
        if "watchkeeper_log_merge_delay_seconds 0.0" in text:
            return
        time.sleep(0.1)
    raise AssertionError("the log did not catch up with the store")


def kill_restart_verify(tmp_path: Path, args: list[str]) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    proc = start_server([*args, "--config", str(tmp_path / "wk.toml")], port, log)
    acked = load_until_killed(port, proc)  # SIGKILL while the sequencer and checkpointer run
    proc = start_server([*args, "--config", str(tmp_path / "wk.toml")], port, log)
    try:
        wait_sequenced(port)
        check_all_present(port, acked)
    finally:
        proc.terminate()  # a clean stop seals what is left and signs a final checkpoint
        proc.wait(30)
    vkey = Signer.from_skey((tmp_path / "log-signing-key").read_text().strip()).verifier.vkey
    r = CliRunner().invoke(main, ["verify", *args, "--key", vkey, "--strict", "--json"])
    report = json.loads(r.output)
    assert r.exit_code == 0, report
    assert report["unsequenced_rows"] == 0 and report["size"] >= 50 * len(acked)
    assert report["payloads"]["present"] == report["size"]


def config(tmp_path: Path) -> None:
    (tmp_path / "wk.toml").write_text(
        f'log_signing_key_file = "{tmp_path / "log-signing-key"}"\ncheckpoint_interval_s = 1\nsequencer_batch = 200\n'
    )


def test_a_killed_server_loses_no_acknowledged_span_and_its_log_verifies_on_sqlite(tmp_path: Path) -> None:
    config(tmp_path)
    kill_restart_verify(tmp_path, ["--data-dir", str(tmp_path / "data")])


@pytest.mark.postgres
def test_a_killed_server_loses_no_acknowledged_span_and_its_log_verifies_on_postgres(
    tmp_path: Path, pg_url: str
) -> None:
    engine = make_engine(pg_url)  # the session's database may hold other tests' rows and logs: start empty
    migrate(engine)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "projects":
                conn.execute(table.delete())
    engine.dispose()
    config(tmp_path)
    kill_restart_verify(tmp_path, ["--database-url", pg_url])
