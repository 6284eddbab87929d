"""The ``watchkeeper`` command. Thin: parse options, call one function of a room, format the result."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
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
from .errors import ConfigError, InputError, Overloaded, StorageError, WatchkeeperError

SEND_STOP_WAIT_S = 30.0  # how long a stopped demo waits for its loader to notice the stop and say so

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


def _run_server(
    s: Settings, *, demo: bool = False, on_ready: Any = None, stopping: threading.Event | None = None
) -> None:
    """Serve until a signal stops the server; ``on_ready(app)`` runs on a thread once it listens, and ``stopping`` is
    set as soon as a signal arrives, before the server winds down (so the demo's senders stop first)."""
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
    server = _server(config, stopping)
    if on_ready is not None:

        def watch() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                on_ready(app)

        threading.Thread(target=watch, daemon=True, name="watchkeeper-on-ready").start()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn raises Ctrl-C again once it has shut down cleanly: a requested stop
        click.echo("Stopped.", err=True)
        return
    if not server.started:
        raise click.ClickException(f"the server could not start on {s.host}:{s.port} (is the port in use?)")


@main.command()
@_common
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 4319).")
@click.option("--rate", type=float, default=120.0, show_default=True, help="Synthetic traces per minute.")
@click.option(
    "--backfill-hours",
    type=float,
    default=6.0,
    show_default=True,
    help="Hours of recent history loaded at --rate before the address is printed.",
)
@click.option(
    "--history-days",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    default=4.0,
    show_default=True,
    help="Days of older history loaded at a tenth of --rate once the server is up (a few minutes), so the detectors "
    "have a baseline: they need 3 days. 0 loads none.",
)
@click.option(
    "--incident-after",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="MINUTES",
    help="Minutes after the start when the injected incident begins: for 45 minutes, a silent safety-filter update "
    "makes the model refuse many more ordinary English requests. 0 turns it off.",
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
    history_days: float,
    incident_after: float,
    seed: int,
) -> None:
    """Run the server with live synthetic traffic (clearly marked as synthetic).

    Uses ./watchkeeper-demo-data unless --data-dir or --database-url is given, so demo data never mixes with
    real data. Alerts are evaluated on the default rules and every notification goes to a local webhook that
    prints it here; the injected incident (see --incident-after) pages within about half an hour.
    """

    s = _settings(
        config_file, data_dir=data_dir or "./watchkeeper-demo-data", database_url=database_url, host=host, port=port
    )
    from .demo import Simulator
    from .demo._webhook import WebhookReceiver

    s = _demo_encryption(s)
    webhook = WebhookReceiver(lambda line: click.echo(line, err=True)).start()
    s = _demo_alerting(s, webhook.url)
    stop = threading.Event()
    loading = threading.Event()  # set while the traffic thread loads; the main thread waits for it before exiting
    loaded = threading.Event()

    def start_traffic(app: Any) -> None:
        loading.set()
        try:
            send_traffic(app)
        except _DemoStopped:
            click.echo("Stopped while the demo was loading traffic; what was acknowledged is stored.", err=True)
        finally:
            loaded.set()

    def send_traffic(app: Any) -> None:
        from .demo import run_live
        from .demo._load import HISTORY_SHARE, load
        from .demo._traffic import Incident

        rt = app.state.runtime
        now = time.time_ns()
        incident = Incident(now + int(incident_after * 60e9)) if incident_after > 0 else None
        sim = Simulator(seed=seed, base_rate_per_min=rate, incident=incident)

        def send(spans: list[Any], feedback: list[Any]) -> None:
            if stop.is_set():
                raise _DemoStopped
            try:
                _send_with_retry(rt, spans, feedback, "demo", stop)
            except StorageError:
                if stop.is_set():  # the server is winding down: not an error of the demo's
                    raise _DemoStopped from None
                raise

        def send_live(spans: list[Any], feedback: list[Any]) -> None:
            with contextlib.suppress(_DemoStopped):
                send(spans, feedback)

        recent_ns = now - int(backfill_hours * 3600e9)
        load(sim, send, recent_ns, now, now_ns=now)
        url = f"http://{s.host}:{s.port}/traces"
        logins = _demo_logins(rt.engine, Path(s.data_dir))
        click.echo(f"Watchkeeper demo is running with synthetic traffic: open {url}", err=True)
        if logins:
            click.echo(
                f"Log in as demo-engineer (metadata) or demo-investigator (content, with a grant); "
                f"the demo accounts and their passwords are in {logins}",
                err=True,
            )
        threading.Thread(
            target=run_live,
            args=(sim, send_live),
            kwargs={"stop": stop, "rate_per_min": rate, "start_ns": now},
            daemon=True,
            name="watchkeeper-demo-traffic",
        ).start()
        older_ns = now - int(history_days * 86400e9)
        if older_ns < recent_ns:
            click.echo(f"Loading {history_days:g} days of history for the detectors' baselines ...", err=True)
            got = load(sim, send, older_ns, recent_ns, now_ns=now, rate_per_min=rate * HISTORY_SHARE)
            click.echo(f"History loaded: {got.traces} traces in {got.seconds:.0f} s.", err=True)
        service = getattr(app.state, "alerts", None)
        if service is not None:
            service.engine.source.forget()  # the hourly histories it read before the history was in
            click.echo(
                f"Alerting every {s.alert_interval_s} s on the rules in {s.alert_rules_file}; notifications go to "
                f"a local webhook ({webhook.url}) and are printed here.",
                err=True,
            )
        if incident is not None:
            minutes = max(0, incident.start_ns - time.time_ns()) // 60_000_000_000
            click.echo(
                f"Incident at {_utc(incident.start_ns)[11:16]} UTC (in {minutes} min): for "
                f"{incident.duration_s / 60:g} min a silent safety-filter update makes the model refuse ordinary "
                f"English requests. It pages for English traffic within about 20 minutes of the onset; watch "
                f"{s.external_url}/alerts.",
                err=True,
            )

    click.echo(f"Starting Watchkeeper demo on http://{s.host}:{s.port} (data in {s.data_dir}) ...", err=True)
    try:
        _run_server(s, demo=True, on_ready=start_traffic, stopping=stop)
    finally:
        stop.set()
        if loading.is_set():  # let the loader see the stop and say so before the process (and its thread) ends
            loaded.wait(timeout=SEND_STOP_WAIT_S)
        webhook.stop()


