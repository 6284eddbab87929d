"""Settings: one table, documented, with precedence flag > environment > file > default and precise errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from watchkeeper.config import SETTINGS, Settings, load_settings, settings_markdown
from watchkeeper.errors import ConfigError

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_declared_once_and_documented() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert fields == {s.name: s.default for s in SETTINGS}
    assert all(s.help for s in SETTINGS)
    assert (DOCS / "configuration-table.md").read_text() == settings_markdown()
    assert (DOCS / "configuration.md").read_text().endswith(settings_markdown())


def test_precedence_is_flag_then_environment_then_file_then_default(tmp_path: Path) -> None:
    cfg = tmp_path / "wk.toml"
    cfg.write_text('[watchkeeper]\nport = 5000\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    env = {"WATCHKEEPER_PORT": "6000", "WATCHKEEPER_HOST": "10.0.0.1"}
    s = load_settings(cfg, {"port": 7000}, environ=env)
    assert (s.port, s.host, s.log_level, s.max_depth) == (7000, "10.0.0.1", "debug", 32)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("port = 'eighty'", {}, "port must be an integer"),
        ("colour = 'red'", {}, "unknown setting 'colour'"),
        ("port = 70000", {}, "port must be between"),
        ("sqlite_synchronous = 'sometimes'", {}, "sqlite_synchronous"),
        ("= broken", {}, "not valid TOML"),
        ("", {"WATCHKEEPER_MAX_DEPTH": "-1"}, "WATCHKEEPER_MAX_DEPTH"),
    ],
)
def test_bad_settings_are_refused_with_a_precise_message(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    cfg = tmp_path / "wk.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, environ=env)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_the_store_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    s = load_settings(overrides={"data_dir": str(tmp_path)}, environ={})
    assert s.url == f"sqlite:///{tmp_path.resolve() / 'watchkeeper.db'}"
