"""Spans: the handle a caller fills in, the ``span()`` context manager, context fields, feedback, configuration.

The hot path (start a span, enter, exit, hand the record to the exporter) builds one :class:`~watchkeeper.records.Span`
dataclass and does nothing else: serialisation, redaction and I/O happen in the exporter's thread.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

from watchkeeper.records import (
    Account,
    Feedback,
    FeedbackKind,
    LLMCall,
    RecordError,
    Span,
    SpanError,
    SpanKind,
    Status,
    ToolCall,
    Versions,
    feedback_from_dict,
)
from watchkeeper.sdk._config import Config, RedactHook, load_config
from watchkeeper.sdk._context import CURRENT, TraceContext, new_span_id, new_trace_id, parse_traceparent
from watchkeeper.sdk._exporter import Exporter, HttpExporter, NoopExporter

logger = logging.getLogger("watchkeeper.sdk")

_time_ns = time.time_ns
_MAX_ERROR_MESSAGE_CHARS: Final = 4096
_SPAN_FIELDS: Final = frozenset(
    {"input", "output", "session_id", "subject_id", "account", "versions", "attributes", "llm", "tool"}
)


class _LazyExporter:
    """Stands in until ``configure()`` runs; the first record configures from the environment."""

    def export(self, record: Span | Feedback) -> None:
        try:
            exporter = _auto_configure()
        except Exception:
            _STATE.errors += 1
            return
        if isinstance(record, Span) and record.service_name is None:
            record.service_name = _STATE.service_name  # the span started before the settings were read
        exporter.export(record)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> bool:
        return True

    def stats(self) -> dict[str, int]:
        return {}


class _State:
    __slots__ = ("config", "errors", "exporter", "service_name")

    def __init__(self) -> None:
        self.exporter: Exporter = _LazyExporter()
        self.service_name: str | None = None
        self.config: Config | None = None
        self.errors = 0


_STATE = _State()


def _count_error() -> None:
    _STATE.errors += 1


_AUTO_CONFIGURE_LOCK = threading.Lock()


def _auto_configure() -> Exporter:
    with _AUTO_CONFIGURE_LOCK:  # two threads ending their first spans at once must not configure twice
        if isinstance(_STATE.exporter, _LazyExporter):
            try:
                configure()
            except ValueError as exc:
                # A bad environment variable must not break the application: disable and say why.
                logger.warning("Watchkeeper SDK disabled: %s", exc)
                _STATE.exporter = NoopExporter()
    return _STATE.exporter


def configure(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service_name: str | None = None,
    enabled: bool | None = None,
    exporter: Exporter | None = None,
    redact: RedactHook | None = None,
    max_queue_size: int | None = None,
    max_batch_size: int | None = None,
    schedule_delay_s: float | None = None,
    export_timeout_s: float | None = None,
    max_retries: int | None = None,
    backoff_base_s: float | None = None,
    max_backoff_s: float | None = None,
    gzip_min_bytes: int | None = None,
    shutdown_timeout_s: float | None = None,
) -> Exporter:
    """Set up the SDK and give back the exporter that will receive records.

    Unset arguments fall back to ``WATCHKEEPER_*`` environment variables, then to defaults (see ``SETTINGS``).
    ``exporter=`` replaces the HTTP exporter (e.g. a :class:`CaptureExporter` in tests). A previous exporter is
    shut down (delivering what it holds). Raises ValueError naming the setting when a value is invalid — the only
    SDK function that raises, and only at set-up.
    """
    config = load_config(
        {
            "endpoint": endpoint,
            "api_key": api_key,
            "service_name": service_name,
            "enabled": enabled,
            "redact": redact,
            "max_queue_size": max_queue_size,
            "max_batch_size": max_batch_size,
            "schedule_delay_s": schedule_delay_s,
            "export_timeout_s": export_timeout_s,
            "max_retries": max_retries,
            "backoff_base_s": backoff_base_s,
            "max_backoff_s": max_backoff_s,
            "gzip_min_bytes": gzip_min_bytes,
            "shutdown_timeout_s": shutdown_timeout_s,
        }
    )
    new: Exporter
    if exporter is not None:
        new = exporter
    elif not config.enabled:
        new = NoopExporter()
    else:
        new = HttpExporter.from_config(config)
    old = _STATE.exporter
    _STATE.exporter = new
    _STATE.service_name = config.service_name
    _STATE.config = config
    if old is not new:
        try:
            old.shutdown(config.shutdown_timeout_s)
        except Exception:
            _count_error()
    return new


def get_exporter() -> Exporter:
    """The exporter records currently go to."""
    return _STATE.exporter


def flush(timeout: float | None = None) -> bool:
    """Wait until records handed over so far are delivered (or dropped and counted); False on timeout."""
    try:
        return _STATE.exporter.flush(timeout)
    except Exception:
        _count_error()
        return False


def shutdown(timeout: float | None = None) -> bool:
    """Deliver what is queued and stop the exporter; later records are dropped and counted. False on timeout."""
    try:
        return _STATE.exporter.shutdown(timeout)
    except Exception:
        _count_error()
        return False


def stats() -> dict[str, int]:
    """The exporter's counters plus ``sdk_errors``: failures inside the SDK that were caught instead of raised."""
    try:
        out = dict(_STATE.exporter.stats())
    except Exception:
        _count_error()
        out = {}
    out["sdk_errors"] = _STATE.errors
    return out