def _demo_alerting(s: Settings, webhook_url: str) -> Settings:
    """The demo's settings with links back to this server and, unless a rules file is configured, the demo's rules
    file: the default rules with every notification routed to the local webhook."""
    from dataclasses import replace

    from .demo._alerting import demo_rules_text

    s = replace(s, external_url=s.external_url or f"http://{s.host}:{s.port}")
    if s.alert_rules_file:
        return s
    rules = Path(s.data_dir) / "demo-alert-rules.yaml"
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text(demo_rules_text(webhook_url), encoding="utf-8")
    return replace(s, alert_rules_file=str(rules))


DEMO_ROLES = {
    "demo-engineer": ["engineer"],
    "demo-investigator": ["investigator"],
    "demo-approver": ["approver"],
    "demo-reviewer": ["reviewer"],
    "demo-auditor": ["auditor"],
    "demo-admin": ["admin"],
}


def _demo_logins(engine: Any, data_dir: Path) -> Path | None:
    """Demo accounts, one per role, made on first start; their passwords go to a 0600 file, never to the log."""
    import secrets

    from .trust import identity

    path = data_dir / "demo-logins.txt"
    if identity.list_principals(engine):
        return path if path.exists() else None
    lines = []
    for name, roles in DEMO_ROLES.items():
        password = secrets.token_urlsafe(12)
        identity.create_principal(engine, name, roles=roles, password=password)
        lines.append(f"{name}\t{','.join(roles)}\t{password}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# user\trole\tpassword (demo accounts; the demo's data is synthetic)\n" + "\n".join(lines) + "\n")
    return path


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


