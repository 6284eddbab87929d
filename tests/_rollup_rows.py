"""Synthetic span rows written straight into the rollups (no spans stored): traffic for detector and alert tests
without ingesting months of records."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Engine

from watchkeeper._rollup import DAY_NS, Facts, RollupConfig, facts_of_row
from watchkeeper.store._rollups import Tally, ValueCap

MIN_NS = 60 * 10**9
SLOT_NS = 5 * MIN_NS


def span_row(
    start_ns: int,
    i: int,
    *,
    language: str = "en",
    refused: bool = False,
    duration_ns: int = 10**9,
    output_tokens: int = 50,
    model: str = "gpt-4o",
) -> dict[str, Any]:
    """A stored LLM span row as the rollups read it (only the columns they count)."""
    label = "full_refusal" if refused else "full_compliance"
    return {
        "project_id": 1, "trace_id": i.to_bytes(16, "big"), "parent_span_id": None, "kind": "llm", "status": "ok",
        "start_ns": start_ns, "end_ns": start_ns + duration_ns, "region": "eu-west", "plan_tier": "pro",
        "client_name": "web", "client_version": "4.2.0", "locale": "fr-FR", "response_model": model,
        "request_model": None, "model_version": "m1", "prompt_version": "p1", "skill_version": None,
        "service_name": "support", "tool_name": None, "mcp_server": None, "provider": "openai",
        "account_created_ns": None, "input_tokens": 100, "output_tokens": output_tokens,
        "attributes": orjson.dumps({"watchkeeper.signals": {"language": {"label": language},
                                                            "refusal": {"label": label}}}).decode(),
    }  # fmt: skip


def write_slots(
    engine: Engine, start_ns: int, end_ns: int, slot: Callable[[int, Callable[..., Facts]], list[Facts]]
) -> None:
    """Rollups of every 5-minute slot in [start, end): ``slot(t, fact)`` gives the slot's facts, ``fact(**row)``
    making one from :func:`span_row`'s keywords (start a minute into the slot). 1-minute buckets for the last week."""
    cap, cfg = ValueCap(), RollupConfig()
    counter = [0]

    def fact(t: int, **kw: Any) -> Facts:
        counter[0] += 1
        return facts_of_row(span_row(t + MIN_NS, counter[0], **kw))

    t = start_ns
    while t < end_ns:
        facts = slot(t, partial(fact, t))
        with engine.begin() as conn:
            tally = Tally(conn, cfg, cap, widths=(60, 3600) if t >= end_ns - 7 * DAY_NS else (3600,))
            tally.add_facts(facts)
            tally.apply()
        t += SLOT_NS