# ---------------------------------------------------------------------------------------------------------------
# Context fields


@dataclass(frozen=True, slots=True)
class _Scope:
    session_id: str | None = None
    subject_id: str | None = None
    account: Account | None = None
    versions: Versions | None = None


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("watchkeeper_scope", default=None)


def _as_account(value: Account | Mapping[str, Any] | None) -> Account | None:
    if value is None or isinstance(value, Account):
        return value
    return Account(**dict(value))


def _as_versions(value: Versions | Mapping[str, Any] | None) -> Versions | None:
    if value is None or isinstance(value, Versions):
        return value
    return Versions(**dict(value))


class ContextToken:
    """What ``set_context`` gives back: use it as ``with set_context(...):`` or call ``reset()`` to undo."""

    __slots__ = ("_token",)

    def __init__(self, token: contextvars.Token[_Scope | None] | None) -> None:
        self._token = token

    def reset(self) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        try:
            _SCOPE.reset(token)
        except (ValueError, RuntimeError):
            _count_error()

    def __enter__(self) -> ContextToken:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()


def set_context(
    *,
    session_id: str | None = None,
    subject_id: str | None = None,
    account: Account | Mapping[str, Any] | None = None,
    versions: Versions | Mapping[str, Any] | None = None,
) -> ContextToken:
    """Apply session, subject, account and versions to the current span and every span started below it.

    Unset (None) arguments keep what is already in effect. Lasts for the rest of the current context (task or
    thread); use the returned token as a context manager to scope it.
    """
    try:
        acc = _as_account(account)
        ver = _as_versions(versions)
        old = _SCOPE.get() or _Scope()
        new = _Scope(
            session_id if session_id is not None else old.session_id,
            subject_id if subject_id is not None else old.subject_id,
            acc if acc is not None else old.account,
            ver if ver is not None else old.versions,
        )
        token = _SCOPE.set(new)
        cur = CURRENT.get()
        if isinstance(cur, SpanHandle) and not cur._ended:
            s = cur._span
            if session_id is not None:
                s.session_id = session_id
            if subject_id is not None:
                s.subject_id = subject_id
            if acc is not None:
                s.account = acc
            if ver is not None:
                s.versions = ver
        return ContextToken(token)
    except Exception:
        _count_error()
        return ContextToken(None)


# ---------------------------------------------------------------------------------------------------------------
# Spans


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"


def _error_message(exc: BaseException) -> str | None:
    try:
        text = str(exc)
    except Exception:
        return None
    return text[:_MAX_ERROR_MESSAGE_CHARS] if text else None