def _server(config: Any, stopping: threading.Event | None) -> Any:
    """A uvicorn server that also sets ``stopping`` when a signal asks it to stop."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if stopping is not None:
                stopping.set()
            super().handle_exit(sig, frame)

    return Server(config)


class _DemoStopped(Exception):
    """The demo was stopped while it was sending traffic."""


def _send_with_retry(
    rt: Any, spans: list[Any], feedback: list[Any], source: str, stop: threading.Event | None = None
) -> None:
    """Ingest in this process, waiting out back-pressure; a set ``stop`` ends the wait with :class:`_DemoStopped`."""
    while True:
        try:
            rt.ingest_sync(spans, feedback, source)
            return
        except Overloaded as e:
            if stop is None:
                time.sleep(min(e.retry_after_s, 5))
            elif stop.wait(min(e.retry_after_s, 5)):
                raise _DemoStopped from None


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
@click.option("--reason", help="Why the content is exported (required with content; written to the access log).")
def export(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    out: str,
    fmt: str,
    from_: str | None,
    to: str | None,
    with_content: bool,
    reason: str | None,
) -> None:
    """Export stored spans (and feedback) as JSONL of canonical records, or as a Parquet table.

    The JSONL output can be loaded again with `watchkeeper replay`. An export with content is recorded in the
    access log (who ran it, the window, the reason) before any record is written out.
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
    if with_content:
        if not reason or len(reason.strip()) < 10:
            raise click.BadParameter(
                "exporting content needs a reason of 10+ characters (access log)", param_hint="--reason"
            )
        _audit_cli(engine, "export", f"{from_ or 'start'}..{to or 'now'}", reason)
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


@main.group()
def rollups() -> None:
    """Rollups: the counts per time bucket and slice that the explorer, alerts and /metrics read."""


@rollups.command("rebuild")
@_common
@click.option("--from", "from_", help="Start: RFC 3339 or ns since epoch (default: the first stored span).")
@click.option("--to", help="End, exclusive (default: after the last stored span).")
@click.option("--project", "project_id", type=int, default=1, show_default=True, help="The project id.")
def rollups_rebuild(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    from_: str | None,
    to: str | None,
    project_id: int,
) -> None:
    """Recount the rollups of the whole hours in a time range from the stored spans and feedback.

    Run it once on a store that held spans before rollups existed, after `signals backfill` changed stored labels,
    or after adding a pair to rollup_pairs. Ingest may go on meanwhile. Prints a JSON report.
    """
    from .analytics import rebuild_rollups
    from .pipeline.rollup import rollup_config
    from .server.api import parse_time

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    engine = _open_store(s)
    try:
        start, end = parse_time(from_, "from"), parse_time(to, "to")
        report = rebuild_rollups(
            engine,
            config=rollup_config(s),
            project_id=project_id,
            start=start,
            end=end,
            minute_days=s.rollup_minute_days,
        )
    except InputError as e:
        raise click.ClickException(str(e)) from None
    finally:
        engine.dispose()
    click.echo(json.dumps(report.as_dict()))


def _audit_cli(engine: Any, action: str, resource: str, reason: str) -> None:
    """Records a CLI read of content in the access log first; refuses (exit 1) if it cannot (fail closed)."""
    import getpass

    from .errors import AuditUnavailable
    from .store import migrate as do_migrate
    from .trust import audit
    from .trust.identity import cli_operator

    do_migrate(engine)
    try:
        audit.record(
            engine,
            cli_operator(getpass.getuser()),
            audit.AccessEvent(action, action, resource, reason=reason),
            channel="cli",
        )
    except AuditUnavailable as e:
        raise click.ClickException(str(e)) from None


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
@click.option("--python-only", is_flag=True, help="Read and hash every leaf with the Python code only, not the "
              "compiled scanner (same checks, several times slower): for an auditor who reviews the verifier's "
              "source.")  # fmt: skip
