"""The ``@observe`` decorator: one span per call of a function, coroutine, generator or async generator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Final, TypeVar, cast, overload

from watchkeeper.records import SpanKind
from watchkeeper.sdk._context import CURRENT
from watchkeeper.sdk._tracer import SpanHandle, _apply_fields, _count_error, start_span

F = TypeVar("F", bound=Callable[..., Any])

_SCALARS: Final = frozenset({str, int, float, bool, type(None), bytes})
_MAX_SNAPSHOT_DEPTH: Final = 3
_MAX_SNAPSHOT_ITEMS: Final = 256
_MAX_COLLECTED_ITEMS: Final = 1000
_POSITIONAL: Final = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _snapshot(value: Any, depth: int = 0) -> Any:
    """A copy of small containers, so that mutating an argument after the call does not rewrite the record."""
    cls = value.__class__
    if cls in _SCALARS or depth >= _MAX_SNAPSHOT_DEPTH:
        return value
    if cls is list or cls is tuple:
        if len(value) > _MAX_SNAPSHOT_ITEMS:
            return list(value)
        return [_snapshot(v, depth + 1) for v in value]
    if cls is dict:
        if len(value) > _MAX_SNAPSHOT_ITEMS:
            return dict(value)
        return {k: _snapshot(v, depth + 1) for k, v in value.items()}
    return value


class _Inputs:
    """Turns ``(args, kwargs)`` into ``{parameter: value}``, cheaply for plain signatures."""

    __slots__ = ("fast", "names", "signature", "skip_first")

    def __init__(self, fn: Callable[..., Any]) -> None:
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self.signature = None
        params = list(self.signature.parameters.values()) if self.signature is not None else []
        self.names = tuple(p.name for p in params if p.kind in _POSITIONAL)
        self.fast = self.signature is not None and all(
            p.kind in _POSITIONAL or p.kind is inspect.Parameter.KEYWORD_ONLY for p in params
        )
        self.skip_first = bool(self.names) and self.names[0] in ("self", "cls")

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = self.names
        if self.fast and len(args) <= len(names):
            out = {names[i]: _snapshot(a) for i, a in enumerate(args)}
            for k, v in kwargs.items():
                out[k] = _snapshot(v)
        elif self.signature is not None:
            try:
                out = {k: _snapshot(v) for k, v in self.signature.bind_partial(*args, **kwargs).arguments.items()}
            except TypeError:
                out = {"args": _snapshot(list(args)), "kwargs": _snapshot(kwargs)}
        else:
            out = {"args": _snapshot(list(args)), "kwargs": _snapshot(kwargs)}
        if self.skip_first:
            out.pop(names[0], None)
        return out


class _Collector:
    """Items a generator yielded, kept as its output: joined when all are strings, capped in number."""

    __slots__ = ("items", "truncated")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.truncated = False

    def add(self, item: Any) -> None:
        if len(self.items) < _MAX_COLLECTED_ITEMS:
            self.items.append(_snapshot(item))
        else:
            self.truncated = True

    def finish(self, h: SpanHandle) -> None:
        items = self.items
        h.set_output("".join(items) if items and all(isinstance(i, str) for i in items) else items)
        if self.truncated:
            h.set_attribute("output_truncated", True)


def _begin(
    name: str, kind: SpanKind | str, fields: dict[str, Any], inputs: _Inputs | None, args: Any, kwargs: Any
) -> SpanHandle | None:
    try:
        h = start_span(name, kind)
        if fields:
            _apply_fields(h._span, fields)
        if inputs is not None:
            h._span.input = inputs(args, kwargs)
        return h
    except Exception:
        _count_error()
        return None


def _end(h: SpanHandle, exc: BaseException | None) -> None:
    try:
        if exc is not None and not isinstance(exc, GeneratorExit):
            h.record_exception(exc)
        h.end()
    except Exception:
        _count_error()


def _reset(token: Any) -> None:
    try:
        CURRENT.reset(token)
    except (ValueError, RuntimeError):
        _count_error()


@overload
def observe(fn: F, /) -> F: ...


@overload
def observe(
    fn: str | None = None,
    /,
    *,
    name: str | None = None,
    kind: SpanKind | str = SpanKind.CHAIN,
    capture_input: bool = True,
    capture_output: bool = True,
    **fields: Any,
) -> Callable[[F], F]: ...


def observe(
    fn: Any = None,
    /,
    *,
    name: str | None = None,
    kind: SpanKind | str = SpanKind.CHAIN,
    capture_input: bool = True,
    capture_output: bool = True,
    **fields: Any,
) -> Any:
    """Record each call of the decorated function as a span (sync, async, generator or async generator).

    Use as ``@observe``, ``@observe("name")`` or ``@observe(name=..., kind="tool", capture_input=False, ...)``.
    The span is named after the function's qualified name unless ``name`` is given; its input is the call's
    arguments by parameter name (``self``/``cls`` left out) and its output the return value (for generators, the
    yielded items). Exceptions mark the span as an error and propagate unchanged; signature and return value are
    the function's own. Other keywords set span fields or attributes as in ``span()``.
    """
    if isinstance(fn, str):
        name, fn = fn, None
    if fn is None:

        def decorate(f: F) -> F:
            return cast(F, _wrap(f, name, kind, capture_input, capture_output, fields))

        return decorate
    return _wrap(fn, name, kind, capture_input, capture_output, fields)


def _wrap(
    fn: Any, name: str | None, kind: SpanKind | str, capture_input: bool, capture_output: bool, fields: dict[str, Any]
) -> Any:
    if isinstance(fn, staticmethod):
        return staticmethod(_wrap(fn.__func__, name, kind, capture_input, capture_output, fields))
    if isinstance(fn, classmethod):
        return classmethod(_wrap(fn.__func__, name, kind, capture_input, capture_output, fields))
    span_name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or "function"
    inputs = _Inputs(fn) if capture_input else None

    if inspect.isasyncgenfunction(fn):
        return _wrap_async_gen(fn, span_name, kind, fields, inputs, capture_output)
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            h = _begin(span_name, kind, fields, inputs, args, kwargs)
            if h is None:
                return await fn(*args, **kwargs)
            token = CURRENT.set(h)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _reset(token)
                _end(h, exc)
                raise
            _reset(token)
            if capture_output:
                h._span.output = _snapshot(result)
            _end(h, None)
            return result

        return async_wrapper
    if inspect.isgeneratorfunction(fn):
        return _wrap_gen(fn, span_name, kind, fields, inputs, capture_output)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        h = _begin(span_name, kind, fields, inputs, args, kwargs)
        if h is None:
            return fn(*args, **kwargs)
        token = CURRENT.set(h)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _reset(token)
            _end(h, exc)
            raise
        _reset(token)
        if capture_output:
            h._span.output = _snapshot(result)
        _end(h, None)
        return result

    return wrapper


def _wrap_gen(
    fn: Callable[..., Generator[Any, Any, Any]],
    span_name: str,
    kind: SpanKind | str,
    fields: dict[str, Any],
    inputs: _Inputs | None,
    capture_output: bool,
) -> Callable[..., Generator[Any, Any, Any]]:
    @functools.wraps(fn)
    def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        gen = fn(*args, **kwargs)
        h = _begin(span_name, kind, fields, inputs, args, kwargs)
        if h is None:
            return (yield from gen)
        collected = _Collector() if capture_output else None
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                # The span is current only while the generator's own code runs, never across a yield.
                token = CURRENT.set(h)
                try:
                    if thrown is not None:
                        exc, thrown = thrown, None
                        item = gen.throw(exc)
                    else:
                        item = gen.send(sent)
                except StopIteration as stop:
                    result = stop.value
                    break
                finally:
                    _reset(token)
                if collected is not None:
                    collected.add(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    token = CURRENT.set(h)
                    try:
                        gen.close()
                    finally:
                        _reset(token)
                    raise
                except BaseException as exc:
                    thrown = exc
        except BaseException as exc:
            if collected is not None:
                collected.finish(h)
            _end(h, exc)
            raise
        if collected is not None:
            collected.finish(h)
        _end(h, None)
        return result

    return gen_wrapper


def _wrap_async_gen(
    fn: Callable[..., AsyncGenerator[Any, Any]],
    span_name: str,
    kind: SpanKind | str,
    fields: dict[str, Any],
    inputs: _Inputs | None,
    capture_output: bool,
) -> Callable[..., AsyncGenerator[Any, Any]]:
    @functools.wraps(fn)
    async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        agen = fn(*args, **kwargs)
        h = _begin(span_name, kind, fields, inputs, args, kwargs)
        if h is None:
            async for item in agen:
                yield item
            return
        collected = _Collector() if capture_output else None
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                token = CURRENT.set(h)
                try:
                    if thrown is not None:
                        exc, thrown = thrown, None
                        item = await agen.athrow(exc)
                    else:
                        item = await agen.asend(sent)
                except StopAsyncIteration:
                    break
                finally:
                    _reset(token)
                if collected is not None:
                    collected.add(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    token = CURRENT.set(h)
                    try:
                        await agen.aclose()
                    finally:
                        _reset(token)
                    raise
                except BaseException as exc:
                    thrown = exc
        except BaseException as exc:
            if collected is not None:
                collected.finish(h)
            _end(h, exc)
            raise
        if collected is not None:
            collected.finish(h)
        _end(h, None)

    return agen_wrapper
