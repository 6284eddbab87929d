"""One turn of a simulated session as an agent trajectory: an ``agent`` root span, LLM steps, tool and MCP calls.

The agent plans with the model, runs the tools the model asks for (some local, some behind an MCP server), retries
what is worth retrying, lets the model repair invalid arguments once, and answers; with faults on, the tools, the MCP
servers and the model API fail the way production ones do. Feedback (thumbs, corrections, escalations) follows,
more often after a failure.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from watchkeeper.records import (
    Account,
    Feedback,
    FeedbackKind,
    LLMCall,
    Message,
    Span,
    SpanError,
    SpanKind,
    Status,
    TokenUsage,
    ToolCall,
    ToolCallRequest,
    Versions,
)

from ._dialogue import Slots, TurnText, slots_for, turn_text
from ._phrases import APOLOGIES, CORRECTIONS, REFUSALS, SYSTEM_PROMPTS
from ._traffic import (
    NS_PER_S,
    SKILLS,
    TURN_BUDGET_NS,
    DegradedWindow,
    Incident,
    Session,
    hex_id,
    pick,
    seasonality,
    seeded,
)

AGENT_SERVICE: Final = "demo-support-agent"
SEARCH_SERVICE: Final = "demo-search-api"
SOURCE: Final = "demo"
SYNTHETIC: Final = "watchkeeper.synthetic"
_NS_PER_MS: Final = 1_000_000
_HIDDEN_PROMPT_TOKENS: Final = 1150  # tool schemas and few-shot examples sent with every call, not shown here
_LLM_TIMEOUT_MS: Final = 8000.0
_MCP_TIMEOUT_MS: Final = 6000.0
_HTTP_TIMEOUT_MS: Final = 5000.0
_KB_TIMEOUT_MS: Final = 3000.0

# Each intent's plan: steps of tool calls the model asks for, in order (several names in a step run in parallel).
_PLANS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "order_status": (("lookup_order",),),
    "refund": (("lookup_order",), ("issue_refund",)),
    "password_reset": (("get_customer",), ("reset_password",)),
    "billing": (("list_invoices",), ("get_invoice",)),
    "product_question": (("search_kb",),),
    "cancel_subscription": (("get_customer",), ("cancel_subscription",)),
}
# Tools the agent runs itself that call an MCP server underneath: tool -> (server, MCP tool).
_WRAPPED_MCP: Final = {
    "issue_refund": ("billing-mcp", "create_refund"),
    "reset_password": ("crm-mcp", "send_password_reset"),
}
# MCP tools the model calls directly: MCP tool -> server.
_DIRECT_MCP: Final = {
    "get_customer": "crm-mcp",
    "list_invoices": "billing-mcp",
    "get_invoice": "billing-mcp",
    "cancel_subscription": "billing-mcp",
}
_MCP_MEDIAN_MS: Final = {"crm-mcp": 170.0, "billing-mcp": 260.0}
_BUSINESS_ERRORS: Final = {
    "create_refund": "Refund amount exceeds the refundable balance of the order.",
    "send_password_reset": "Too many reset requests for this account; try again in 15 minutes.",
    "get_customer": "Customer not found.",
    "list_invoices": "Billing account is suspended.",
    "get_invoice": "Invoice not found.",
    "cancel_subscription": "Subscription is already scheduled for cancellation.",
}
_KB_ARTICLES: Final = (
    ("kb-1042", "Connect your device to Google Home"),
    ("kb-1107", "Warranty and repairs"),
    ("kb-0931", "Voltage and plug types by country"),
    ("kb-1210", "Returns and refunds policy"),
    ("kb-0877", "Reset your password"),
    ("kb-1322", "Pairing troubleshooting"),
)


@dataclass(slots=True)
class _Outcome:
    """How one tool call ended, for the agent's next move."""

    end_ns: int
    result: Any  # what the model is shown
    failure: str | None = None  # timeout, rate_limited, unavailable, auth, invalid_params, internal, tool_error
    degraded: bool = False


_RETRYABLE: Final = frozenset({"timeout", "rate_limited", "unavailable", "internal"})