def verify(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    keys: tuple[str, ...],
    against: str | None,
    strict: bool,
    as_json: bool,
    python_only: bool,
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
    from .trust.audit import verify_access_log

    try:
        report = verify_store(engine, pinned, against=remembered, strict=strict, compiled=not python_only)
        access = verify_access_log(engine, pinned)
    finally:
        engine.dispose()
    if as_json:
        click.echo(
            json.dumps(
                {
                    **report.as_dict(),
                    "access_log": {"size": access.size, "checkpoints": access.checkpoints, "problems": access.problems},
                },
                indent=2,
            )
        )
    else:
        for problem in access.problems:
            click.echo(f"FAIL access log: {problem}", err=True)
        click.echo(
            f"access log: {access.size} events, {access.checkpoints} checkpoints: " + ("OK" if access.ok else "FAILED")
        )
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
        click.echo(f"verified in {d['seconds']:.2f} s ({d['reader']} reader): " + ("OK" if report.ok else
                   f"FAILED, {d['problem_count']} problems, first bad index {d['first_bad_index']}"))  # fmt: skip
    if not report.ok or not access.ok:
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


# ---------------------------------------------------------------------------------------------------------------
# Access: users, service accounts, API keys, projects, the access log (trust/identity.py, docs/access.md)


@main.group()
def users() -> None:
    """Users and service accounts, and their roles per project."""


@users.command("add")
@_common
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeatable): viewer, engineer, ...")
@click.option("--service", is_flag=True, help="A service account (authenticates with API keys only).")
@click.option("--project", "project", default="default", show_default=True, help="The project's name.")
def users_add(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    name: str,
    roles: tuple[str, ...],
    service: bool,
    project: str,
) -> None:
    """Add a user (asks for a password) or a service account with roles in a project."""
    from .trust import identity

    engine = _open_store(_settings(config_file, data_dir=data_dir, database_url=database_url))
    password = None
    if not service:
        password = click.prompt("Password (12+ characters)", hide_input=True, confirmation_prompt=True)
    try:
        pid = identity.create_principal(
            engine,
            name,
            kind="service" if service else "user",
            roles=roles,
            project=identity.project_id(engine, project),
            password=password,
        )
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"added {'service account' if service else 'user'} {name} (id {pid}) with {', '.join(roles)}")


@users.command("list")
@_common
def users_list(config_file: str | None, data_dir: str | None, database_url: str | None) -> None:
    """List users and service accounts with their roles per project id."""
    from .trust import identity

    engine = _open_store(_settings(config_file, data_dir=data_dir, database_url=database_url))
    for p in identity.list_principals(engine):
        roles = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.roles.items())
        click.echo(f"{p.id}\t{p.kind}\t{p.name}\t{'disabled' if p.disabled else 'active'}\t{roles}")


@users.command("disable")
@_common
@click.argument("name")
def users_disable(config_file: str | None, data_dir: str | None, database_url: str | None, name: str) -> None:
    """Disable a user or service account at once (sessions end, keys stop working)."""
    from .trust import identity

    engine = _open_store(_settings(config_file, data_dir=data_dir, database_url=database_url))
    try:
        identity.disable_principal(engine, identity.principal_id(engine, name))
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"disabled {name}")


@main.group("api-keys")
def api_keys_cmd() -> None:
    """API keys: create (shown once), list, revoke."""


@api_keys_cmd.command("create")
@_common
@click.option("--principal", required=True, help="Whose key: a user or service account name.")
@click.option("--name", "key_name", required=True, help="What the key is for, e.g. 'checkout-service ingest'.")
@click.option("--scope", "scopes", multiple=True, required=True, help="A permission (repeatable), e.g. ingest.")
@click.option("--project", default="default", show_default=True, help="The project's name.")
@click.option("--expires-days", type=int, help="Days until the key expires (default: never).")
def api_keys_create(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    principal: str,
    key_name: str,
    scopes: tuple[str, ...],
    project: str,
    expires_days: int | None,
) -> None:
    """Create an API key; it is printed once on standard output and only its hash is stored."""
    from .trust import identity

    engine = _open_store(_settings(config_file, data_dir=data_dir, database_url=database_url))
    expires = time.time_ns() + expires_days * 86_400 * 1_000_000_000 if expires_days else None
    try:
        key, info = identity.create_key(
            engine,
            identity.principal_id(engine, principal),
            name=key_name,
            scopes=scopes,
            project=identity.project_id(engine, project),
            expires_ns=expires,
        )
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    click.echo(key)
    click.echo(f"key id {info.key_id}: store the key now, it is not shown again", err=True)


