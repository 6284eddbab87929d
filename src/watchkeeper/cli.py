"""The ``watchkeeper`` command. Thin: parse options, call one function of a room, format the result."""

from __future__ import annotations

import gzip
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import click

from . import __version__
from .config import SETTINGS, Settings, load_settings, settings_markdown
from .errors import ConfigError, InputError, Overloaded, WatchkeeperError

_COMMON = [
    click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file."),
    click.option("--data-dir", help="Directory of the embedded SQLite store (default ./watchkeeper-data)."),
    click.option("--database-url", help="Store URL, e.g. postgresql+psycopg://user@host/db (overrides --data-dir)."),
]


def _common(f: Any) -> Any:
    for opt in reversed(_COMMON):
        f = opt(f)
    return f


def _settings(config_file: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config_file, overrides)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def _setup_logging(level: str) -> None:
    from ._logging import configure_logging

    configure_logging(level)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="watchkeeper")
def main() -> None:
    """Watchkeeper: monitoring for LLM applications and agents in production.

    Start with `watchkeeper demo` (a server with live synthetic traffic) or `watchkeeper serve`.
    """


@main.command()
@_common
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 4319).")
@click.option("--workers", type=int, help="Server processes sharing the port (default 1); about one core each.")
def serve(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    host: str | None,
    port: int | None,
    workers: int | None,
) -> None:
    """Run the server: OTLP/HTTP at /v1/traces, the JSON API, web pages and /metrics."""
    s = _settings(config_file, data_dir=data_dir, database_url=database_url, host=host, port=port, workers=workers)
    if s.workers > 1:
        from ._serve import serve_workers

        _setup_logging(s.log_level)
        try:
            problem = serve_workers(s, s.workers)
        except WatchkeeperError as e:
            raise click.ClickException(str(e)) from None
        if problem is not None:
            raise click.ClickException(problem)
        return
    _run_server(s)


