"""The ingest benchmark's workload: LLM spans of ~2 KB on the wire as OTLP/HTTP protobuf.

Each LLM span carries ~20 attributes (GenAI semantic conventions plus cohort context), a 500-character input and a
300-character output; one in three has a tool child span. Text is drawn from a fixed word list with a seeded RNG,
so it compresses about as well as real chat text (neither random bytes nor one repeated word).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

_VOCABULARY = (
    "the order account refund please could you help me with my delivery status package address payment "
    "card billing invoice subscription plan upgrade cancel support ticket agent customer service thank "
    "you for waiting I have checked your request and found that the item was shipped yesterday it should "
    "arrive within three business days if anything goes wrong let us know we can issue a replacement or "
    "credit note password reset email verification code expired try again later network error timeout "
    "retry product warranty return label store pickup tracking number carrier update notification "
    "settings language region currency discount coupon price total tax receipt download history profile "
    "security two factor login device session"
)
WORDS = _VOCABULARY.split()


SYSTEM = (
    "You are the support assistant of an online store. Answer briefly and politely, use the tools to look up "
    "orders, never invent order data, and hand over to a human when the customer asks for one."
)


def _text(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    n = 0
    while n < chars:
        w = rng.choice(WORDS)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:chars]


def _kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def build_request(rng: random.Random, n_llm: int, start_ns: int) -> tuple[bytes, int]:
    """One export request with ``n_llm`` LLM spans (plus tool children for one in three); returns (bytes, spans)."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([_kv("service.name", "bench-agent"), _kv("service.version", "1.4.2")])
    ss = rs.scope_spans.add()
    ss.scope.name = "bench"
    count = 0
    for i in range(n_llm):
        trace_id = rng.getrandbits(128).to_bytes(16, "big")
        span_id = rng.getrandbits(64).to_bytes(8, "big")
        t0 = start_ns + i * 1_000_000
        dur = int(rng.lognormvariate(20.5, 0.6))
        user = _text(rng, 500)
        answer = _text(rng, 300)
        s = Span(
            trace_id=trace_id,
            span_id=span_id,
            name="chat gpt-4o",
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=t0,
            end_time_unix_nano=t0 + dur,
            status=Status(code=Status.STATUS_CODE_OK),
        )
        s.attributes.extend(
            [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.provider.name", "openai"),
                _kv("gen_ai.request.model", "gpt-4o"),
                _kv("gen_ai.response.model", "gpt-4o-2024-08-06"),
                _kv("gen_ai.request.temperature", 0.2),
                _kv("gen_ai.request.max_tokens", 512),
                _kv("gen_ai.usage.input_tokens", 120 + rng.randrange(400)),
                _kv("gen_ai.usage.output_tokens", 60 + rng.randrange(200)),
                _kv("gen_ai.usage.cache_read.input_tokens", rng.choice([0, 0, 64, 128])),
                _kv("gen_ai.response.finish_reasons", "stop"),
                _kv("gen_ai.response.id", f"chatcmpl-{rng.getrandbits(48):012x}"),
                _kv("gen_ai.conversation.id", f"sess-{rng.randrange(5000)}"),
                _kv("user.id", f"subj_{rng.getrandbits(32):08x}"),
                _kv("watchkeeper.account.plan_tier", rng.choice(["free", "pro", "enterprise"])),
                _kv("watchkeeper.account.region", rng.choice(["us-east", "eu-west", "ap-south"])),
                _kv("watchkeeper.client.name", rng.choice(["web", "ios", "android"])),
                _kv("watchkeeper.client.version", rng.choice(["4.12.0", "4.13.0"])),
                _kv("watchkeeper.version.prompt", "support-v13"),
                _kv("gen_ai.system_instructions", json.dumps([{"type": "text", "content": SYSTEM}])),
                _kv(
                    "gen_ai.input.messages",
                    json.dumps([{"role": "user", "parts": [{"type": "text", "content": user}]}]),
                ),
                _kv(
                    "gen_ai.output.messages",
                    json.dumps(
                        [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
                    ),
                ),
            ]
        )
        ss.spans.append(s)
        count += 1
        if i % 3 == 0:
            c = Span(
                trace_id=trace_id,
                span_id=rng.getrandbits(64).to_bytes(8, "big"),
                parent_span_id=span_id,
                name="execute_tool lookup_order",
                kind=Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=t0 + 1000,
                end_time_unix_nano=t0 + dur // 2,
            )
            c.attributes.extend(
                [
                    _kv("gen_ai.operation.name", "execute_tool"),
                    _kv("gen_ai.tool.name", "lookup_order"),
                    _kv("gen_ai.tool.call.id", f"call_{rng.getrandbits(40):010x}"),
                    _kv("gen_ai.tool.call.arguments", json.dumps({"order_id": f"A-{rng.randrange(10**6)}"})),
                    _kv("gen_ai.tool.call.result", json.dumps({"status": "shipped", "eta_days": rng.randrange(5)})),
                ]
            )
            ss.spans.append(c)
            count += 1
    return req.SerializeToString(), count


def requests(total_spans: int, batch: int = 512, seed: int = 0) -> Iterator[tuple[bytes, int]]:
    """Requests of ``batch`` spans each (LLM spans and their tool children) until ``total_spans`` are made."""
    rng = random.Random(seed)
    made = 0
    start = time.time_ns() - 3_600 * 10**9
    n_llm = max(1, round(batch * 3 / 4))  # 1 in 3 LLM spans has a child: 4 spans per 3 LLM spans
    while made < total_spans:
        body, n = build_request(rng, n_llm, start + made * 1_000_000)
        made += n
        yield body, n
