"""The built-in signals, registered exactly as a third-party plugin's would be."""

from __future__ import annotations

from ..records import Span, SpanKind
from . import attacks, language, refusal, task, tool_errors
from ._model import Label, Registry, unknown
from ._text import model_output, system_prompt, tool_result, user_input

_RESULT_KINDS = (SpanKind.TOOL, SpanKind.MCP, SpanKind.RETRIEVAL)


def _is_llm(span: Span) -> bool:
    return span.kind is SpanKind.LLM and span.llm is not None


class InputLanguage:
    name = "language"
    version = language.VERSION

    def applies_to(self, span: Span) -> bool:
        return _is_llm(span)

    def label(self, span: Span) -> Label:
        return language.classify_language(user_input(span))


class OutputLanguage:
    name = "output_language"
    version = language.VERSION

    def applies_to(self, span: Span) -> bool:
        return _is_llm(span)

    def label(self, span: Span) -> Label:
        out = model_output(span)
        return language.classify_language(out) if out is not None else unknown(self.version, "no output")


class InputScript:
    name = "script"
    version = language.VERSION

    def applies_to(self, span: Span) -> bool:
        return _is_llm(span)

    def label(self, span: Span) -> Label:
        return language.classify_script(user_input(span))


class Refusal:
    name = "refusal"
    version = refusal.VERSION

    def applies_to(self, span: Span) -> bool:
        return _is_llm(span)

    def label(self, span: Span) -> Label:
        out = model_output(span)
        if out is None:
            return unknown(self.version, "no output")
        return refusal.classify_refusal(out)


class Jailbreak:
    name = "jailbreak"
    version = attacks.VERSION

    def applies_to(self, span: Span) -> bool:
        return _is_llm(span)

    def label(self, span: Span) -> Label:
        return attacks.classify_attack(user_input(span), system=system_prompt(span))[0]


class PromptInjection:
    name = "prompt_injection"
    version = attacks.VERSION

    def applies_to(self, span: Span) -> bool:
        return _is_llm(span)

    def label(self, span: Span) -> Label:
        return attacks.classify_attack(user_input(span), system=system_prompt(span))[1]


class IndirectInjection:
    name = "indirect_injection"
    version = attacks.VERSION

    def applies_to(self, span: Span) -> bool:
        return span.kind in _RESULT_KINDS

    def label(self, span: Span) -> Label:
        result = tool_result(span)
        if result is None:
            return unknown(self.version, "no result")
        return attacks.classify_indirect(result)


class ToolError:
    name = "tool_error"
    version = tool_errors.VERSION

    def applies_to(self, span: Span) -> bool:
        return span.tool is not None or span.kind in (SpanKind.TOOL, SpanKind.MCP)

    def label(self, span: Span) -> Label:
        return tool_errors.tool_error_of(span)


class AccountAge:
    name = "account_age"
    version = task.COHORT_VERSION

    def __init__(self, new_days: float = 7.0) -> None:
        self.new_days = new_days

    def applies_to(self, span: Span) -> bool:
        return _is_llm(span) or span.parent_span_id is None

    def label(self, span: Span) -> Label:
        return task.account_age_bucket(span, self.new_days)


class Client:
    name = "client"
    version = task.COHORT_VERSION

    def applies_to(self, span: Span) -> bool:
        return _is_llm(span) or span.parent_span_id is None

    def label(self, span: Span) -> Label:
        return task.client_cohort(span)


def builtin_signals(*, new_account_days: float = 7.0) -> list[object]:
    """New instances of every built-in signal, in the order they run."""
    return [
        InputLanguage(),
        OutputLanguage(),
        InputScript(),
        Refusal(),
        Jailbreak(),
        PromptInjection(),
        IndirectInjection(),
        ToolError(),
        AccountAge(new_account_days),
        Client(),
    ]


def default_registry(*, entry_points: bool = True, new_account_days: float = 7.0) -> Registry:
    """A new registry holding the built-ins and (unless ``entry_points`` is false) installed plugins."""
    reg = Registry()
    for s in builtin_signals(new_account_days=new_account_days):
        reg.register(s)  # type: ignore[arg-type]  # each built-in satisfies the Signal protocol
    if entry_points:
        reg.load_entry_points()
    return reg