class TurnBuilder:
    """Builds the spans and feedback of one turn of a session."""

    def __init__(
        self,
        session: Session,
        index: int,
        *,
        faults: bool,
        degraded: DegradedWindow | None,
        first: bool = False,
        incident: Incident | None = None,
    ) -> None:
        self.session = session
        self.index = index
        self.faults = faults
        self.degraded = degraded if faults else None
        self.incident = incident if faults else None
        self.rng = seeded(f"{session.key}:turn:{index}")
        self.trace_id = hex_id(self.rng, 32)
        self.start_ns = session.turn_starts_ns[index]
        self.slots: Slots = slots_for(session)
        self.text: TurnText = turn_text(session, self.slots, index)
        self.model = session.model
        skill_name, skill_versions = SKILLS[session.intent]
        skill_rng = seeded(f"{session.key}:skill")
        self.skill = f"{skill_name}@{pick(skill_rng, skill_versions)}"
        self.spans: list[Span] = []
        self.llm_steps = 0
        self.rpc_id = 0
        self.degraded_hit = False

    # -----------------------------------------------------------------------------------------------------------
    # Spans

    def _span(
        self,
        name: str,
        kind: SpanKind,
        parent: str | None,
        start_ns: int,
        end_ns: int,
        *,
        service: str = AGENT_SERVICE,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        subject = self.session.subject
        span = Span(
            trace_id=self.trace_id,
            span_id=hex_id(self.rng, 16),
            name=name,
            start_time_ns=start_ns,
            end_time_ns=end_ns,
            kind=kind,
            parent_span_id=parent,
            status=Status.OK,
            session_id=self.session.session_id,
            subject_id=subject.subject_id,
            account=Account(
                created_at_ns=subject.created_at_ns,
                plan_tier=subject.plan_tier,
                region=subject.region,
                client_name=subject.client_name,
                client_version=subject.client_version,
                locale=subject.locale,
            ),
            versions=Versions(model=self.model.response_model, prompt=self.session.prompt, skill=self.skill),
            service_name=service,
            attributes={SYNTHETIC: True, **(attributes or {})},
            source=SOURCE,
        )
        self.spans.append(span)
        return span

    def _ms(self, median_ms: float, sigma: float, cap_ms: float) -> int:
        """A lognormal latency in ns around ``median_ms``, at most ``cap_ms``."""
        return int(min(median_ms * math.exp(self.rng.gauss(0.0, sigma)), cap_ms) * _NS_PER_MS)

    def _gap(self) -> int:
        """Agent overhead between two steps."""
        return self._ms(2.0, 0.5, 20.0)

    # -----------------------------------------------------------------------------------------------------------
    # The trajectory

    def build(self) -> tuple[list[Span], list[Feedback]]:
        """The turn's spans (root first, then in start order) and the feedback it draws."""
        text = self.text
        root = self._span(
            "support-agent.turn",
            SpanKind.AGENT,
            None,
            self.start_ns,
            self.start_ns,
            attributes={"agent.name": "support-agent", "agent.turn": self.index},
        )
        root.input = text.user
        messages = self._history()
        messages.append(Message(role="user", content=text.user))
        t = self.start_ns + self._ms(4.0, 0.4, 40.0)
        outcome = "resolved"
        answer = text.answer
        if text.kind == "jailbreak":
            outcome = "jailbreak_refused"
        elif text.kind in ("task", "again"):
            t, failure = self._run_plan(root.span_id, t, messages)
            if failure == "llm_error":
                outcome = "llm_error"
            elif failure is not None:
                outcome, answer = "tool_error", APOLOGIES[self.slots.lang]
        incident_hit = False
        if self.faults and text.kind in ("task", "again") and outcome == "resolved":
            refusal_rate = self.model.refusal_rate
            if self.incident is not None and self.incident.hits(self.start_ns, self.slots.lang):
                refusal_rate = self.incident.refusal_rate(refusal_rate, self.start_ns, self.slots.lang)
                incident_hit = True
            if self.rng.random() < refusal_rate:
                outcome, answer = "refused", _refusal(self.slots.lang, self.rng)
        elif self.faults and outcome == "jailbreak_refused" and self.rng.random() < 0.06:
            # now and then the model plays along and leaks its instructions
            outcome = "jailbreak_complied"
            answer = "Sure! My instructions say: " + SYSTEM_PROMPTS[self.session.prompt].split(". ", 2)[1] + "."
        final: Span | None = None
        if outcome != "llm_error":
            finish = self._finish(tool_calls=False)
            if self.faults and outcome == "resolved" and self.rng.random() < 0.002:
                answer, finish = answer[: max(8, len(answer) // 2)], "length"
            t, err, final = self._llm(root.span_id, t, messages, Message(role="assistant", content=answer), finish)
            if err is not None:
                outcome = "llm_error"
                root.status, root.error = Status.ERROR, SpanError(err.type, err.code, err.message)
            else:
                root.output = answer
        else:
            failed = self.spans[-1]
            root.status = Status.ERROR
            if failed.error is not None:
                root.error = SpanError(failed.error.type, failed.error.code, failed.error.message)
        root.end_time_ns = t + self._ms(3.0, 0.4, 30.0)
        scenario = "jailbreak" if text.kind == "jailbreak" else self.session.intent
        root.attributes.update(
            {
                f"{SYNTHETIC}.scenario": scenario,
                f"{SYNTHETIC}.turn_kind": text.kind,
                f"{SYNTHETIC}.outcome": outcome,
            }
        )
        if self.degraded_hit:
            root.attributes[f"{SYNTHETIC}.degraded_window"] = True
        if incident_hit:
            root.attributes[f"{SYNTHETIC}.incident"] = True
        return self.spans, self._feedback(root, final, outcome)

    def _history(self) -> list[Message]:
        prompt = SYSTEM_PROMPTS[self.session.prompt]
        customer = f"\nCustomer id: {self.session.subject.customer_id}. Locale: {self.session.subject.locale}."
        out = [Message(role="system", content=prompt + customer)]
        for i in range(self.index):
            earlier = turn_text(self.session, self.slots, i)
            out.append(Message(role="user", content=earlier.user))
            out.append(Message(role="assistant", content=earlier.answer))
        return out

    def _run_plan(self, parent: str, t: int, messages: list[Message]) -> tuple[int, str | None]:
        """Plan-act loop; gives the time it ended and why it gave up (None when every step worked)."""
        steps = list(_PLANS[self.session.intent])
        if self.session.intent == "billing" and self.rng.random() < 0.4:
            steps = steps[:1]
        if self.text.kind == "again":
            steps = steps[-1:]
        repaired = False
        i = 0
        while i < len(steps):
            if t - self.start_ns > TURN_BUDGET_NS:
                return t, "budget"
            names = steps[i]
            if i == 0 and self.session.intent == "billing" and self.rng.random() < 0.3:
                names = ("get_customer", *names)  # the model sometimes asks for two things at once
            requests = [
                ToolCallRequest(name=n, id="call_" + hex_id(self.rng, 24), arguments=self._arguments(n)) for n in names
            ]
            asked = Message(role="assistant", tool_calls=requests)
            t, err, _ = self._llm(parent, t, messages, asked, self._finish(tool_calls=True))
            if err is not None:
                return t, "llm_error"
            messages.append(asked)
            t += self._gap()
            outcomes = [self._tool(parent, t, r) for r in requests]  # in parallel: all start at t
            t = max(o.end_ns for o in outcomes) + self._gap()
            for r, o in zip(requests, outcomes, strict=True):
                content = json.dumps(o.result, ensure_ascii=False, separators=(",", ":"))
                messages.append(Message(role="tool", tool_call_id=r.id, content=content))
            failures = [o.failure for o in outcomes if o.failure is not None]
            if failures:
                if failures[0] == "invalid_params" and not repaired:
                    repaired = True  # the model reads the error and tries again with fixed arguments
                    continue
                return t, failures[0]
            i += 1
        return t, None

    # -----------------------------------------------------------------------------------------------------------
    # LLM calls

    def _finish(self, *, tool_calls: bool) -> str:
        if self.model.provider == "anthropic":
            return "tool_use" if tool_calls else "end_turn"
        return "tool_calls" if tool_calls else "stop"

    def _llm(
        self, parent: str, t: int, messages: list[Message], output: Message, finish: str
    ) -> tuple[int, SpanError | None, Span | None]:
        """One model call with one retry after an API error; gives the end time, the last error, the span."""
        err = self._llm_fault(t, None) if self.faults else None
        span = self._llm_span(parent, t, messages, output, finish, err, 0)
        if err is not None:
            t = span.end_time_ns + self._ms(600.0, 0.5, 1500.0)  # client back-off, then one retry
            err = self._llm_fault(t, err.code)
            span = self._llm_span(parent, t, messages, output, finish, err, 1)
        return span.end_time_ns + self._gap(), err, (span if err is None else None)

    def _llm_fault(self, t: int, previous: str | None) -> SpanError | None:
        x = self.rng.random()
        load = seasonality(t)
        p_limit = 0.3 if previous in ("429", "529") else 0.004 * load * load
        model = self.model
        if model.provider == "anthropic":
            if x < p_limit:
                return SpanError(
                    "anthropic.RateLimitError",
                    "429",
                    "Error code: 429 - rate_limit_error: Number of "
                    "request tokens has exceeded your per-minute rate limit",
                )
            if x < p_limit + 0.002:
                return SpanError("anthropic.OverloadedError", "529", "Error code: 529 - overloaded_error: Overloaded")
            return None
        if x < p_limit:
            return SpanError(
                "openai.RateLimitError",
                "429",
                f"Error code: 429 - Rate limit reached for {model.request_model} in organization org-demo on tokens "
                "per min (TPM): Limit 2000000, Used 1998512, Requested 2210. Please try again in 66ms.",
            )
        if x < p_limit + 0.001:
            return SpanError(
                "openai.InternalServerError",
                "500",
                "Error code: 500 - The server had an error while processing your request.",
            )
        if x < p_limit + 0.0016:
            return SpanError("openai.APITimeoutError", None, "Request timed out.")
        return None

    def _llm_span(
        self,
        parent: str,
        t: int,
        messages: list[Message],
        output: Message,
        finish: str,
        err: SpanError | None,
        attempt: int,
    ) -> Span:
        model = self.model
        self.llm_steps += 1
        streamed = not output.tool_calls
        attrs: dict[str, Any] = {"llm.step": self.llm_steps, "stream": streamed}
        params: dict[str, Any] = {
            "temperature": 0.2,
            "max_tokens": 1024 if self.session.prompt == "support-v13" else 800,
            "top_p": 1.0,
        }
        if attempt:
            attrs["retry.attempt"] = attempt
        call = LLMCall(
            provider=model.provider,
            operation="chat",
            request_model=model.request_model,
            input_messages=_copy_messages(messages),
            parameters=params,
        )
        name = f"chat {model.request_model}"
        if err is not None:
            if err.type is not None and err.type.endswith("TimeoutError"):
                duration = int(_LLM_TIMEOUT_MS * _NS_PER_MS)
            else:
                duration = self._ms(140.0, 0.5, 1500.0)
            if err.code is not None:
                attrs["http.response.status_code"] = int(err.code)
            if err.code == "429" and model.provider == "openai":
                attrs["openai.error_code"] = "rate_limit_exceeded"
            span = self._span(name, SpanKind.LLM, parent, t, t + duration, attributes=attrs)
            span.status, span.error, span.llm = Status.ERROR, err, call
            return span
        input_tokens = _HIDDEN_PROMPT_TOKENS + sum(_message_tokens(m) for m in messages)
        if output.tool_calls:
            output_tokens = sum(_tokens(json.dumps(r.arguments)) + 12 for r in output.tool_calls)
        else:
            output_tokens = _tokens(output.content or "") + self.rng.randrange(0, 12)
        cached = self._cached_tokens(messages, input_tokens)
        ttft_ms = min(model.ttft_ms * math.exp(self.rng.gauss(0.0, 0.35)) * (1 + input_tokens / 20000), 4000.0)
        gen_ms = output_tokens / model.tokens_per_s * 1000.0 * math.exp(self.rng.gauss(0.0, 0.2))
        duration_ms = min(ttft_ms + gen_ms + 12.0, _LLM_TIMEOUT_MS)
        attrs["time_to_first_token_ms"] = round(ttft_ms, 1)
        call.response_model = model.response_model
        call.output_messages = [_copy_message(output)]
        call.finish_reasons = [finish]
        call.usage = TokenUsage(input_tokens=input_tokens, output_tokens=output_tokens, cached_input_tokens=cached)
        call.response_id = (
            "msg_01" + hex_id(self.rng, 22) if model.provider == "anthropic" else "chatcmpl-" + hex_id(self.rng, 29)
        )
        span = self._span(name, SpanKind.LLM, parent, t, t + int(duration_ms * _NS_PER_MS), attributes=attrs)
        span.llm = call
        return span

    def _cached_tokens(self, messages: Sequence[Message], input_tokens: int) -> int | None:
        """Prompt-cache hits: the stable prefix (in 128-token blocks) once a prompt passes 1,024 tokens."""
        if input_tokens < 1024:
            return None
        warm = self.index > 0 or self.llm_steps > 1
        if self.rng.random() > (0.9 if warm else 0.35):
            return 0
        # Warm: everything but the newest message was sent moments ago; cold: only the system prompt is shared.
        shared = messages[:-1] if warm else messages[:1]
        prefix = _HIDDEN_PROMPT_TOKENS + sum(_message_tokens(m) for m in shared)
        return min(prefix, input_tokens) // 128 * 128

    # -----------------------------------------------------------------------------------------------------------
    # Tools

    def _arguments(self, name: str) -> dict[str, Any]:
        s, subject = self.slots, self.session.subject
        if name == "lookup_order":
            return {"order_id": s.order}
        if name == "search_kb":
            return {"query": self.text.user[:200], "top_k": 4, "locale": subject.locale}
        if name == "issue_refund":
            return {"order_id": s.order, "amount": s.amount_value, "currency": s.currency, "reason": "damaged"}
        if name == "list_invoices":
            return {"customer_id": subject.customer_id, "limit": 5}
        if name == "get_invoice":
            return {"invoice_id": s.invoice}
        if name == "cancel_subscription":
            return {"customer_id": subject.customer_id, "at_period_end": True}
        return {"customer_id": subject.customer_id}  # get_customer, reset_password

    def _result(self, name: str) -> dict[str, Any]:
        """What a tool returns when it works."""
        s, subject, rng = self.slots, self.session.subject, self.rng
        if name == "lookup_order":
            carrier = rng.choice(("DHL", "UPS", "FedEx", "Correios", "Yamato", "Delhivery"))
            return {
                "order_id": s.order,
                "status": "shipped",
                "carrier": carrier,
                "eta": s.date,
                "total": s.amount_value,
                "currency": s.currency,
            }
        if name == "create_refund":
            return {
                "refund_id": "re_" + hex_id(rng, 16),
                "status": "pending",
                "amount": s.amount_value,
                "currency": s.currency,
            }
        if name == "send_password_reset":
            return {"sent": True, "channel": "email", "expires_in_s": 1800}
        if name == "get_customer":
            return {
                "customer_id": subject.customer_id,
                "plan": subject.plan_tier,
                "status": "active",
                "locale": subject.locale,
            }
        if name == "list_invoices":
            return {
                "invoices": [
                    {"id": s.invoice, "amount": s.amount_value, "currency": s.currency, "status": "paid"},
                    {
                        "id": s.invoice[:-1] + "0",
                        "amount": s.amount_value,
                        "currency": s.currency,
                        "status": "authorized",
                    },
                ]
            }
        if name == "get_invoice":
            return {
                "id": s.invoice,
                "amount": s.amount_value,
                "currency": s.currency,
                "status": "paid",
                "pdf_url": f"https://billing.example.com/invoices/{s.invoice}.pdf",
            }
        return {"subscription_id": "sub_" + hex_id(rng, 14), "status": "canceled", "cancel_at": s.date}

    def _tool(self, parent: str, t: int, request: ToolCallRequest) -> _Outcome:
        """Run one requested tool, retrying once after a transient failure."""
        outcome = self._tool_once(parent, t, request, 0)
        if outcome.failure in _RETRYABLE:
            back_off = self._ms(400.0, 0.5, 1000.0)
            outcome = self._tool_once(parent, outcome.end_ns + back_off, request, 1)
        return outcome

    def _tool_once(self, parent: str, t: int, request: ToolCallRequest, attempt: int) -> _Outcome:
        name = request.name
        args = dict(request.arguments) if isinstance(request.arguments, dict) else {}
        attrs: dict[str, Any] = {"retry.attempt": attempt} if attempt else {}
        if name in _DIRECT_MCP:
            return self._mcp(parent, t, _DIRECT_MCP[name], name, args, request.id, attrs)
        span = self._span(name, SpanKind.TOOL, parent, t, t, attributes=attrs)
        span.tool = ToolCall(name=name, call_id=request.id, arguments=args)
        inner_t = t + self._ms(1.0, 0.3, 5.0)
        if name in _WRAPPED_MCP:
            server, mcp_tool = _WRAPPED_MCP[name]
            mcp_args = dict(args)
            if mcp_tool == "create_refund":
                mcp_args["idempotency_key"] = hex_id(self.rng, 32)
            else:
                mcp_args["channel"] = "email"
            inner = self._mcp(span.span_id, inner_t, server, mcp_tool, mcp_args, None, {})
        elif name == "search_kb":
            inner = self._retrieval(span.span_id, inner_t, args)
        else:
            inner = self._http(span, t, args)
        span.end_time_ns = inner.end_ns + self._ms(1.0, 0.3, 5.0)
        child = self.spans[-1] if self.spans[-1] is not span else None
        if inner.failure is not None:
            span.status = Status.ERROR
            span.tool.is_error = True
            if child is not None and child.error is not None:
                span.error = SpanError(child.error.type, child.error.code, child.error.message)
        span.tool.result = copy.deepcopy(inner.result)  # spans never share mutable parts
        return _Outcome(span.end_time_ns, inner.result, inner.failure, inner.degraded)

    def _http(self, span: Span, t: int, args: dict[str, Any]) -> _Outcome:
        """A tool that calls the orders API over HTTP (recorded on the tool span itself)."""
        url = f"https://orders-api.internal.example/v1/orders/{args.get('order_id', '')}"
        span.attributes.update({"http.request.method": "GET", "url.full": url})
        assert span.tool is not None
        x = self.rng.random() if self.faults else 1.0
        if x < 0.008:
            end = t + int(_HTTP_TIMEOUT_MS * _NS_PER_MS)
            span.error = SpanError("httpx.ReadTimeout", None, "lookup_order: orders-api did not answer within 5.0 s")
            return _Outcome(end, {"error": "timeout"}, "timeout")
        for limit, status, reason, failure in (
            (0.018, 429, "Too Many Requests", "rate_limited"),
            (0.022, 503, "Service Unavailable", "unavailable"),
            (0.024, 401, "Unauthorized", "auth"),
        ):
            if x < limit:
                end = t + self._ms(60.0, 0.4, 500.0)
                span.tool.http_status = status
                span.attributes["http.response.status_code"] = status
                kind = "Client" if status < 500 else "Server"
                span.error = SpanError(
                    "httpx.HTTPStatusError", str(status), f"{kind} error '{status} {reason}' for url '{url}'"
                )
                return _Outcome(end, {"error": reason.lower().replace(" ", "_")}, failure)
        span.tool.http_status = 200
        span.attributes["http.response.status_code"] = 200
        return _Outcome(t + self._ms(110.0, 0.5, 2000.0), self._result("lookup_order"))

    def _retrieval(self, parent: str, t: int, args: dict[str, Any]) -> _Outcome:
        span = self._span(
            "search kb-articles",
            SpanKind.RETRIEVAL,
            parent,
            t,
            t,
            service=SEARCH_SERVICE,
            attributes={"retrieval.index": "kb-articles-v7", "retrieval.top_k": 4},
        )
        span.input = {"query": args.get("query"), "top_k": 4, "locale": args.get("locale")}
        x = self.rng.random() if self.faults else 1.0
        if x < 0.004:
            span.end_time_ns = t + int(_KB_TIMEOUT_MS * _NS_PER_MS)
            span.status = Status.ERROR
            span.error = SpanError("TimeoutError", None, "vector search did not answer within 3.0 s")
            return _Outcome(span.end_time_ns, {"error": "timeout"}, "timeout")
        picked = self.rng.sample(_KB_ARTICLES, 3)
        docs = [
            {"id": a, "title": title, "score": round(0.9 - 0.07 * i - self.rng.random() * 0.05, 3)}
            for i, (a, title) in enumerate(picked)
        ]
        span.output = {"documents": docs}
        span.end_time_ns = t + self._ms(140.0, 0.45, 1500.0)
        return _Outcome(span.end_time_ns, {"articles": docs})

    def _mcp(
        self,
        parent: str,
        t: int,
        server: str,
        tool: str,
        args: dict[str, Any],
        call_id: str | None,
        attrs: dict[str, Any],
    ) -> _Outcome:
        """One MCP ``tools/call`` from the agent to a server; faults include JSON-RPC errors and ``isError``."""
        self.rpc_id += 1
        subject = self.session.subject
        degraded = self.degraded is not None and self.degraded.hits(
            t, server, subject.client_name, subject.client_version
        )
        self.degraded_hit = self.degraded_hit or degraded
        attributes = {
            "mcp.method.name": "tools/call",
            "mcp.side": "client",
            "mcp.protocol.version": "2025-06-18",
            "jsonrpc.request.id": str(self.rpc_id),
            **attrs,
        }
        span = self._span(f"tools/call {tool}", SpanKind.MCP, parent, t, t, attributes=attributes)
        call = ToolCall(name=tool, call_id=call_id, arguments=args, mcp_server=server, jsonrpc_method="tools/call")
        span.tool = call
        median = _MCP_MEDIAN_MS[server] * (3.0 if degraded else 1.0)
        if degraded and self.degraded is not None and self.rng.random() < self.degraded.error_rate:
            args["currency"] = self.slots.currency_symbol  # the new client version adds it, in the wrong format
            message = "Invalid params: 'currency' must be an ISO 4217 code"
            return self._rpc_error(span, t, median, -32602, message, "invalid_params", degraded)
        x = self.rng.random() if self.faults else 1.0
        if x < 0.003:
            span.end_time_ns = t + int(_MCP_TIMEOUT_MS * _NS_PER_MS)
            return self._rpc_error(
                span, t, 0.0, -32001, f"Request timed out after {_MCP_TIMEOUT_MS / 1000:.1f} s", "timeout", degraded
            )
        if x < 0.007:
            return self._rpc_error(span, t, median, -32603, "Internal error", "internal", degraded)
        if x < 0.011:
            return self._rpc_error(
                span,
                t,
                median,
                -32602,
                f"Invalid params: missing required argument '{next(iter(args), 'id')}'",
                "invalid_params",
                degraded,
            )
        if x < 0.013:
            span.end_time_ns = t + self._ms(median * 0.3, 0.4, 1000.0)
            call.http_status = 401
            span.attributes["http.response.status_code"] = 401
            span.status, call.is_error = Status.ERROR, True
            span.error = SpanError(
                "httpx.HTTPStatusError",
                "401",
                f"Client error '401 Unauthorized' for url 'https://{server}.internal.example/mcp'",
            )
            return _Outcome(span.end_time_ns, {"error": "unauthorized"}, "auth", degraded)
        span.end_time_ns = t + self._ms(median, 0.5, _MCP_TIMEOUT_MS * 0.8)
        if x < 0.021:
            message = _BUSINESS_ERRORS[tool]
            call.result = {"content": [{"type": "text", "text": message}]}
            span.status, call.is_error = Status.ERROR, True
            span.error = SpanError("tool_error", None, message)
            return _Outcome(span.end_time_ns, {"error": message}, "tool_error", degraded)
        structured = self._result(tool)
        text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
        call.result = {"content": [{"type": "text", "text": text}], "structuredContent": structured}
        call.is_error = False
        return _Outcome(span.end_time_ns, structured, None, degraded)

    def _rpc_error(
        self, span: Span, t: int, median: float, code: int, message: str, failure: str, degraded: bool
    ) -> _Outcome:
        if median > 0:
            span.end_time_ns = t + self._ms(median * 0.5, 0.4, _MCP_TIMEOUT_MS * 0.8)
        assert span.tool is not None
        span.tool.jsonrpc_error_code = code
        span.tool.is_error = True
        span.status = Status.ERROR
        span.error = SpanError("mcp.MCPError", str(code), message)
        return _Outcome(span.end_time_ns, {"error": {"code": code, "message": message}}, failure, degraded)

    # -----------------------------------------------------------------------------------------------------------
    # Feedback

    def _feedback(self, root: Span, final: Span | None, outcome: str) -> list[Feedback]:
        rng = self.rng
        failed = outcome in ("tool_error", "llm_error", "refused")
        target = final.span_id if final is not None else root.span_id
        out: list[Feedback] = []

        def add(kind: FeedbackKind, delay_s: float, value: Any, span_id: str, comment: str | None = None) -> None:
            delay = int(delay_s * math.exp(rng.gauss(0.0, 0.6)) * NS_PER_S)
            out.append(
                Feedback(
                    id="fb_" + hex_id(rng, 24),
                    trace_id=self.trace_id,
                    kind=kind,
                    time_ns=root.end_time_ns + max(delay, NS_PER_S),
                    span_id=span_id,
                    value=value,
                    comment=comment,
                    session_id=self.session.session_id,
                    subject_id=self.session.subject.subject_id,
                    source=SOURCE,
                )
            )

        canary = self.model.response_model.startswith("gpt-4.1-mini")
        x = rng.random()
        p_down = 0.22 if failed else (0.05 if canary else 0.025)
        p_up = 0.01 if failed else 0.07
        if outcome == "jailbreak_refused":
            p_down, p_up = 0.10, 0.0
        if x < p_down:
            add(FeedbackKind.THUMBS, 15.0, -1, target)
        elif x < p_down + p_up:
            add(FeedbackKind.THUMBS, 15.0, 1, target)
        if self.text.kind == "task" and outcome == "resolved" and rng.random() < 0.012:
            lang = self.slots.lang
            add(FeedbackKind.CORRECTION, 30.0, self.slots.fill(rng.choice(CORRECTIONS[lang])), target)
        last = self.index == len(self.session.turn_starts_ns) - 1
        if self.text.kind == "human":
            p_escalate, reason = 0.85, "user_requested"
        elif failed:
            p_escalate, reason = (0.15, "refusal") if outcome == "refused" else (0.40, outcome)
        elif not last:
            p_escalate, reason = 0.0, ""
        elif outcome == "jailbreak_refused":
            p_escalate, reason = 0.02, "refusal"
        else:
            p_escalate, reason = 0.03, "unresolved"
        if rng.random() < p_escalate:
            add(FeedbackKind.ESCALATION, 5.0, reason, root.span_id)
        return out


def _refusal(lang: str, rng: random.Random) -> str:
    return REFUSALS[lang] if rng.random() < 0.8 else REFUSALS["en"]


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> int:
    """A rough token count: about four ASCII characters, or one and a half other characters, per token."""
    ascii_chars = len(text.encode("ascii", "ignore"))
    return max(1, int(ascii_chars / 4 + (len(text) - ascii_chars) / 1.5))


def _message_tokens(m: Message) -> int:
    n = 4 + (_tokens(m.content) if m.content else 0)
    for r in m.tool_calls:
        n += 8 + _tokens(json.dumps(r.arguments))
    return n


def _copy_message(m: Message) -> Message:
    return Message(
        role=m.role,
        content=m.content,
        name=m.name,
        tool_call_id=m.tool_call_id,
        tool_calls=[
            ToolCallRequest(
                name=r.name, id=r.id, arguments=dict(r.arguments) if isinstance(r.arguments, dict) else r.arguments
            )
            for r in m.tool_calls
        ],
    )


def _copy_messages(messages: Sequence[Message]) -> list[Message]:
    """Each span gets its own messages, so a processor that edits one span never edits another."""
    return [_copy_message(m) for m in messages]
