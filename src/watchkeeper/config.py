"""Settings: one declared table, read in one place.

Precedence: CLI flag > environment (``WATCHKEEPER_<NAME>``) > config file (TOML) > default. Nothing else in the
package reads ``os.environ``. Every setting has a safe default and a line of help; ``docs/configuration.md`` is
generated from this table (``watchkeeper config --markdown``) and a test keeps the two in step.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


class Table(Mapping[str, Any]):
    """A read-only table setting (such as [privacy]); hashable, so it can be a dataclass default."""

    __slots__ = ("_d",)

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._d = dict(values or {})

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return repr(self._d)


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    secret: bool = False  # never printed, logged or shown in an error

    @property
    def env(self) -> str:
        return "WATCHKEEPER_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir", str, "./watchkeeper-data", "Directory for the embedded SQLite store; nothing is written outside it."
    ),
    Setting(
        "database_url",
        str,
        "",
        "SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db. Empty: SQLite in data_dir.",
    ),
    Setting("host", str, "127.0.0.1", "Address the server listens on."),
    Setting("port", int, 4319, "Port the server listens on (HTTP API, OTLP/HTTP at /v1/traces, web pages, /metrics)."),
    Setting(
        "workers",
        int,
        1,
        "Server processes sharing the port (serve); each uses about one core. Use up to the number of cores.",
    ),
    Setting(
        "max_body_bytes",
        int,
        16 * 1024 * 1024,
        "Largest request body accepted, before and after decompression (413 above it).",
    ),
    Setting(
        "max_string_chars",
        int,
        1_000_000,
        "Longest single string accepted in a record (messages, arguments, attributes).",
    ),
    Setting("max_depth", int, 32, "Deepest nesting accepted in tool arguments, results and attribute values."),
    Setting("max_future_s", int, 3600, "How far in the future a record's timestamp may lie before it is rejected."),
    Setting(
        "queue_max_records", int, 200_000, "Records waiting for the writer before ingest answers 429 with Retry-After."
    ),
    Setting("commit_max_records", int, 20_000, "Most records the writer commits in one transaction (group commit)."),
    Setting(
        "sqlite_synchronous",
        str,
        "normal",
        "SQLite synchronous mode: 'normal' survives a killed process; 'full' also survives power loss.",
    ),
    Setting(
        "prices_file",
        str,
        "",
        "TOML file of extra model prices (USD per million tokens) merged over the built-in table.",
    ),
    Setting("log_level", str, "info", "Server log level: debug, info, warning, error."),
    Setting(
        "encryption_key_file",
        str,
        "",
        "File holding the key-encryption key (32 bytes, base64 or hex) that wraps the data keys of stored content. "
        "Set this, encryption_key or encryption_kms to encrypt content at rest (AES-256-GCM).",
    ),
    Setting(
        "encryption_key",
        str,
        "",
        "The key-encryption key itself (base64 or hex); meant for the environment variable, not the config file.",
        secret=True,
    ),
    Setting(
        "encryption_kms",
        str,
        "",
        "A key-encryption-key plugin instead of a local key: 'name' or 'name:argument', from the entry-point group "
        "watchkeeper.kms.",
    ),
    Setting(
        "admin_token",
        str,
        "",
        "Token that privileged API calls (erasure) must send as 'Authorization: Bearer ...'; empty disables them.",
        secret=True,
    ),
    Setting(
        "privacy",
        dict,
        Table(),
        "The privacy policy: the [privacy] table of the config file (or JSON in the environment variable): per entity "
        "type and field path, redact, pseudonymise, mask, drop or keep. See docs/privacy.md.",
    ),
    Setting(
        "privacy_hmac_key",
        str,
        "",
        "Key of the keyed hash (HMAC-SHA256) that the pseudonymise action uses; needed only by that action. Meant "
        "for the environment variable, not the config file.",
        secret=True,
    ),
    Setting(
        "retention_profile",
        str,
        "default",
        "Retention profile: default, gdpr, hipaa or finance-7y (periods per data class; see docs/retention.md).",
    ),
    Setting(
        "retention_payload_days",
        int,
        0,
        "Days span and feedback content is kept before it is removed; 0: the profile's period.",
    ),
    Setting(
        "retention_metadata_days",
        int,
        0,
        "Days span and feedback rows are kept before they are deleted; 0: the profile's period.",
    ),
    Setting(
        "retention_aggregate_days",
        int,
        0,
        "Days aggregates (1-hour rollup buckets) are kept; 0: the profile's period.",
    ),
    Setting(
        "retention_audit_days",
        int,
        0,
        "Days audit records are kept; 0: the profile's period. Enforced once the audit log is stored.",
    ),
    Setting(
        "retention",
        dict,
        Table(),
        "Per-project retention: the [retention.projects.<id>] tables of the config file (or JSON in the environment "
        "variable), each with profile and/or payload_days, metadata_days, aggregate_days, audit_days.",
    ),
    Setting(
        "rollup_minute_days",
        int,
        7,
        "Days 1-minute rollup buckets are kept; 1-hour buckets are kept for the aggregates retention period.",
    ),
    Setting("purge_interval_s", int, 3600, "Seconds between the server's retention purges; 0 disables the purge."),
    Setting(
        "purge_batch_size", int, 500, "Rows a purge deletes or clears per transaction (small keeps ingest unblocked)."
    ),
    Setting(
        "log_signing_key_file",
        str,
        "",
        "File holding the Ed25519 key that signs the verifiable log's checkpoints (a Go note PRIVATE+KEY+... "
        "string). Empty: <data_dir>/log-signing-key, made with mode 0600 on first start. See docs/trust.md.",
    ),
    Setting(
        "checkpoint_interval_s", int, 10, "Seconds between signed checkpoints of the verifiable log while it grows."
    ),
    Setting(
        "checkpoint_max_leaves",
        int,
        10_000,
        "Leaves after which a checkpoint is signed without waiting for the interval.",
    ),
    Setting(
        "checkpoint_idle_s",
        int,
        300,
        "Seconds after which an unchanged log is signed again, so a fresh checkpoint proves nothing was added.",
    ),
    Setting(
        "sequencer_batch", int, 5000, "Most stored spans the log's sequencer appends to the tree in one transaction."
    ),
    Setting(
        "auth",
        bool,
        True,
        "Require a login (web) or an API key (API, OTLP) on every route but /healthz, /readyz and /login. Off: one "
        "local operator holds every permission (content reads are still audited); refused unless host is loopback.",
    ),
    Setting("session_ttl_s", int, 12 * 3600, "Seconds a web login lasts before the user must log in again."),
    Setting(
        "cookie_secure",
        bool,
        True,
        "Mark the login cookie Secure: browsers send it only over HTTPS (and to http://localhost). Turn off only "
        "behind a TLS-terminating proxy that talks plain HTTP to the browser's address.",
    ),
    Setting("grant_max_s", int, 8 * 3600, "Longest access an approved drill-down request may grant, in seconds."),
    Setting("break_glass_s", int, 15 * 60, "Seconds a break-glass self-grant lasts."),
    Setting(
        "break_glass_review_s",
        int,
        24 * 3600,
        "Seconds within which someone else must review a break-glass use before it is flagged overdue.",
    ),
    Setting(
        "rollup_pairs",
        str,
        "language:model_version,client_name:client_version,mcp_server:client,region:plan_tier,model:prompt_version",
        "Dimension pairs the rollups count together, as a:b,c:d (each dimension is always counted alone). A pair "
        "added later counts from then on; 'watchkeeper rollups rebuild' counts the past.",
    ),
    Setting(
        "rollup_max_values",
        int,
        100,
        "Values per dimension with rollup rows of their own (first come; a value unseen for 30 days gives its "
        "place up); further values are counted as (other).",
    ),
    Setting(
        "new_account_days",
        int,
        30,
        "Accounts younger than this many days are 'new' in the account_age slices (explorer default and /metrics); "
        "one of 1, 3, 7, 14, 30, 60, 90, 180, 365.",
    ),
    Setting(
        "metrics_slice_dimensions",
        str,
        "account_age,language,region,plan_tier,client_name,model,tool_name",
        "Dimensions whose values label the per-slice rates on /metrics (comma-separated; empty: none).",
    ),
    Setting(
        "metrics_slice_window_s",
        int,
        300,
        "Seconds of recent traffic (event time) the per-slice rates on /metrics count, read from 1-minute rollups.",
    ),
    Setting(
        "alert_rules_file",
        str,
        "",
        "YAML file of alert rules, inhibit rules, routes and receivers (docs/alerting.md); check it with `watchkeeper "
        "rules check FILE`. Empty: the built-in rules, which record alerts and send no notification.",
    ),
    Setting(
        "alert_interval_s",
        int,
        60,
        "Seconds between evaluations of the alert rules (each on the records' event time); 0 disables alerting.",
    ),
    Setting(
        "alert_common_mode",
        str,
        "pages-weighted",
        "The common-mode correction of the alert rules: off, pages (a slice that may page is tested against the "
        "common rise of the other slices of its dimension set, so a holiday or a surge of all traffic pages once, "
        "above them), all (every slice, tickets too) or pages-weighted (as pages, with the peers' median weighted by "
        "their volume and small peers counted, which reaches quiet holidays; docs/alerting.md).",
    ),
    Setting(
        "notifier_timeout_s",
        int,
        10,
        "Seconds a notifier waits for a receiver (HTTP or SMTP) before the attempt counts as failed.",
    ),
    Setting(
        "notifier_attempts",
        int,
        5,
        "Attempts per notification, with exponential backoff and jitter between them, before it is recorded as a "
        "delivery failure (and counted in watchkeeper_alert_delivery_failures_total).",
    ),
    Setting(
        "external_url",
        str,
        "",
        "The address users reach this server at (e.g. https://watchkeeper.example.org), for the links in "
        "notifications (externalURL, generatorURL). Empty: notifications carry no links back.",
    ),
)

# The common-mode corrections the alert engine knows (alerting.rollup_source.common_mode builds them).
COMMON_MODES = ("off", "pages", "all", "pages-weighted")

_BY_NAME = {s.name: s for s in SETTINGS}
_TABLES = tuple(s.name for s in SETTINGS if s.type is dict)  # settings given as a [table] of the config file


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: str = "./watchkeeper-data"
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 4319
    workers: int = 1
    max_body_bytes: int = 16 * 1024 * 1024
    max_string_chars: int = 1_000_000
    max_depth: int = 32
    max_future_s: int = 3600
    queue_max_records: int = 200_000
    commit_max_records: int = 20_000
    sqlite_synchronous: str = "normal"
    prices_file: str = ""
    log_level: str = "info"
    encryption_key_file: str = ""
    encryption_key: str = field(default="", repr=False)
    encryption_kms: str = ""
    admin_token: str = field(default="", repr=False)
    privacy: Mapping[str, Any] = Table()
    privacy_hmac_key: str = field(default="", repr=False)
    retention_profile: str = "default"
    retention_payload_days: int = 0
    retention_metadata_days: int = 0
    retention_aggregate_days: int = 0
    retention_audit_days: int = 0
    retention: Mapping[str, Any] = Table()
    rollup_minute_days: int = 7
    purge_interval_s: int = 3600
    purge_batch_size: int = 500
    log_signing_key_file: str = ""
    checkpoint_interval_s: int = 10
    checkpoint_max_leaves: int = 10_000
    checkpoint_idle_s: int = 300
    sequencer_batch: int = 5000
    auth: bool = True
    session_ttl_s: int = 12 * 3600
    cookie_secure: bool = True
    grant_max_s: int = 8 * 3600
    break_glass_s: int = 15 * 60
    break_glass_review_s: int = 24 * 3600
    rollup_pairs: str = (
        "language:model_version,client_name:client_version,mcp_server:client,region:plan_tier,model:prompt_version"
    )
    rollup_max_values: int = 100
    new_account_days: int = 30
    metrics_slice_dimensions: str = "account_age,language,region,plan_tier,client_name,model,tool_name"
    metrics_slice_window_s: int = 300
    alert_rules_file: str = ""
    alert_interval_s: int = 60
    alert_common_mode: str = "pages-weighted"
    notifier_timeout_s: int = 10
    notifier_attempts: int = 5
    external_url: str = ""

    @property
    def url(self) -> str:
        """The store's SQLAlchemy URL: the configured one, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'watchkeeper.db'}"

    @property
    def log_key_path(self) -> Path:
        """The verifiable log's signing key file: the configured one, or ``log-signing-key`` in the data directory."""
        return Path(self.log_signing_key_file) if self.log_signing_key_file else Path(self.data_dir) / "log-signing-key"


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    if setting.type is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ConfigError(f"{origin}: {setting.name} must be a JSON object") from None
        if not isinstance(value, Mapping):
            raise ConfigError(f"{origin}: {setting.name} must be a table")
        return Table(value)
    if setting.type is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{origin}: {setting.name} must be true or false")
    if setting.type is int:
        if isinstance(value, bool):
            raise ConfigError(f"{origin}: {setting.name} must be an integer")
        try:
            v = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {setting.name} must be an integer") from None
        if v < 0:
            raise ConfigError(f"{origin}: {setting.name} must not be negative")
        return v
    if not isinstance(value, str):
        raise ConfigError(f"{origin}: {setting.name} must be a string")
    return value


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_auth(auth: bool, host: str) -> None:
    """Refuses to serve without authentication on anything but a loopback address."""
    if not auth and host not in LOOPBACK:
        raise ConfigError(
            f"auth = false serves every record to anyone who can reach the server, so it is only allowed when host "
            f"is a loopback address ({', '.join(LOOPBACK)}); host is {host!r}"
        )


