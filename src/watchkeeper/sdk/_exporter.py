"""Exporters: where finished spans and feedback go.

:class:`HttpExporter` runs one background thread. The application's thread only puts a record on a bounded queue
(dropping and counting when it is full); the exporter's thread batches, serialises, redacts, compresses and POSTs to
``{endpoint}/api/v1/ingest``, retrying as the server asks. :class:`CaptureExporter` keeps records in memory.
"""

from __future__ import annotations

import atexit
import dataclasses
import enum
import gzip
import http.client
import json
import logging
import math
import os
import queue
import random
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

from watchkeeper.records import Feedback, Span, feedback_to_dict, span_to_dict

if TYPE_CHECKING:
    from watchkeeper.sdk._config import Config, RedactHook

logger = logging.getLogger("watchkeeper.sdk")

INGEST_PATH: Final = "/api/v1/ingest"
_MAX_RETRY_AFTER_S: Final = 300.0
_MAX_DEPTH: Final = 32
_MAX_REPR_CHARS: Final = 2000
_MAX_DETAIL_CHARS: Final = 500
_MAX_RESPONSE_BYTES: Final = 1 << 20


@runtime_checkable
class Exporter(Protocol):
    """Receives finished records. ``export`` is called on the application's hot path and must never block."""

    def export(self, record: Span | Feedback) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, timeout: float | None = None) -> bool: ...

    def stats(self) -> dict[str, int]: ...


class NoopExporter:
    """Discards every record (``enabled=False``)."""

    def export(self, record: Span | Feedback) -> None:
        return None

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        return {}


class CaptureExporter:
    """Keeps every record in memory, in the order spans ended: for tests (ours and yours)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.feedback: list[Feedback] = []
        self._cv = threading.Condition()

    def export(self, record: Span | Feedback) -> None:
        with self._cv:
            if isinstance(record, Span):
                self.spans.append(record)
            else:
                self.feedback.append(record)
            self._cv.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        return {"exported": len(self.spans) + len(self.feedback)}

    def clear(self) -> None:
        with self._cv:
            self.spans.clear()
            self.feedback.clear()

    def wait_for_spans(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` spans have been captured; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: len(self.spans) >= count, timeout)

    def find(self, name: str) -> Span:
        """The first captured span with this name; LookupError when there is none."""
        for s in list(self.spans):
            if s.name == name:
                return s
        raise LookupError(f"no captured span named {name!r} (have: {sorted({s.name for s in self.spans})})")

    def span_dicts(self) -> list[dict[str, Any]]:
        """The captured spans in their JSON form, as they would be sent."""
        return [to_jsonable(span_to_dict(s)) for s in list(self.spans)]


# ---------------------------------------------------------------------------------------------------------------
# JSON form of arbitrary values


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value``: containers copied, models dumped, anything else by ``repr`` (truncated)."""
    if value is None or value is True or value is False:
        return value
    cls = value.__class__
    if cls is str or cls is int:
        return value
    if cls is float:
        return value if math.isfinite(value) else None
    if depth >= _MAX_DEPTH:
        return "<max depth>"
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, depth + 1) for k, v in list(value.items())}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, depth + 1) for v in list(value)]
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, depth + 1)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return to_jsonable(dump(mode="json"), depth + 1)
        except Exception:
            return _repr(value)  # a model that cannot dump itself is still worth naming
    return _repr(value)


def _repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text[:_MAX_REPR_CHARS]


def _dumps(payload: Any) -> bytes:
    """Compact JSON; values JSON cannot hold go through :func:`to_jsonable`; NaN and infinities raise ValueError."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False, default=to_jsonable).encode()


def _retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), capped; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def _problem_detail(body: bytes) -> str:
    """The ``detail`` (or ``title``) of an RFC 9457 problem document, truncated; never the request payload."""
    try:
        doc = json.loads(body[:65536])
    except (ValueError, UnicodeDecodeError):
        return "(no problem document)"
    if isinstance(doc, dict):
        text = doc.get("detail") or doc.get("title")
        if isinstance(text, str):
            return text[:_MAX_DETAIL_CHARS]
    return "(no detail)"


class _Marker:
    """Put on the queue by flush/shutdown; set once every record queued before it is delivered or dropped."""

    __slots__ = ("event", "stop")

    def __init__(self, stop: bool = False) -> None:
        self.event = threading.Event()
        self.stop = stop


class _RateLimitedLog:
    """At most one warning per key per interval, so an unreachable server cannot flood the application's logs."""

    def __init__(self, interval_s: float = 60.0) -> None:
        self._interval = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        skipped = self._suppressed.pop(key, 0)
        if skipped:
            msg += f" ({skipped} similar messages suppressed)"
        logger.warning(msg, *args)