@api_keys_cmd.command("list")
@_common
def api_keys_list(config_file: str | None, data_dir: str | None, database_url: str | None) -> None:
    """List API keys (ids, owners, scopes, state) — never the keys themselves."""
    from .trust import identity

    engine = _open_store(_settings(config_file, data_dir=data_dir, database_url=database_url))
    now = time.time_ns()
    for k in identity.list_keys(engine):
        state = "revoked" if k.revoked_ns else ("expired" if k.expires_ns and k.expires_ns <= now else "live")
        click.echo(f"{k.key_id}\t{k.principal}\tproject {k.project_id}\t{' '.join(k.scopes)}\t{state}\t{k.name}")


@api_keys_cmd.command("revoke")
@_common
@click.argument("key_id")
def api_keys_revoke(config_file: str | None, data_dir: str | None, database_url: str | None, key_id: str) -> None:
    """Revoke an API key at once (by its key id, the part after wk_)."""
    from .trust import identity

    engine = _open_store(_settings(config_file, data_dir=data_dir, database_url=database_url))
    try:
        identity.revoke_key(engine, key_id)
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"revoked {key_id}")


@main.group()
def projects() -> None:
    """Projects (tenants): each has its own records, roles and keys."""


@projects.command("create")
@_common
@click.argument("name")
def projects_create(config_file: str | None, data_dir: str | None, database_url: str | None, name: str) -> None:
    """Create a project."""
    from .trust import identity

    engine = _open_store(_settings(config_file, data_dir=data_dir, database_url=database_url))
    try:
        pid = identity.create_project(engine, name)
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"created project {name} (id {pid})")


@main.command("access-log")
@_common
@click.option("--from", "from_", help="Start: RFC 3339 or ns since epoch.")
@click.option("--to", help="End (exclusive).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--project", "project_id", type=int, help="One project id (default: all).")
def access_log(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    from_: str | None,
    to: str | None,
    fmt: str,
    project_id: int | None,
) -> None:
    """Export the access log (who read which content, when, under which grant, why) for an auditor."""
    from .server.api import parse_time
    from .trust import audit

    engine = _open_store(_settings(config_file, data_dir=data_dir, database_url=database_url))
    try:
        start, end = parse_time(from_, "from"), parse_time(to, "to")
    except InputError as e:
        raise click.BadParameter(str(e)) from None
    after = None
    while True:
        page = audit.events(engine, project_id=project_id, start_ns=start, end_ns=end, after_index=after, limit=5000)
        text = audit.export(page, fmt)
        if fmt == "csv" and after is not None:
            text = text.split("\n", 1)[1] if "\n" in text else ""
        click.echo(text, nl=False)
        if len(page) < 5000:
            break
        after = page[-1].log_index


@main.group()
def rules() -> None:
    """Alert rules: check a rules file (rules, inhibit rules, routes, receivers) before a server loads it."""


@rules.command("check")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=False))
def rules_check(file: str) -> None:
    """Check the alert rules FILE: every problem is printed with its file, line, rule and field, and the exit
    status is 1. A good file prints each rule's rate, slices, detector and severity. See docs/alerting.md."""
    from .alerting import Catalogue, RulesError, load_rules

    catalogue = Catalogue.default()
    try:
        rs = load_rules(file, catalogue=catalogue)
    except RulesError as e:
        for p in e.problems:
            click.echo(str(p), err=True)
        click.echo(f"{len(e.problems)} problem(s); nothing was loaded", err=True)
        raise SystemExit(1) from None
    for w in rs.warnings:
        click.echo(f"warning: {w}", err=True)
    enabled = len(rs.enabled)
    click.echo(f"{file}: {len(rs.rules)} rules ({enabled} enabled), {len(rs.receivers)} receivers: OK")
    for r in rs.rules:
        slices = ", ".join("global" if not d else " × ".join(d) for d in r.slices)
        rate = catalogue.metrics.get(r.metric) or (
            "a histogram measure" if r.metric in catalogue.measures else "not in the catalogue"
        )
        state = "" if r.enabled else " (disabled)"
        click.echo(f"  {r.name}{state}: {r.metric} = {rate}")
        click.echo(f"    slices {slices}; {r.detector} ({r.sensitivity}); {r.severity}")