def _check_rollups(values: dict[str, Any]) -> None:
    from ._rollup import DIMENSIONS, check_new_days, parse_pairs  # the rollup model's own names

    try:
        parse_pairs(values["rollup_pairs"])
        check_new_days(values["new_account_days"])
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for d in values["metrics_slice_dimensions"].split(","):
        if d.strip() and d.strip() not in DIMENSIONS:
            raise ConfigError(
                f"metrics_slice_dimensions: unknown dimension {d.strip()!r}; known: {', '.join(DIMENSIONS)}"
            )


def _validate(values: dict[str, Any]) -> None:
    from .privacy.policy import PolicyError, parse_policy  # the policy's own rules, checked at start-up

    try:
        policy = parse_policy(values["privacy"])
    except PolicyError as e:
        raise ConfigError(f"{e}; see docs/privacy.md") from None
    if policy.needs_key and not values["privacy_hmac_key"]:
        raise ConfigError(
            "privacy: the pseudonymise action needs a key: set privacy_hmac_key (WATCHKEEPER_PRIVACY_HMAC_KEY)"
        )
    if values["sqlite_synchronous"] not in ("normal", "full"):
        raise ConfigError("sqlite_synchronous must be 'normal' or 'full'")
    if values["alert_common_mode"] not in COMMON_MODES:
        raise ConfigError(f"alert_common_mode must be one of {', '.join(COMMON_MODES)}")
    if values["log_level"] not in ("debug", "info", "warning", "error"):
        raise ConfigError("log_level must be one of debug, info, warning, error")
    if not 0 < values["port"] < 65536:
        raise ConfigError("port must be between 1 and 65535")
    for name in (
        "max_body_bytes",
        "max_string_chars",
        "max_depth",
        "queue_max_records",
        "commit_max_records",
        "workers",
        "purge_batch_size",
        "checkpoint_interval_s",
        "checkpoint_max_leaves",
        "checkpoint_idle_s",
        "sequencer_batch",
        "session_ttl_s",
        "grant_max_s",
        "break_glass_s",
        "break_glass_review_s",
        "rollup_minute_days",
        "rollup_max_values",
        "metrics_slice_window_s",
        "notifier_timeout_s",
        "notifier_attempts",
    ):
        if values[name] <= 0:
            raise ConfigError(f"{name} must be positive")
    if values["external_url"] and not values["external_url"].startswith(("http://", "https://")):
        raise ConfigError("external_url must start with http:// or https://")
    _check_rollups(values)
    check_auth(values["auth"], values["host"])
    from .privacy.retention import check_retention  # the profile names and periods are the retention room's

    check_retention(values)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from defaults, then the config file, then the environment, then explicit overrides (CLI flags)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    path = config_file or env.get("WATCHKEEPER_CONFIG")
    if path:
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
        section = doc.get("watchkeeper", doc)
        for table in _TABLES:
            if table in doc and section is not doc and table not in section:
                section = {**section, table: doc[table]}  # [privacy], [retention] beside [watchkeeper]
        for key, value in section.items():
            if isinstance(value, dict) and key not in _TABLES:
                continue  # other sections belong to other rooms (pricing, ...)
            if key not in _BY_NAME:
                raise ConfigError(f"config file {path}: unknown setting {key!r}; see docs/configuration.md")
            values[key] = _coerce(_BY_NAME[key], value, f"config file {path}")
    for s in SETTINGS:
        if s.env in env:
            values[s.name] = _coerce(s, env[s.env], f"environment variable {s.env}")
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in _BY_NAME:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(_BY_NAME[key], value, f"option --{key.replace('_', '-')}")
    _validate(values)
    return Settings(**values)


def settings_markdown() -> str:
    """The settings table as Markdown, for docs/configuration.md."""
    lines = [
        "| setting | environment variable | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        default = repr(s.default) if s.type is str else "{}" if s.type is dict else str(s.default)
        lines.append(f"| `{s.name}` | `{s.env}` | `{default}` | {s.help} |")
    return "\n".join(lines) + "\n"


__all__ = [
    "SETTINGS",
    "Setting",
    "Settings",
    "load_settings",
    "settings_markdown",
]
