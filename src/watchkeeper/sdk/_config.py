"""The SDK's settings: one declared table, read from arguments and the environment in one place.

Precedence: an argument to ``configure()`` > the environment variable > the default. Nothing else in the SDK reads
``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

# A redact hook takes a span's JSON form and returns it (changed or not), or None to drop the span.
RedactHook = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    env: str | None
    default: Any
    type: str  # str, bool, int, float, callable
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "endpoint",
        "WATCHKEEPER_ENDPOINT",
        "http://127.0.0.1:4319",
        "str",
        "Base URL of the Watchkeeper server; batches are POSTed to {endpoint}/api/v1/ingest.",
    ),
    Setting("api_key", "WATCHKEEPER_API_KEY", None, "str", "Sent as `Authorization: Bearer <api_key>` when set."),
    Setting("service_name", "WATCHKEEPER_SERVICE_NAME", None, "str", "Stamped on every span as `service_name`."),
    Setting(
        "enabled",
        "WATCHKEEPER_SDK_ENABLED",
        True,
        "bool",
        "When false, spans still run the code they wrap but nothing is exported and no thread is started.",
    ),
    Setting(
        "redact",
        None,
        None,
        "callable",
        "Applied to each span's JSON form in the exporter thread before export; return the dict or None to drop. "
        "True: redact PII and secrets with Watchkeeper's engine (the server's default policy).",
    ),
    Setting("max_queue_size", None, 4096, "int", "Records held for export; when full, new records are dropped."),
    Setting("max_batch_size", None, 512, "int", "Records per POST."),
    Setting("schedule_delay_s", None, 1.0, "float", "Longest wait before a partial batch is sent."),
    Setting("export_timeout_s", None, 10.0, "float", "Socket timeout for one POST."),
    Setting("max_retries", None, 6, "int", "Retries of one batch (429/503, 5xx, network errors) before it is dropped."),
    Setting("backoff_base_s", None, 0.5, "float", "First retry delay; doubles per attempt, with jitter."),
    Setting("max_backoff_s", None, 30.0, "float", "Cap on one exponential-backoff delay (Retry-After is honoured)."),
    Setting("gzip_min_bytes", None, 4096, "int", "Bodies at least this large are sent with Content-Encoding: gzip."),
    Setting("shutdown_timeout_s", None, 5.0, "float", "How long shutdown (and interpreter exit) waits to deliver."),
)

_BY_NAME = {s.name: s for s in SETTINGS}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Config:
    endpoint: str = "http://127.0.0.1:4319"
    api_key: str | None = None
    service_name: str | None = None
    enabled: bool = True
    redact: RedactHook | None = None
    max_queue_size: int = 4096
    max_batch_size: int = 512
    schedule_delay_s: float = 1.0
    export_timeout_s: float = 10.0
    max_retries: int = 6
    backoff_base_s: float = 0.5
    max_backoff_s: float = 30.0
    gzip_min_bytes: int = 4096
    shutdown_timeout_s: float = 5.0


def _convert(setting: Setting, value: Any, origin: str) -> Any:
    """The value as the setting's type; ValueError naming the setting and where it came from, never the value."""
    if value is None:
        return None
    kind = setting.type
    where = f"setting {setting.name!r} ({origin})"
    if kind == "callable":
        if value is True:  # Watchkeeper's own redaction engine, imported only now that it is asked for
            from watchkeeper.sdk._redact import engine_hook

            return engine_hook()
        if value is False:
            return None
        if not callable(value):
            raise ValueError(f"{where} must be callable")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string")
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"{where} must be true or false")
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"{where} must be an integer")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be an integer") from None
        if number < 0:
            raise ValueError(f"{where} must not be negative")
        return number
    if isinstance(value, bool):
        raise ValueError(f"{where} must be a number")
    try:
        real = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a number") from None
    if not real >= 0:
        raise ValueError(f"{where} must be a non-negative number")
    return real


def load_config(overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """The effective settings: ``overrides`` (None means unset) over the environment over defaults.

    Raises ValueError naming the setting (and the environment variable) when a value is of the wrong type.
    """
    env = os.environ if environ is None else environ
    unknown = set(overrides) - set(_BY_NAME)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = overrides.get(setting.name)
        if value is not None:
            values[setting.name] = _convert(setting, value, "argument")
            continue
        if setting.env is not None:
            raw = env.get(setting.env)
            if raw is not None and raw != "":
                values[setting.name] = _convert(setting, raw, f"environment variable {setting.env}")
                continue
        values[setting.name] = setting.default
    endpoint = values["endpoint"]
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("setting 'endpoint' must be an http:// or https:// URL with a host")
    if values["max_batch_size"] < 1 or values["max_queue_size"] < 1:
        raise ValueError("settings 'max_batch_size' and 'max_queue_size' must be at least 1")
    known = {f.name for f in fields(Config)}
    return Config(**{k: v for k, v in values.items() if k in known})