@main.command()
@_common
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), help="Rules file (default: the server's).")
@click.option("--from", "start", required=True, help="Start of the replay: RFC 3339, or a duration ago (7d).")
@click.option("--to", "end", help="End of the replay: RFC 3339, or a duration ago; default: now.")
@click.option("--step", default="5m", show_default=True, help="Event time between ticks: 1m, 5m, 1h.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def backtest(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    rules_file: str | None,
    start: str,
    end: str | None,
    step: str,
    as_json: bool,
) -> None:
    """Replay the stored history through the alert rules: every alert that would have fired, with its estimated
    start, fire time and delay, and every notification that would have been sent. Nothing is stored or sent."""
    from .alerting import RulesError, load_rules
    from .alerting._labels import parse_duration, parse_rfc3339, rfc3339
    from .alerting.rollup_source import common_mode, replay

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    now = time.time_ns() // 10**9 * 10**9

    def when(text: str, name: str) -> int:
        try:
            return parse_rfc3339(text) or 0
        except ValueError:
            pass
        try:
            return now - parse_duration(text)
        except ValueError:
            raise click.BadParameter("must be an RFC 3339 time or a duration ago (7d)", param_hint=name) from None

    start_ns, end_ns = when(start, "--from"), when(end, "--to") if end else now
    try:
        step_ns = parse_duration(step)
    except ValueError as e:
        raise click.BadParameter(f"{e}", param_hint="--step") from None
    if step_ns <= 0:
        raise click.BadParameter("must be longer than 0s", param_hint="--step")
    if end_ns <= start_ns:
        raise click.BadParameter("must be after --from", param_hint="--to")
    try:
        rs = load_rules(rules_file or s.alert_rules_file or None)
    except RulesError as e:
        raise click.ClickException(f"{e}; check it with `watchkeeper rules check FILE`") from None
    store = _open_store(s)
    try:
        report = replay(
            store,
            rs,
            start_ns=start_ns,
            end_ns=end_ns,
            step_ns=step_ns,
            new_account_days=s.new_account_days,
            minute_days=s.rollup_minute_days,
            common_mode=common_mode(s.alert_common_mode),
        )
    finally:
        store.dispose()

    def at(ns: int | None) -> str | None:
        return rfc3339(ns) if ns is not None else None

    def delay_s(e: Any) -> int | None:
        known = e.fired_ns is not None and e.estimated_start_ns is not None
        return (e.fired_ns - e.estimated_start_ns) // 10**9 if known else None

    if as_json:
        doc = {
            "ticks": report.ticks,
            "episodes": [
                {"alertname": e.rule, "fingerprint": e.fingerprint, "labels": e.labels, "state": e.state,
                 "estimated_start": at(e.estimated_start_ns), "pending": at(e.starts_ns), "fired": at(e.fired_ns),
                 "ended": at(e.ends_ns), "delay_s": delay_s(e)}
                for e in report.episodes
            ],
            "notifications": [
                {"at": at(n.at_ns), "receiver": n.receiver, "status": n.status, "group_key": n.group_key,
                 "alerts": [a.fingerprint for a in n.alerts]}
                for n in report.notifications
            ],
        }  # fmt: skip
        click.echo(json.dumps(doc, indent=2))
        return
    fired = [e for e in report.episodes if e.fired_ns is not None]
    click.echo(
        f"{report.ticks} ticks from {rfc3339(start_ns)} to {rfc3339(end_ns)}: {len(fired)} alert(s) fired "
        f"({len(report.episodes) - len(fired)} pending only), {len(report.notifications)} notification(s)"
    )
    for ep in fired:
        where = ", ".join(f"{k}={v}" for k, v in ep.labels.items() if k not in ("alertname", "metric", "severity"))
        d = delay_s(ep)
        delay = f"{d // 60} min after its estimated start" if d is not None else "not dated"
        click.echo(f"  {ep.rule} [{ep.labels.get('severity')}] {where}")
        ended = at(ep.ends_ns) or "-"
        click.echo(f"    started ~{at(ep.estimated_start_ns) or '?'}, fired {at(ep.fired_ns)} ({delay}), ended {ended}")
    for n in report.notifications:
        click.echo(f"  notify {n.receiver} at {at(n.at_ns)}: {n.status}, {len(n.alerts)} alert(s), {n.group_key}")