def _run_server(s: Settings, *, demo: bool = False, on_ready: Any = None) -> None:
    import uvicorn

    from .server import create_app

    _setup_logging(s.log_level)
    try:
        app = create_app(s)
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    app.state.demo = demo
    from ._serve import SHUTDOWN_GRACE_S, tune_gc

    tune_gc()
    config = uvicorn.Config(
        app,
        host=s.host,
        port=s.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    server = uvicorn.Server(config)
    if on_ready is not None:

        def watch() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                on_ready(app)

        threading.Thread(target=watch, daemon=True, name="watchkeeper-on-ready").start()
    server.run()
    if not server.started:
        raise click.ClickException(f"the server could not start on {s.host}:{s.port} (is the port in use?)")


@main.command()
@_common
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 4319).")
@click.option("--rate", type=float, default=120.0, show_default=True, help="Synthetic traces per minute.")
@click.option(
    "--backfill-hours", type=float, default=6.0, show_default=True, help="Hours of synthetic history to load at start."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the simulator.")
def demo(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    host: str | None,
    port: int | None,
    rate: float,
    backfill_hours: float,
    seed: int,
) -> None:
    """Run the server with live synthetic traffic (clearly marked as synthetic).

    Uses ./watchkeeper-demo-data unless --data-dir or --database-url is given, so demo data never mixes with
    real data.
    """
    s = _settings(
        config_file, data_dir=data_dir or "./watchkeeper-demo-data", database_url=database_url, host=host, port=port
    )
    from .demo import Simulator, backfill, run_live

    s = _demo_encryption(s)
    stop = threading.Event()

    def start_traffic(app: Any) -> None:
        rt = app.state.runtime
        sim = Simulator(seed=seed, base_rate_per_min=rate)

        def send(spans: list[Any], feedback: list[Any]) -> None:
            _send_with_retry(rt, spans, feedback, "demo")

        now = time.time_ns()
        batch_spans: list[Any] = []
        batch_fb: list[Any] = []
        for spans, fb in backfill(sim, backfill_hours, now):
            batch_spans.extend(spans)
            batch_fb.extend(fb)
            if len(batch_spans) >= 2000:
                send(batch_spans, batch_fb)
                batch_spans, batch_fb = [], []
        if batch_spans or batch_fb:
            send(batch_spans, batch_fb)
        url = f"http://{s.host}:{s.port}/traces"
        click.echo(f"Watchkeeper demo is running with synthetic traffic: open {url}", err=True)
        threading.Thread(
            target=run_live,
            args=(sim, send),
            kwargs={"stop": stop, "rate_per_min": rate, "start_ns": now},
            daemon=True,
            name="watchkeeper-demo-traffic",
        ).start()

    click.echo(f"Starting Watchkeeper demo on http://{s.host}:{s.port} (data in {s.data_dir}) ...", err=True)
    try:
        _run_server(s, demo=True, on_ready=start_traffic)
    finally:
        stop.set()


def _demo_encryption(s: Settings) -> Settings:
    """The demo encrypts content at rest like a real deployment should: with a demo key made on first start."""
    from dataclasses import replace

    from .privacy.encryption import generate_key

    if s.encryption_key_file or s.encryption_key or s.encryption_kms or s.database_url:
        return s
    key_file = Path(s.data_dir) / "demo-encryption-key.txt"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(generate_key() + "\n", encoding="ascii")
        key_file.chmod(0o600)
    click.echo(
        f"Content is encrypted at rest with a demo key in {key_file} (a real key belongs outside the data directory).",
        err=True,
    )
    return replace(s, encryption_key_file=str(key_file))


def _send_with_retry(rt: Any, spans: list[Any], feedback: list[Any], source: str) -> None:
    while True:
        try:
            rt.ingest_sync(spans, feedback, source)
            return
        except Overloaded as e:
            time.sleep(min(e.retry_after_s, 5))


@main.command()
@_common
def migrate(config_file: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Create or upgrade the store's schema to this version, then exit."""
    from .store import current_revision, make_engine
    from .store import migrate as do_migrate

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = make_engine(s.url, sqlite_synchronous=s.sqlite_synchronous)
    before = current_revision(engine)
    after = do_migrate(engine)
    click.echo(f"schema: {before or 'empty'} -> {after}")


@main.command()
@_common
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "records", "otlp-json"]),
    default="auto",
    show_default=True,
    help="records: JSONL of canonical records (as written by export); otlp-json: "
    "OTLP/JSON export requests, one per line.",
)
@click.option("--batch-size", type=int, default=2000, show_default=True)
def replay(
    config_file: str | None, data_dir: str | None, database_url: str | None, file: str, fmt: str, batch_size: int
) -> None:
    """Load recorded traffic into the store as fast as possible, keeping each record's event time.

    FILE is JSONL (optionally .gz), or - for standard input. A bad line stops the replay with its line number;
    lines before it stay stored. Re-running a replay does not duplicate records.
    """
    from .ingest.jsonbatch import decode_batch_doc
    from .server._runtime import Runtime

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    rt = Runtime(s)
    rt.start()
    t0 = time.perf_counter()
    total_spans = total_fb = 0
    spans: list[Any] = []
    fb: list[Any] = []
    try:
        for lineno, doc in _jsonl(file):
            try:
                if fmt == "otlp-json" or (fmt == "auto" and "resourceSpans" in doc):
                    from .ingest.otlp import decode_otlp

                    # replayed history is old by design: no future check beyond the usual limit
                    spans.extend(
                        decode_otlp(
                            json.dumps(doc).encode(),
                            "application/json",
                            max_string_chars=s.max_string_chars,
                            max_depth=s.max_depth,
                        )
                    )
                else:
                    if "spans" in doc or "feedback" in doc:
                        sp, f = decode_batch_doc(doc, source="replay")
                    elif "span_id" in doc:
                        sp, f = decode_batch_doc({"spans": [doc]}, source="replay")
                    else:
                        sp, f = decode_batch_doc({"feedback": [doc]}, source="replay")
                    spans.extend(sp)
                    fb.extend(f)
            except InputError as e:
                raise click.ClickException(f"{file}:{lineno}: {e}") from None
            if len(spans) + len(fb) >= batch_size:
                _flush(rt, spans, fb, file, lineno)
                total_spans += len(spans)
                total_fb += len(fb)
                spans, fb = [], []
        if spans or fb:
            _flush(rt, spans, fb, file, -1)
            total_spans += len(spans)
            total_fb += len(fb)
    finally:
        rt.stop()
    dt = time.perf_counter() - t0
    rate = total_spans / dt if dt > 0 else 0.0
    click.echo(f"replayed {total_spans} spans and {total_fb} feedback events in {dt:.1f} s ({rate:,.0f} spans/s)")