class SpanHandle:
    """A live span: fill in what it did, then it ends when its ``with`` block (or decorated call) ends.

    Setters are ignored once the span has ended (the record then belongs to the exporter's thread).
    """

    __slots__ = ("_ended", "_span", "_token", "span_id", "trace_id", "tracestate")

    def __init__(self, record: Span, tracestate: str | None = None) -> None:
        self._span = record
        self.trace_id = record.trace_id
        self.span_id = record.span_id
        self.tracestate = tracestate
        self._token: contextvars.Token[SpanHandle | TraceContext | None] | None = None
        self._ended = False

    # -- reading --------------------------------------------------------------------------------------------------

    @property
    def record(self) -> Span:
        """The span record being built (read it; change it through the setters)."""
        return self._span

    @property
    def traceparent(self) -> str:
        """This span as a W3C ``traceparent`` value, for propagating by hand."""
        return f"00-{self.trace_id}-{self.span_id}-01"

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def llm(self) -> LLMCall:
        """The span's ``llm`` part, created on first use; set its fields directly."""
        s = self._span
        if s.llm is None:
            s.llm = LLMCall()
        return s.llm

    @property
    def tool(self) -> ToolCall:
        """The span's ``tool`` part, created on first use; set its fields directly."""
        s = self._span
        if s.tool is None:
            s.tool = ToolCall()
        return s.tool

    # -- writing --------------------------------------------------------------------------------------------------

    def set(self, **fields: Any) -> SpanHandle:
        """Set span fields by name (input, output, session_id, subject_id, account, versions, attributes, llm,
        tool); any other name becomes an attribute."""
        if self._ended:
            return self
        try:
            _apply_fields(self._span, fields)
        except Exception:
            _count_error()
        return self

    def set_input(self, value: Any) -> SpanHandle:
        if not self._ended:
            self._span.input = value
        return self

    def set_output(self, value: Any) -> SpanHandle:
        if not self._ended:
            self._span.output = value
        return self

    def set_attribute(self, key: str, value: Any) -> SpanHandle:
        if not self._ended:
            self._span.attributes[key] = value
        return self

    def set_attributes(self, attributes: Mapping[str, Any]) -> SpanHandle:
        if not self._ended:
            try:
                self._span.attributes.update(attributes)
            except Exception:
                _count_error()
        return self

    def set_llm(self, **fields: Any) -> SpanHandle:
        """Set fields of the ``llm`` part (provider, request_model, input_messages, usage, ...)."""
        if not self._ended:
            try:
                llm = self.llm
                for k, v in fields.items():
                    setattr(llm, k, v)
            except Exception:
                _count_error()
        return self

    def set_tool(self, **fields: Any) -> SpanHandle:
        """Set fields of the ``tool`` part (name, call_id, arguments, result, is_error, mcp_server, ...)."""
        if not self._ended:
            try:
                tool = self.tool
                for k, v in fields.items():
                    setattr(tool, k, v)
            except Exception:
                _count_error()
        return self

    def set_context(
        self,
        *,
        session_id: str | None = None,
        subject_id: str | None = None,
        account: Account | Mapping[str, Any] | None = None,
        versions: Versions | Mapping[str, Any] | None = None,
    ) -> SpanHandle:
        """Set this span's session, subject, account or versions; spans started below it inherit them."""
        if self._ended:
            return self
        try:
            s = self._span
            if session_id is not None:
                s.session_id = session_id
            if subject_id is not None:
                s.subject_id = subject_id
            if account is not None:
                s.account = _as_account(account) or s.account
            if versions is not None:
                s.versions = _as_versions(versions) or s.versions
        except Exception:
            _count_error()
        return self

    def set_status(
        self,
        status: Status | str,
        *,
        error_type: str | None = None,
        message: str | None = None,
        code: str | int | None = None,
    ) -> SpanHandle:
        """Mark the span ok or error; an error may carry a type, a code and a message."""
        if self._ended:
            return self
        try:
            st = Status(status)
            s = self._span
            s.status = st
            if st is Status.ERROR and (error_type or message or code is not None):
                s.error = SpanError(error_type, None if code is None else str(code), message)
        except Exception:
            _count_error()
        return self

    def record_exception(self, exc: BaseException) -> SpanHandle:
        """Mark the span as failed with the exception's type and message (the exception itself is untouched)."""
        if self._ended:
            return self
        try:
            s = self._span
            s.status = Status.ERROR
            code = s.error.code if s.error is not None else None
            s.error = SpanError(_error_type(exc), code, _error_message(exc))
        except Exception:
            _count_error()
        return self

    def end(self) -> None:
        """End the span now and hand it to the exporter (idempotent)."""
        if self._ended:
            return
        self._ended = True
        s = self._span
        s.end_time_ns = _time_ns()
        if s.status is Status.UNSET:
            s.status = Status.OK
        try:
            _STATE.exporter.export(s)
        except Exception:
            _STATE.errors += 1

    # -- context manager --------------------------------------------------------------------------------------------

    def activate(self) -> None:
        """Make this span current (``with`` does this); pair with :meth:`deactivate`."""
        self._token = CURRENT.set(self)

    def deactivate(self) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        try:
            CURRENT.reset(token)
        except (ValueError, RuntimeError):
            # Exited in another context than it was entered in (e.g. handed across tasks): restore by value.
            _STATE.errors += 1
            try:
                CURRENT.set(token.old_value if token.old_value is not contextvars.Token.MISSING else None)
            except Exception:
                _STATE.errors += 1

    def __enter__(self) -> SpanHandle:
        self._token = CURRENT.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and exc_type is not GeneratorExit:
            self.record_exception(exc)
        token, self._token = self._token, None
        if token is not None:
            try:
                CURRENT.reset(token)
            except (ValueError, RuntimeError):
                self._token = token
                self.deactivate()
        self.end()

    async def __aenter__(self) -> SpanHandle:
        self._token = CURRENT.set(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<SpanHandle {self._span.name!r} trace={self.trace_id} span={self.span_id}>"


def _apply_fields(s: Span, fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if key not in _SPAN_FIELDS:
            s.attributes[key] = value
        elif key == "attributes":
            if value:
                s.attributes.update(value)
        elif key == "account":
            s.account = _as_account(value) or s.account
        elif key == "versions":
            s.versions = _as_versions(value) or s.versions
        else:
            setattr(s, key, value)


def _kind(kind: SpanKind | str) -> SpanKind:
    if kind.__class__ is SpanKind:
        return kind  # checked by class identity, the fast path
    try:
        return SpanKind(kind)
    except ValueError:
        return SpanKind.UNKNOWN


def start_span(
    name: str,
    kind: SpanKind | str = SpanKind.UNKNOWN,
    parent: SpanHandle | TraceContext | bool | None = True,
) -> SpanHandle:
    """A started span that is not yet current. ``parent=True`` means the current span; None starts a new trace."""
    cur = CURRENT.get() if parent is True else parent
    if cur is None or cur is False:
        trace_id = new_trace_id()
        parent_id = None
        tracestate = None
        session_id = subject_id = None
        account = Account()
        versions = Versions()
    elif cur.__class__ is SpanHandle:
        p = cur._span  # class checked above
        trace_id = p.trace_id
        parent_id = p.span_id
        tracestate = cur.tracestate
        session_id = p.session_id
        subject_id = p.subject_id
        account = p.account
        versions = p.versions
    else:
        trace_id = cur.trace_id
        parent_id = cur.span_id
        tracestate = cur.tracestate
        session_id = subject_id = None
        account = Account()
        versions = Versions()
    scope = _SCOPE.get()
    if scope is not None:
        if scope.session_id is not None:
            session_id = scope.session_id
        if scope.subject_id is not None:
            subject_id = scope.subject_id
        if scope.account is not None:
            account = scope.account
        if scope.versions is not None:
            versions = scope.versions
    record = Span(
        trace_id=trace_id,
        span_id=new_span_id(),
        name=name,
        start_time_ns=_time_ns(),
        end_time_ns=0,
        kind=_kind(kind),
        parent_span_id=parent_id,
        session_id=session_id,
        subject_id=subject_id,
        account=account,
        versions=versions,
        service_name=_STATE.service_name,
        source="sdk",
    )
    return SpanHandle(record, tracestate)


def span(name: str, kind: SpanKind | str = SpanKind.UNKNOWN, **fields: Any) -> SpanHandle:
    """A span to use as ``with span(...) as s:`` or ``async with span(...) as s:``; it becomes the current span.

    ``fields`` set span fields by name (input, output, session_id, subject_id, account, versions, attributes,
    llm, tool); any other keyword becomes an attribute. An exception leaving the block marks the span as an error
    and propagates unchanged.
    """
    try:
        handle = start_span(name, kind)
        if fields:
            _apply_fields(handle._span, fields)
        return handle
    except Exception:
        _count_error()
        return _detached_span(name)


class _DetachedSpan(SpanHandle):
    """A span that records nothing and never becomes current, for when building a real one failed."""

    __slots__ = ()

    def __enter__(self) -> SpanHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def activate(self) -> None:
        return None


def _detached_span(name: str) -> SpanHandle:
    handle = _DetachedSpan(
        Span(trace_id="0" * 32, span_id="0" * 16, name=name or "span", start_time_ns=0, end_time_ns=0)
    )
    handle._ended = True
    return handle


class continue_trace:
    """Make a remote parent (a ``traceparent`` carrier or a :class:`TraceContext`) the parent of spans below.

    A missing or malformed ``traceparent`` leaves the current context as it is.
    """

    __slots__ = ("_parent", "_token")

    def __init__(self, carrier: Mapping[str, Any] | TraceContext | str | None) -> None:
        parent: TraceContext | None
        if isinstance(carrier, TraceContext) or carrier is None:
            parent = carrier
        elif isinstance(carrier, str):
            parent = parse_traceparent(carrier)
        else:
            from watchkeeper.sdk._context import extract_traceparent

            parent = extract_traceparent(carrier)
        self._parent = parent
        self._token: contextvars.Token[SpanHandle | TraceContext | None] | None = None

    @property
    def parent(self) -> TraceContext | None:
        return self._parent

    def __enter__(self) -> TraceContext | None:
        if self._parent is not None:
            self._token = CURRENT.set(self._parent)
        return self._parent

    def __exit__(self, *exc: object) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                CURRENT.reset(token)
            except (ValueError, RuntimeError):
                _count_error()

    async def __aenter__(self) -> TraceContext | None:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


# ---------------------------------------------------------------------------------------------------------------
# Feedback


def feedback(
    trace_id: str | None,
    kind: FeedbackKind | str,
    value: Any = None,
    *,
    span_id: str | None = None,
    comment: str | None = None,
    session_id: str | None = None,
    subject_id: str | None = None,
    feedback_id: str | None = None,
) -> str | None:
    """Send a judgement about a trace (thumbs, correction, escalation, score, comment); give back its id.

    ``trace_id=None`` means the current trace. A malformed feedback is not sent: a warning names the field and the
    rule, and None is returned (nothing is raised).
    """
    try:
        cur = CURRENT.get()
        if trace_id is None and cur is not None:
            trace_id = cur.trace_id
        if isinstance(cur, SpanHandle):
            session_id = session_id if session_id is not None else cur._span.session_id
            subject_id = subject_id if subject_id is not None else cur._span.subject_id
        scope = _SCOPE.get()
        if scope is not None:
            session_id = session_id if session_id is not None else scope.session_id
            subject_id = subject_id if subject_id is not None else scope.subject_id
        record = feedback_from_dict(
            {
                "id": feedback_id or uuid.uuid4().hex,
                "trace_id": trace_id,
                "span_id": span_id,
                "kind": kind.value if isinstance(kind, FeedbackKind) else kind,
                "time_ns": _time_ns(),
                "value": value,
                "comment": comment,
                "session_id": session_id,
                "subject_id": subject_id,
            },
            source="sdk",
        )
    except RecordError as exc:
        logger.warning("feedback not sent: %s: %s", exc.field, exc.rule)
        _count_error()
        return None
    except Exception:
        _count_error()
        return None
    try:
        _STATE.exporter.export(record)
    except Exception:
        _count_error()
    return record.id