@main.group()
def silence() -> None:
    """Silences: mute the notifications of matching alerts for a while (alerts still fire and are recorded)."""


@silence.command("add")
@_common
@click.option(
    "--matcher",
    "-m",
    "matchers",
    multiple=True,
    required=True,
    help='A matcher: name="value", name!="value", name=~"regex" or name!~"regex"; repeat for more (all must match).',
)
@click.option("--duration", help="How long, from the start: 30m, 2h, 1d.")
@click.option("--end", help="Or the end time (RFC 3339).")
@click.option("--start", help="Start time (RFC 3339); default: now.")
@click.option("--author", required=True, help="Who creates the silence.")
@click.option("--comment", required=True, help="Why: the incident, ticket or maintenance it is for.")
@click.option("--project", "project_id", type=int, default=1, show_default=True, help="The project id.")
def silence_add(
    config_file: str | None,
    data_dir: str | None,
    database_url: str | None,
    matchers: tuple[str, ...],
    duration: str | None,
    end: str | None,
    start: str | None,
    author: str,
    comment: str,
    project_id: int,
) -> None:
    """Add a silence; prints its id (needed to expire it early)."""
    from .alerting.silences import add_silence, parse_silence_matchers, silence_window

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    try:
        starts, ends = silence_window(start=start, end=end, duration=duration)
        sil = add_silence(
            _open_store(s),
            matchers=parse_silence_matchers(matchers),
            starts_ns=starts,
            ends_ns=ends,
            created_by=author,
            comment=comment,
            project_id=project_id,
        )
    except InputError as e:
        raise click.BadParameter(str(e)) from None
    click.echo(f"silence {sil.id} from {_utc(sil.starts_ns)} to {_utc(sil.ends_ns)}")


@silence.command("list")
@_common
@click.option("--state", type=click.Choice(["active", "pending", "expired"]), help="Only silences in this state.")
@click.option("--project", "project_id", type=int, default=1, show_default=True, help="The project id.")
def silence_list(
    config_file: str | None, data_dir: str | None, database_url: str | None, state: str | None, project_id: int
) -> None:
    """List silences, oldest start first: id, state, window, matchers, author and comment."""
    from .alerting.silences import list_silences

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    now = time.time_ns()
    found = list_silences(_open_store(s), project_id=project_id, state=state, now_ns=now)
    if not found:
        click.echo("no silences")
    for x in found:
        ms = ",".join(str(m) for m in x.matchers)
        click.echo(
            f"{x.id}\t{x.state(now)}\t{_utc(x.starts_ns)} → {_utc(x.ends_ns)}\t{{{ms}}}\t{x.created_by}\t{x.comment}"
        )


@silence.command("expire")
@_common
@click.argument("silence_id")
@click.option("--project", "project_id", type=int, default=1, show_default=True, help="The project id.")
def silence_expire(
    config_file: str | None, data_dir: str | None, database_url: str | None, silence_id: str, project_id: int
) -> None:
    """Expire the silence SILENCE_ID now (see `watchkeeper silence list`)."""
    from .alerting.silences import expire_silence

    s = _settings(config_file, data_dir=data_dir, database_url=database_url)
    try:
        x = expire_silence(_open_store(s), silence_id, project_id=project_id)
    except WatchkeeperError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"silence {x.id} expired at {_utc(x.ends_ns)}")


def run() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()


if __name__ == "__main__":
    run()