def _flush(rt: Any, spans: list[Any], fb: list[Any], file: str, lineno: int) -> None:
    try:
        _send_with_retry(rt, spans, fb, "replay")
    except InputError as e:
        where = f"batch ending at line {lineno}" if lineno > 0 else "last batch"
        raise click.ClickException(f"{file}: {where}: {e}") from None


def _jsonl(path: str) -> Iterator[tuple[int, Any]]:
    stream: IO[bytes]
    if path == "-":
        stream = sys.stdin.buffer
    elif path.endswith(".gz"):
        stream = cast(IO[bytes], gzip.open(path, "rb"))  # noqa: SIM115 - closed below
    else:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    try:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                reason = e.msg if isinstance(e, json.JSONDecodeError) else "invalid UTF-8"
                raise click.ClickException(f"{path}:{lineno}: not valid JSON ({reason})") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@main.command()
@_common
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Output file; - for standard output (JSONL only).",
)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl", show_default=True)
@click.option("--from", "from_", help="Start of the time range: RFC 3339 or ns since epoch.")
@click.option("--to", help="End of the time range (exclusive).")
@click.option(
    "--with-content/--metadata-only",
    default=True,
    show_default=True,
    help="Include messages, tool arguments and results.",
)
def export(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    out: str,
    fmt: str,
    from_: str | None,
    to: str | None,
    with_content: bool,
) -> None:
    """Export stored spans (and feedback) as JSONL of canonical records, or as a Parquet table.

    The JSONL output can be loaded again with `watchkeeper replay`.
    """
    from .server.api import parse_time
    from .store import export as exp
    from .store import make_engine

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = make_engine(s.url, sqlite_synchronous=s.sqlite_synchronous)
    opener = _content_opener(s, engine) if with_content else None
    try:
        start, end = parse_time(from_, "from"), parse_time(to, "to")
    except InputError as e:
        raise click.BadParameter(str(e)) from None
    if fmt == "parquet":
        if out == "-":
            raise click.BadParameter("Parquet needs a file: pass --out FILE.parquet", param_hint="--out")
        try:
            n = exp.export_parquet(
                engine, Path(out), start_ns=start, end_ns=end, with_content=with_content, opener=opener
            )
        except ImportError:
            raise click.ClickException("Parquet export needs pyarrow: pip install 'watchkeeper[parquet]'") from None
        click.echo(f"exported {n} spans to {out}", err=True)
        return
    stream = sys.stdout if out == "-" else open(out, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        n = exp.export_jsonl(engine, stream, start_ns=start, end_ns=end, with_content=with_content, opener=opener)
    finally:
        if stream is not sys.stdout:
            stream.close()
    click.echo(f"exported {n} records", err=True)


def _key_ring(s: Settings, engine: Any) -> Any:
    """The store's key ring when a key-encryption key is configured (checked against the store), else None."""
    from .privacy.encryption import KeyRing, check_keys, load_kek
    from .store import migrate as do_migrate

    try:
        kek = load_kek(s)
        do_migrate(engine)
        ring = KeyRing(engine, kek) if kek is not None else None
        check_keys(engine, ring)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    return ring


def _content_opener(s: Settings, engine: Any) -> Any:
    ring = _key_ring(s, engine)
    return ring.open if ring is not None else None


@main.group()
def keys() -> None:
    """Keys for encryption at rest: make a key-encryption key, or re-wrap data keys under a new one."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random 256-bit key-encryption key (base64) for encryption_key_file or WATCHKEEPER_ENCRYPTION_KEY.

    Keep it outside the data directory and back it up: without it, encrypted content cannot be read.
    """
    from .privacy.encryption import generate_key

    click.echo(generate_key())


@keys.command("rotate")
@_common
@click.option(
    "--new-key-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="File holding the new key-encryption key.",
)
def keys_rotate(config_file: str | None, data_dir: str | None, database_url: str | None, new_key_file: str) -> None:
    """Re-wrap every data key from the configured key-encryption key to a new one; content is not touched.

    Run it, then point encryption_key_file at the new key and restart. It can be interrupted and run again.
    """
    from .privacy.encryption import LocalKey, parse_key
    from .store import make_engine

    try:
        new = LocalKey(parse_key(Path(new_key_file).read_text(encoding="ascii"), f"--new-key-file {new_key_file}"))
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    except UnicodeDecodeError:
        raise click.ClickException("--new-key-file does not hold a text key") from None
    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = make_engine(s.url, sqlite_synchronous=s.sqlite_synchronous)
    try:
        ring = _key_ring(s, engine)
        if ring is None:
            raise click.ClickException("no key-encryption key is configured; there is nothing to rotate")
        n = ring.rewrap(new)
    finally:
        engine.dispose()
    click.echo(f"re-wrapped {n} data keys from {ring.kek.key_id} to {new.key_id}")


@main.command()
@_common
@click.option("--subject", "subject_id", required=True, help="The (pseudonymous) subject id to erase.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(config_file: str | None, data_dir: str | None, database_url: str | None, subject_id: str, yes: bool) -> None:
    """Erase a data subject: destroy their data keys, delete their content, and record the erasure.

    Prints a JSON report of what was erased. Metadata without content (times, models, token counts) is kept.
    """
    from .privacy.erasure import erase_subject
    from .store import make_engine

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    if not yes:
        click.confirm(f"Erase all content of subject {subject_id!r}? This cannot be undone", abort=True)
    engine = make_engine(s.url, sqlite_synchronous=s.sqlite_synchronous)
    try:
        report = erase_subject(engine, subject_id, ring=_key_ring(s, engine))
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    finally:
        engine.dispose()
    click.echo(json.dumps(report.as_dict()))


@main.command()
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file with a [privacy] policy."
)
def redact(config_file: str | None) -> None:
    """Redact JSONL from standard input to standard output, with the engine and policy the server uses.

    Each input line is {"id": ..., "text": "..."}; each output line is {"id", "text": <redacted>, "spans":
    [{"start", "end", "type"}]} with offsets into the input text (Python str code points), so the engine can be
    measured on any labelled corpus. A line that cannot be redacted becomes {"id", "error"}; the count of such lines
    goes to standard error.
    """
    from .privacy import PolicyError, make_redactor, redact_jsonl

    s = _settings(config_file)
    try:
        redactor = make_redactor(s.privacy, s.privacy_hmac_key or None)
    except PolicyError as e:
        raise click.ClickException(str(e)) from None
    _done, rejected = redact_jsonl(sys.stdin.buffer, sys.stdout, redactor)
    sys.stdout.flush()
    if rejected:
        click.echo(f"watchkeeper redact: {rejected} line(s) rejected (see their 'error' field)", err=True)


@main.command()
def classify() -> None:
    """Label JSONL from standard input with the signals, to standard output, so they can be measured on any set.

    Each input line is {"id", "text"} for a user input (optional "system": the system prompt it was sent with),
    {"id", "prompt", "completion"} for a model output, or {"id", "tool_result"} for a tool or MCP result. Each output
    line has the "id" and, per signal (language, script, jailbreak, prompt_injection, refusal, output_language,
    indirect_injection), {"label", "score", "version"} with "reason" when the label is unknown and "evidence" naming
    the rules that fired. A line that is not a JSON object becomes {"id", "error"}; their count goes to standard error.
    """
    from .signals import classify_jsonl

    _done, rejected = classify_jsonl(sys.stdin.buffer, sys.stdout)
    sys.stdout.flush()
    if rejected:
        click.echo(f"watchkeeper classify: {rejected} line(s) rejected (see their 'error' field)", err=True)


@main.group()
def signals() -> None:
    """Signals stored on each span (language, refusal, jailbreak, injection, tool errors, cohorts)."""


@signals.command("backfill")
@_common
@click.option("--dry-run", is_flag=True, help="Count the spans whose labels would be recomputed; change nothing.")
@click.option("--project", "project_id", type=int, default=1, show_default=True, help="The project id.")
def signals_backfill(
    config_file: str | None, data_dir: str | None, database_url: str | None, dry_run: bool, project_id: int
) -> None:
    """Recompute the labels of stored spans whose detector version differs from this version's.

    Reads content (with the configured key when content is encrypted at rest); spans whose content was purged or
    erased keep the labels they have. Prints a JSON report.
    """
    from .signals.backfill import backfill

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = _open_store(s)
    try:
        report = backfill(engine, opener=_content_opener(s, engine), project_id=project_id, dry_run=dry_run)
    finally:
        engine.dispose()
    click.echo(json.dumps(report.as_dict()))


def _open_store(s: Settings) -> Any:
    from .store import make_engine
    from .store import migrate as do_migrate

    engine = make_engine(s.url, sqlite_synchronous=s.sqlite_synchronous)
    do_migrate(engine)
    return engine


def _utc(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@main.command()
@_common
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@click.option("--project", "project_id", type=int, help="Purge one project only (default: every project).")
def purge(
    config_file: str | None, data_dir: str | None, database_url: str | None, dry_run: bool, project_id: int | None
) -> None:
    """Apply the retention policy now: clear expired content, delete expired rows, record what was done.

    Prints, per project and data class, the period, the cutoff and how many records were (or would be) purged.
    Records under an active legal hold are skipped. The server runs the same purge every purge_interval_s seconds;
    see docs/retention.md.
    """
    from .privacy.retention import policy_from_settings
    from .privacy.retention import purge as do_purge

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    try:
        policy = policy_from_settings(s)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    report = do_purge(_open_store(s), policy, batch_size=s.purge_batch_size, project_id=project_id, dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    for r in report.results:
        head = f"project {r.project_id}  {r.data_class:<10} {r.days:>5} days  cutoff {_utc(r.cutoff_ns)}"
        if r.enforced:
            click.echo(f"{head}  {verb} {r.count}  (policy {r.policy})")
        else:
            click.echo(f"{head}  not stored yet: enforced by the room that stores them")
    if report.reclaimed_pages:
        click.echo(f"gave {report.reclaimed_pages} free pages back to the file system")


@main.group()
def hold() -> None:
    """Legal holds: keep a subject's or a session's records out of every purge until the hold is released."""


@hold.command("place")
@_common
@click.option("--subject", help="The subject id to hold (every trace that touches it).")
@click.option("--session", help="The session id to hold (every trace that touches it).")
@click.option("--reason", required=True, help="Why: the matter, case or ticket reference (kept with the hold).")
@click.option("--project", "project_id", type=int, default=1, show_default=True, help="The project id.")
def hold_place(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    subject: str | None,
    session: str | None,
    reason: str,
    project_id: int,
) -> None:
    """Place a legal hold on a subject or a session; prints the hold's id (needed to release it)."""
    from .privacy.holds import place_hold

    if (subject is None) == (session is None):
        raise click.UsageError("give exactly one of --subject ID or --session ID")
    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    scope, scope_id = ("subject", subject) if subject is not None else ("session", session)
    try:
        h = place_hold(_open_store(s), scope=scope, scope_id=scope_id or "", reason=reason, project_id=project_id)
    except InputError as e:
        raise click.BadParameter(str(e)) from None
    click.echo(f"hold {h.id} placed on {h.scope} {h.scope_id!r} in project {h.project_id}")


@hold.command("release")
@_common
@click.argument("hold_id", type=int)
def hold_release(config_file: str | None, data_dir: str | None, database_url: str | None, hold_id: int) -> None:
    """Release the legal hold HOLD_ID (see `watchkeeper hold list`); later purges may then remove its records."""
    from .errors import NotFound
    from .privacy.holds import release_hold

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    try:
        h = release_hold(_open_store(s), hold_id)
    except NotFound as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"hold {h.id} on {h.scope} {h.scope_id!r} released at {_utc(h.released_ns or 0)}")


@hold.command("list")
@_common
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
def hold_list(config_file: str | None, data_dir: str | None, database_url: str | None, include_released: bool) -> None:
    """List the active legal holds (with --all, released ones too), oldest first."""
    from .privacy.holds import list_holds

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    holds = list_holds(_open_store(s), include_released=include_released)
    if not holds:
        click.echo("no legal holds" if include_released else "no active legal holds")
    for h in holds:
        released = f"released {_utc(h.released_ns)}" if h.released_ns is not None else "active"
        click.echo(
            f"{h.id}\tproject {h.project_id}\t{h.scope} {h.scope_id!r}\tplaced {_utc(h.created_ns)}\t{released}"
            f"\t{h.reason}"
        )


@main.command()
@_common
@click.option("--key", "keys", multiple=True, required=True, help="Pinned verifier key VKEY, or VKEY@SIZE for a key "
              "retired at SIZE; repeat for several. Only these keys are trusted.")  # fmt: skip
@click.option(
    "--against",
    type=click.Path(exists=True, dir_okay=False),
    help="A checkpoint saved earlier (watchkeeper log checkpoint): the log must extend it.",
)
@click.option("--strict", is_flag=True, help="Also fail when leaves are not yet covered by a signed checkpoint.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    keys: tuple[str, ...],
    against: str | None,
    strict: bool,
    as_json: bool,
) -> None:
    """Check the verifiable log offline against pinned keys: every leaf, root, checkpoint and payload.

    Works on a stopped or a running store and never writes to it. Exits 1 naming the first bad leaf index when
    anything fails; rows not sequenced yet are counted, not failed. See docs/trust.md.
    """
    from .store import make_engine
    from .trust.log import parse_pinned
    from .trust.verify import verify_store

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    try:
        pinned = parse_pinned(list(keys))
        remembered = Path(against).read_text(encoding="utf-8") if against else None
    except (WatchkeeperError, UnicodeDecodeError) as e:
        raise click.ClickException(str(e)) from None
    engine = make_engine(s.url, sqlite_synchronous=s.sqlite_synchronous)
    try:
        report = verify_store(engine, pinned, against=remembered, strict=strict)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        d = report.as_dict()
        click.echo(f"log {d['origin']}: {d['size']} leaves, {d['checkpoints_valid']}/{d['checkpoints']} checkpoints "
                   f"valid (last size {d['last_checkpoint_size']}), {d['unsigned_leaves']} leaves not yet signed, "
                   f"{d['unsequenced_rows']} rows not yet sequenced")  # fmt: skip
        click.echo("payloads: " + ", ".join(f"{k} {v}" for k, v in d["payloads"].items()))
        if d["against_size"] is not None and report.ok:
            click.echo(f"the log extends the remembered checkpoint of size {d['against_size']}")
        for prob in d["problems"]:
            at = f"leaf {prob['index']}: " if prob["index"] is not None else ""
            click.echo(f"FAIL {prob['kind']}: {at}{prob['detail']}", err=True)
        click.echo(f"verified in {d['seconds']:.2f} s: " + ("OK" if report.ok else
                   f"FAILED, {d['problem_count']} problems, first bad index {d['first_bad_index']}"))  # fmt: skip
    if not report.ok:
        sys.exit(1)


@main.command("verify-evidence")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "keys", multiple=True, required=True, help="Pinned verifier key (VKEY or VKEY@SIZE).")
def verify_evidence_cmd(file: str, keys: tuple[str, ...]) -> None:
    """Check an evidence bundle offline: signed checkpoint, inclusion proof, record and payload hash."""
    from .trust.evidence import verify_evidence
    from .trust.log import parse_pinned

    try:
        result = verify_evidence(Path(file).read_bytes(), parse_pinned(list(keys)))
    except WatchkeeperError as e:
        click.echo(f"FAIL: {e}", err=True)
        sys.exit(1)
    cp = result.checkpoint.checkpoint
    rec = result.record
    click.echo(f"OK: span {rec.get('trace_id')}/{rec.get('span_id')} is in {cp.origin} at size {cp.size} "
               f"(payload {result.payload})")  # fmt: skip


@main.group("log")
def log_group() -> None:
    """The verifiable log: export checkpoints and evidence, list and rotate its signing keys."""


@log_group.command("checkpoint")
@_common
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, allow_dash=True), help="File, or -.")
def log_checkpoint(config_file: str | None, data_dir: str | None, database_url: str | None, out: str) -> None:
    """Export the latest signed checkpoint, for a place the operator cannot rewrite (a write-once bucket)."""
    from .trust.log import LogReader

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = _open_store(s)
    try:
        cp = LogReader(engine).latest_checkpoint()
    finally:
        engine.dispose()
    if cp is None:
        raise click.ClickException("no checkpoint has been signed yet: start the server (it signs on start and stop)")
    _write_out(out, cp.note)
    click.echo(f"checkpoint of size {cp.size} written to {out}", err=True)


