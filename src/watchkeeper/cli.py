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
from .config import Settings, load_settings, settings_markdown
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
def serve(
    config_file: str | None, data_dir: str | None, database_url: str | None, host: str | None, port: int | None
) -> None:
    """Run the server: OTLP/HTTP at /v1/traces, the JSON API, web pages and /metrics."""
    s = _settings(config_file, data_dir=data_dir, database_url=database_url, host=host, port=port)
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
    config = uvicorn.Config(app, host=s.host, port=s.port, log_level="warning", access_log=False, lifespan="on")
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
    try:
        start, end = parse_time(from_, "from"), parse_time(to, "to")
    except InputError as e:
        raise click.BadParameter(str(e)) from None
    if fmt == "parquet":
        if out == "-":
            raise click.BadParameter("Parquet needs a file: pass --out FILE.parquet", param_hint="--out")
        try:
            n = exp.export_parquet(engine, Path(out), start_ns=start, end_ns=end, with_content=with_content)
        except ImportError:
            raise click.ClickException("Parquet export needs pyarrow: pip install 'watchkeeper[parquet]'") from None
        click.echo(f"exported {n} spans to {out}", err=True)
        return
    stream = sys.stdout if out == "-" else open(out, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        n = exp.export_jsonl(engine, stream, start_ns=start, end_ns=end, with_content=with_content)
    finally:
        if stream is not sys.stdout:
            stream.close()
    click.echo(f"exported {n} records", err=True)


@main.command("config")
@click.option("--markdown", is_flag=True, help="Print the settings table as Markdown (docs/configuration.md).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file to check.")
def config_cmd(markdown: bool, config_file: str | None) -> None:
    """Show the effective settings (defaults < config file < environment), or document them."""
    if markdown:
        click.echo(settings_markdown(), nl=False)
        return
    s = _settings(config_file)
    for name in s.__dataclass_fields__:
        click.echo(f"{name} = {getattr(s, name)!r}")


def run() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()


if __name__ == "__main__":
    run()