def _sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("watchkeeper")
    except Exception:
        return "unknown"


class HttpExporter:
    """Batches records in a background thread and POSTs them as JSON to ``{endpoint}/api/v1/ingest``.

    Never blocks the caller: a full queue drops the record and counts it. Retries 429/503 after ``Retry-After``,
    and 5xx/network failures with exponential backoff and jitter, up to ``max_retries``; drops a batch the server
    rejects with another 4xx (logging the problem's ``detail``, never the payload). Delivers what is queued at
    interpreter exit (bounded by ``shutdown_timeout_s``).
    """

    def __init__(
        self,
        endpoint: str = "http://127.0.0.1:4319",
        *,
        api_key: str | None = None,
        redact: RedactHook | None = None,
        max_queue_size: int = 4096,
        max_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
        export_timeout_s: float = 10.0,
        max_retries: int = 6,
        backoff_base_s: float = 0.5,
        max_backoff_s: float = 30.0,
        gzip_min_bytes: int = 4096,
        shutdown_timeout_s: float = 5.0,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("endpoint must be an http:// or https:// URL with a host")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/") + INGEST_PATH
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, application/problem+json",
            "User-Agent": f"watchkeeper-sdk-python/{_sdk_version()}",
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._redact = redact
        self._maxq = max(1, max_queue_size)
        self._batch = max(1, max_batch_size)
        self._delay = schedule_delay_s
        self._timeout = export_timeout_s
        self._max_retries = max_retries
        self._backoff_base = backoff_base_s
        self._max_backoff = max_backoff_s
        self._gzip_min = gzip_min_bytes
        self._shutdown_timeout = shutdown_timeout_s
        self._rng = random.Random()  # noqa: S311 - jitter, not secrecy
        self._lock = threading.Lock()
        self._never = threading.Event()  # waited on for an uninterruptible pause; never set
        self._conn: http.client.HTTPConnection | None = None
        self._log = _RateLimitedLog()
        self._counts: dict[str, int] = dict.fromkeys(
            (
                "exported",
                "dropped_queue_full",
                "dropped_rejected",
                "dropped_retries_exhausted",
                "dropped_shutdown",
                "dropped_filtered",
                "dropped_invalid",
                "retries",
                "batches",
                "internal_errors",
            ),
            0,
        )
        self._init_runtime()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def _after_fork() -> None:
                me = ref()
                if me is not None:
                    me._init_runtime()

            os.register_at_fork(after_in_child=_after_fork)

    @classmethod
    def from_config(cls, config: Config) -> HttpExporter:
        return cls(
            config.endpoint,
            api_key=config.api_key,
            redact=config.redact,
            max_queue_size=config.max_queue_size,
            max_batch_size=config.max_batch_size,
            schedule_delay_s=config.schedule_delay_s,
            export_timeout_s=config.export_timeout_s,
            max_retries=config.max_retries,
            backoff_base_s=config.backoff_base_s,
            max_backoff_s=config.max_backoff_s,
            gzip_min_bytes=config.gzip_min_bytes,
            shutdown_timeout_s=config.shutdown_timeout_s,
        )

    def _init_runtime(self) -> None:
        """Fresh queue, events and no thread: at construction, and in a forked child (the parent's thread is gone)."""
        self._q: queue.SimpleQueue[Span | Feedback | _Marker] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._start_lock = threading.Lock()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._deadline: float | None = None
        self._conn = None

    # -- the application's side -------------------------------------------------------------------------------------

    def export(self, record: Span | Feedback) -> None:
        """Queue a record for export without blocking; drop and count it when the queue is full or shut."""
        if self._closed:
            self._count("dropped_shutdown")
            return
        q = self._q
        n = q.qsize()
        if n >= self._maxq:
            self._count("dropped_queue_full")
            return
        q.put_nowait(record)
        if self._thread is None:
            self._start()
        if n + 1 >= self._batch and not self._wake.is_set():
            self._wake.set()

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._run, name="watchkeeper-exporter", daemon=True)
            thread.start()
            self._thread = thread
            atexit.register(self._at_exit)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record queued before this call is delivered or dropped; False on timeout."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return self._q.qsize() == 0  # nothing will drain the queue: report instead of waiting forever
        marker = _Marker()
        self._q.put_nowait(marker)
        self._wake.set()
        return marker.event.wait(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Deliver what is queued (for at most ``timeout`` s), stop the thread; later records are dropped."""
        timeout = self._shutdown_timeout if timeout is None else timeout
        with self._start_lock:
            was_closed = self._closed
            self._closed = True
            thread = self._thread
        if was_closed:
            return thread is None or not thread.is_alive()
        try:
            atexit.unregister(self._at_exit)
        except Exception:
            self._count("internal_errors")
        if thread is None:
            return True
        self._deadline = time.monotonic() + timeout
        marker = _Marker(stop=True)
        self._q.put_nowait(marker)
        self._stopping.set()
        self._wake.set()
        done = marker.event.wait(timeout)
        thread.join(max(0.0, self._deadline - time.monotonic()) if done else 0.0)
        if done:
            self._drop_leftovers()
        return done

    def _at_exit(self) -> None:
        try:
            self.shutdown()
        except Exception:
            self._count("internal_errors")

    def _drop_leftovers(self) -> None:
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Marker):
                item.event.set()
            else:
                self._count("dropped_shutdown")

    def stats(self) -> dict[str, int]:
        """Counters since start: exported, dropped_* (by reason), retries, batches; plus ``queued`` now."""
        with self._lock:
            out = dict(self._counts)
        out["queued"] = self._q.qsize()
        return out

    # -- the exporter's thread ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        spans: list[Span] = []
        feedback: list[Feedback] = []
        while True:
            try:
                if not self._wake.is_set():
                    self._wake.wait(self._delay)
                self._wake.clear()
                if self._drain(spans, feedback):
                    break
            except Exception as exc:
                self._count("internal_errors")
                # The type only: an exception message may quote the payload.
                self._log.warning(
                    "internal", "Watchkeeper exporter error %s; records in flight lost", type(exc).__name__
                )
                spans.clear()
                feedback.clear()
        self._close_conn()

    def _drain(self, spans: list[Span], feedback: list[Feedback]) -> bool:
        """Send everything queued now, in batches; True once the stop marker has been handled."""
        q = self._q
        batch = self._batch
        while True:
            try:
                item = q.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Span):
                spans.append(item)
            elif isinstance(item, Feedback):
                feedback.append(item)
            elif isinstance(item, _Marker):
                self._send(spans, feedback)
                item.event.set()
                if item.stop:
                    return True
                continue
            else:
                self._count("dropped_invalid")
                continue
            if len(spans) + len(feedback) >= batch:
                self._send(spans, feedback)
        self._send(spans, feedback)
        return False

    def _send(self, spans: list[Span], feedback: list[Feedback]) -> None:
        """Serialise, redact and deliver one batch; empties the lists."""
        if not spans and not feedback:
            return
        span_dicts: list[dict[str, Any]] = []
        feedback_dicts: list[dict[str, Any]] = []
        redact = self._redact
        for s in spans:
            try:
                d = span_to_dict(s)
                if redact is not None:
                    d = to_jsonable(d)  # the hook sees plain JSON values, never application objects
            except Exception:
                self._count("dropped_invalid")
                continue
            if redact is not None:
                try:
                    out = redact(d)
                except Exception as exc:
                    # Never send what the redactor could not clean; name the failure, not the data.
                    self._count("dropped_invalid")
                    self._log.warning("redact", "Watchkeeper redact hook raised %s; span dropped", type(exc).__name__)
                    continue
                if out is None:
                    self._count("dropped_filtered")
                    continue
                if not isinstance(out, dict):
                    self._count("dropped_invalid")
                    continue
                d = out
            span_dicts.append(d)
        for f in feedback:
            try:
                feedback_dicts.append(feedback_to_dict(f))
            except Exception:
                self._count("dropped_invalid")
        spans.clear()
        feedback.clear()
        if span_dicts or feedback_dicts:
            self._deliver(span_dicts, feedback_dicts)

    def _encode(self, span_dicts: list[dict[str, Any]], feedback_dicts: list[dict[str, Any]]) -> tuple[bytes, int]:
        """The JSON body and how many records it holds; a record that cannot be made JSON is dropped and counted."""
        try:
            body = _dumps({"spans": span_dicts, "feedback": feedback_dicts})
        except (TypeError, ValueError, RecursionError):
            body = None  # an odd value somewhere (NaN, a tuple key): clean record by record, below
        if body is not None:
            return body, len(span_dicts) + len(feedback_dicts)
        safe: dict[str, list[Any]] = {"spans": [], "feedback": []}
        for key, dicts in (("spans", span_dicts), ("feedback", feedback_dicts)):
            for d in dicts:
                try:
                    safe[key].append(to_jsonable(d))
                except Exception:
                    self._count("dropped_invalid")
        return _dumps(safe), len(safe["spans"]) + len(safe["feedback"])

    def _deliver(self, span_dicts: list[dict[str, Any]], feedback_dicts: list[dict[str, Any]]) -> None:
        try:
            body, n = self._encode(span_dicts, feedback_dicts)
        except (TypeError, ValueError, RecursionError):
            self._count("dropped_invalid", len(span_dicts) + len(feedback_dicts))
            return
        if n == 0:
            return
        headers = self._headers
        if len(body) >= self._gzip_min:
            body = gzip.compress(body, compresslevel=5)
            headers = {**headers, "Content-Encoding": "gzip"}
        self._count("batches")
        attempt = 0
        while True:
            deadline = self._deadline
            timeout = self._timeout
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._count("dropped_shutdown", n)
                    return
                timeout = min(timeout, remaining)
            status: int | None
            try:
                status, retry_after, data = self._post(body, headers, timeout)
            except (OSError, http.client.HTTPException) as exc:
                status, retry_after, data = None, None, b""
                failure = type(exc).__name__
            else:
                failure = f"HTTP {status}"
            if status is not None and 200 <= status < 300:
                self._count("exported", n)
                return
            if status is None or status >= 500 or status in (408, 429):
                if status is None and self._stopping.is_set():
                    # Unreachable while the process exits: waiting out backoff would only delay the exit.
                    self._count("dropped_shutdown", n)
                    return
                if attempt >= self._max_retries:
                    self._count("dropped_retries_exhausted", n)
                    self._log.warning(
                        "retries", "Watchkeeper: dropped %d records after %d retries (%s)", n, attempt, failure
                    )
                    return
                delay = _retry_after_s(retry_after) if status in (429, 503) else None
                if delay is None:
                    ceiling = min(self._max_backoff, self._backoff_base * (2**attempt))
                    delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
                attempt += 1
                self._count("retries")
                logger.debug("Watchkeeper: %s; retry %d in %.2fs", failure, attempt, delay)
                if not self._pause(delay):
                    self._count("dropped_shutdown", n)
                    return
                continue
            if status == 413 and n > 1:
                # Too large for the server: halve and send each half.
                half_s, half_f = len(span_dicts) // 2, len(feedback_dicts) // 2
                self._deliver(span_dicts[:half_s], feedback_dicts[:half_f])
                self._deliver(span_dicts[half_s:], feedback_dicts[half_f:])
                return
            self._count("dropped_rejected", n)
            self._log.warning(
                "rejected", "Watchkeeper ingest rejected %d records (HTTP %d): %s", n, status, _problem_detail(data)
            )
            return

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` s before a retry; False when shutdown's deadline would pass first (drop the batch)."""
        end = time.monotonic() + delay
        while True:
            remaining = end - time.monotonic()
            if self._stopping.is_set():
                deadline = self._deadline
                if deadline is not None and end > deadline:
                    return False
                if remaining > 0:
                    self._never.wait(remaining)
                return True
            if remaining <= 0:
                return True
            self._stopping.wait(remaining)

    def _post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> tuple[int, str | None, bytes]:
        conn = self._conn
        if conn is None:
            conn = self._new_conn(timeout)
        else:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        try:
            conn.request("POST", self._path, body=body, headers=dict(headers))
            resp = conn.getresponse()
            data = resp.read(_MAX_RESPONSE_BYTES)
            status = resp.status
            retry_after = resp.getheader("Retry-After")
            if resp.will_close or not resp.isclosed():
                self._close_conn()
        except BaseException:
            self._close_conn()
            raise
        return status, retry_after, data

    def _new_conn(self, timeout: float) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            import ssl

            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        self._conn = conn
        return conn

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                self._count("internal_errors")