@log_group.command("evidence")
@_common
@click.argument("trace_id")
@click.argument("span_id")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, allow_dash=True), help="File, or -.")
@click.option("--project", "project_id", type=int, default=1, show_default=True, help="The project id.")
def log_evidence(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    trace_id: str,
    span_id: str,
    out: str,
    project_id: int,
) -> None:
    """Export the evidence bundle of one span (leaf, inclusion proof, signed checkpoint, stored payload)."""
    from .trust.log import LogReader

    try:
        tid, sid = bytes.fromhex(trace_id), bytes.fromhex(span_id)
    except ValueError:
        raise click.BadParameter("TRACE_ID and SPAN_ID are hex") from None
    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = _open_store(s)
    try:
        ev = LogReader(engine).evidence(tid, sid, project_id)
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    finally:
        engine.dispose()
    _write_out(out, ev.dumps())
    click.echo(f"evidence for leaf {ev.index} written to {out}", err=True)


@log_group.command("keys")
@_common
def log_keys(config_file: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Print the log's public keys as --key values for verify (VKEY, or VKEY@SIZE when retired at SIZE)."""
    from .trust.log import list_keys

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = _open_store(s)
    try:
        for k in list_keys(engine):
            click.echo(k)
    finally:
        engine.dispose()


@log_group.command("rotate-key")
@_common
def log_rotate_key(config_file: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Replace the log's signing key; the old public key stays valid for checkpoints up to the current size.

    Prints the old key (as VKEY@SIZE) and the new one: give auditors both. A running server signs with the new key
    from its next checkpoint on.
    """
    from .trust.log import rotate_key

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = _open_store(s)
    try:
        rot = rotate_key(engine, s.log_key_path)
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    finally:
        engine.dispose()
    click.echo(f"retired: {rot.old}")
    click.echo(f"new:     {rot.new}")


def _write_out(out: str, text: str) -> None:
    if out == "-":
        click.echo(text, nl=False)
        return
    Path(out).write_text(text, encoding="utf-8")


@main.command("config")
@click.option("--markdown", is_flag=True, help="Print the settings table as Markdown (docs/configuration.md).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file to check.")
def config_cmd(markdown: bool, config_file: str | None) -> None:
    """Show the effective settings (defaults < config file < environment), or document them."""
    if markdown:
        click.echo(settings_markdown(), nl=False)
        return
    s = _settings(config_file)
    secret = {x.name for x in SETTINGS if x.secret}
    for name in s.__dataclass_fields__:
        value = getattr(s, name)
        click.echo(f"{name} = {'(set, hidden)' if name in secret and value else repr(value)}")


def run() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()


if __name__ == "__main__":
    run()
