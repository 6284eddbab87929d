"""Running the server process: collector tuning, and several worker processes on one port.

One Python process keeps about one core busy (the GIL), so ``serve --workers N`` starts N worker processes, each
listening on its own socket of one ``SO_REUSEPORT`` group on the same port, so the kernel spreads connections over
them. The parent imports the application once and forks the workers, which start with it loaded (shared
copy-on-write) instead of each importing it again on the same cores; a parent that runs other threads (an embedding
program) spawns them instead, since forking a threaded process is unsafe. Each worker is a whole server with its own
writer: it acknowledges a request only after its own commit, re-sending stays idempotent through the store's unique
key, and it answers 429 with ``Retry-After`` when its own queue is full. On SQLite the workers share the database
file in WAL mode and their writers take turns through a lock file (``store.writer``). The first worker migrates the
schema and serves as soon as it is up (so the server is ready as fast as a single process); the others start serving
after it, so they never race to create the schema.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

from .config import Settings

# Collector thresholds (default 700, 10, 10): decoding a batch allocates ~100 objects per span, almost none of them
# in reference cycles, and a batch lives for one request. With these, collection costs nothing measurable on the
# ingest benchmark (the same CPU per span as with the collector off).
GC_THRESHOLDS = (20_000, 50, 100)
# On SIGTERM, requests still running get this long to finish; a request cut short was never acknowledged (the
# answer comes only after its commit), so its client retries it. Without a bound, a backlog left by clients that
# went away keeps a stopping server busy for as long as the backlog lasts.
SHUTDOWN_GRACE_S = 30


def tune_gc() -> None:
    """Freeze what start-up allocated and collect the young generation less often.

    Measured on the ingest path (decode, pipeline, write; bench/ingest_e2e.py's workload): with the default
    thresholds ~13 µs of ~78 µs of CPU per span went to collections re-scanning the tens of thousands of long-lived
    objects that imports create (modules, routes, SQLAlchemy and protobuf tables). Frozen objects are never scanned
    again; they were never garbage anyway.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _listen_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Each worker listens on its own socket of one SO_REUSEPORT group: the kernel spreads new connections over
    # them. With one shared socket, the first idle worker accepts every waiting connection and the others starve.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    return sock


def _worker_main(settings: Settings, schema_ready: Any, leader: bool, parent: int) -> None:
    """One worker process: its own listening socket, application, writer and event loop.

    The leader migrates the schema as it starts (``Runtime.start``) and serves at once; the others build their
    application meanwhile and start serving once the leader is up, so no two workers ever race to create the schema.
    """
    import uvicorn

    from ._logging import configure_logging
    from .server.app import create_app

    # a forked worker inherits the parent's handlers and its blocked signals (see serve_workers): back to defaults
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if os.getppid() != parent:
        sys.exit(3)  # the parent died while this worker was starting
    configure_logging(settings.log_level)
    app = create_app(settings, alerting=leader)  # alerts are evaluated and sent by one process only
    tune_gc()
    while not leader and not schema_ready.wait(0.5):
        if os.getppid() != parent:
            sys.exit(3)  # the parent is gone
    threading.Thread(target=_stop_with_parent, args=(parent,), daemon=True, name="watchkeeper-parent-watch").start()
    sock = _listen_socket(settings.host, settings.port, listen=True)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=SHUTDOWN_GRACE_S
    )
    server = uvicorn.Server(config)
    if leader:

        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.02)
            if server.started:
                schema_ready.set()

        threading.Thread(target=announce, daemon=True, name="watchkeeper-schema-ready").start()
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _ready_to_fork() -> bool:
    """Imports what every worker needs and says the workers can be forked; False (spawn them) when this process
    runs other threads or is not on Linux."""
    if threading.active_count() > 1 or sys.platform != "linux":
        return False
    import uvicorn  # noqa: F401 - loaded here once for every worker

    from .server import app  # noqa: F401

    gc.collect()
    gc.freeze()  # what the imports made is never scanned again, so the workers' pages of it stay shared
    return True


def _stop_with_parent(parent: int) -> None:
    """A worker whose parent died (even by SIGKILL) shuts down gracefully instead of holding the port alone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def serve_workers(settings: Settings, workers: int) -> str | None:
    """Run ``workers`` server processes on ``settings.host:port`` until SIGINT or SIGTERM; blocks.

    Returns None after a requested stop, or what went wrong. When one worker dies the others are stopped too: a
    process supervisor (systemd, Kubernetes) then restarts the whole server, rather than a half-sized one running
    on unnoticed.
    """
    import multiprocessing

    try:  # holds the port (bound, not listening: it takes no connections) and fails early when it is in use
        guard = _listen_socket(settings.host, settings.port, listen=False)
    except OSError as e:
        return f"the server could not listen on {settings.host}:{settings.port} ({e.strerror}); is the port in use?"
    ctx = multiprocessing.get_context("fork") if _ready_to_fork() else multiprocessing.get_context("spawn")
    schema_ready = ctx.Event()
    procs = [
        ctx.Process(
            target=_worker_main, args=(settings, schema_ready, i == 0, os.getpid()), name=f"watchkeeper-worker-{i}"
        )
        for i in range(workers)
    ]
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    try:
        # All start together (a worker started later would find every long-lived connection already taken by the
        # first); the leader migrates and serves first, the others join as soon as it is up. SIGINT and SIGTERM wait
        # until every worker exists (a forked worker could otherwise run the parent's handler and miss its stop);
        # each worker unblocks them once its own handlers are back to the defaults.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            for proc in procs:
                proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        while not stop.wait(0.2):
            if any(proc.exitcode is not None for proc in procs):
                failed = True
                break
    finally:
        started = [proc for proc in procs if proc.pid is not None]
        for proc in started:
            if proc.exitcode is None and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)  # graceful: each worker commits what it queued, then exits
        for proc in started:
            proc.join(60)
            if proc.exitcode is None:
                proc.kill()
                proc.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        guard.close()
    if failed:
        codes = [proc.exitcode for proc in started]
        return f"a worker process stopped unexpectedly (exit codes {codes}); all were stopped, see the log above"
    return None


__all__ = ["serve_workers", "tune_gc"]
