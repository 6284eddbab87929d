"""The demo simulator: deterministic, well-formed, clearly synthetic traffic with realistic cohorts and faults."""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

from watchkeeper import demo, records
from watchkeeper.demo import DegradedWindow, LiveStats, Simulator, TrafficMix, backfill, run_live
from watchkeeper.records import Feedback, FeedbackKind, Span, SpanKind, Status

S = 1_000_000_000
MIN = 60 * S
HOUR = 3600 * S
DAY = 24 * HOUR
# Wednesday 2025-06-18 00:00 UTC: the default degraded window is open 03:20-04:00 (and every 6 hours after).
WEDNESDAY = 1_750_204_800 * S
WINDOW_START = WEDNESDAY + 3 * HOUR + 20 * MIN
WINDOW_END = WINDOW_START + 40 * MIN

Trace = tuple[list[Span], list[Feedback]]


@pytest.fixture(scope="module")
def sample() -> list[Trace]:
    """80 minutes around a degraded window, at a high rate: about 9,000 traces."""
    sim = Simulator(seed=3, base_rate_per_min=200)
    return list(sim.traces_between(WINDOW_START - 20 * MIN, WINDOW_END + 20 * MIN))


def all_spans(traces: list[Trace]) -> Iterator[Span]:
    for spans, _ in traces:
        yield from spans


def roots(traces: list[Trace]) -> list[Span]:
    return [spans[0] for spans, _ in traces]


def dump(traces: list[Trace]) -> list[tuple[list[dict[str, object]], list[dict[str, object]]]]:
    return [
        ([records.span_to_dict(s) for s in spans], [records.feedback_to_dict(f) for f in fb]) for spans, fb in traces
    ]


def share(values: list[str], key: str) -> float:
    return sum(1 for v in values if v == key) / len(values)


# ---------------------------------------------------------------------------------------------------------------
# Determinism


def test_the_same_seed_and_range_give_identical_records_ids_included() -> None:
    start = WEDNESDAY + 14 * HOUR
    a = dump(list(Simulator(seed=11).traces_between(start, start + 10 * MIN)))
    b = dump(list(Simulator(seed=11).traces_between(start, start + 10 * MIN)))
    assert len(a) > 100
    assert a == b


def test_another_seed_gives_other_traffic() -> None:
    start = WEDNESDAY + 14 * HOUR
    a = {s[0]["trace_id"] for s, _ in dump(list(Simulator(seed=1).traces_between(start, start + 5 * MIN)))}
    b = {s[0]["trace_id"] for s, _ in dump(list(Simulator(seed=2).traces_between(start, start + 5 * MIN)))}
    assert a and b and not a & b


def test_adjacent_ranges_join_up_with_no_gap_and_no_duplicate() -> None:
    start = WEDNESDAY + 9 * HOUR + 17 * S
    sim = Simulator(seed=5)
    whole = dump(list(sim.traces_between(start, start + 30 * MIN)))
    cuts = [start, start + 7 * MIN + 333, start + 7 * MIN + 40 * S, start + 21 * MIN, start + 30 * MIN]
    pieces = []
    for a, b in itertools.pairwise(cuts):
        pieces.extend(dump(list(Simulator(seed=5).traces_between(a, b))))
    assert pieces == whole


def test_traces_come_in_start_order_and_inside_the_range(sample: list[Trace]) -> None:
    starts = [r.start_time_ns for r in roots(sample)]
    assert starts == sorted(starts)
    assert starts[0] >= WINDOW_START - 20 * MIN and starts[-1] < WINDOW_END + 20 * MIN
    assert len({r.trace_id for r in roots(sample)}) == len(sample)


# ---------------------------------------------------------------------------------------------------------------
# Well-formed records


def test_every_span_and_feedback_round_trips_through_its_json_form_unchanged(sample: list[Trace]) -> None:
    for spans, feedback in sample[:3000]:
        for s in spans:
            d = records.span_to_dict(s)
            assert records.span_from_dict(d) == s
            assert records.span_from_dict(json.loads(json.dumps(d))) == s
        for f in feedback:
            d = records.feedback_to_dict(f)
            assert records.feedback_from_dict(json.loads(json.dumps(d))) == f


def test_every_span_is_marked_synthetic_and_comes_from_a_demo_service(sample: list[Trace]) -> None:
    services: Counter[str] = Counter()
    for s in all_spans(sample):
        assert s.attributes["watchkeeper.synthetic"] is True
        assert s.source == "demo"
        assert s.service_name is not None and s.service_name.startswith("demo-")
        services[s.service_name] += 1
    assert set(services) == {"demo-support-agent", "demo-search-api"}
    for _spans, feedback in sample:
        assert all(f.source == "demo" for f in feedback)


def test_each_trace_is_one_agent_turn_whose_children_nest_inside_their_parents(sample: list[Trace]) -> None:
    for spans, _ in sample:
        root = spans[0]
        assert root.kind is SpanKind.AGENT and root.name == "support-agent.turn" and root.parent_span_id is None
        by_id = {s.span_id: s for s in spans}
        assert len(by_id) == len(spans)
        assert [s for s in spans if s.parent_span_id is None] == [root]
        for s in spans:
            assert s.trace_id == root.trace_id
            assert s.session_id == root.session_id and s.subject_id == root.subject_id
            assert s.account == root.account and s.versions == root.versions
            assert s.start_time_ns <= s.end_time_ns
            if s.parent_span_id is not None:
                parent = by_id[s.parent_span_id]
                assert parent.start_time_ns <= s.start_time_ns and s.end_time_ns <= parent.end_time_ns
        kids = sorted((s for s in spans if s.parent_span_id == root.span_id), key=lambda s: s.start_time_ns)
        llm_steps = [s for s in kids if s.kind is SpanKind.LLM]
        for a, b in itertools.pairwise(llm_steps):
            assert a.end_time_ns <= b.start_time_ns  # the model's steps run one after another


def test_the_turn_ends_with_an_llm_answer_unless_the_model_api_failed(sample: list[Trace]) -> None:
    for spans, _ in sample:
        root = spans[0]
        last = max((s for s in spans if s.kind is SpanKind.LLM), key=lambda s: s.start_time_ns)
        assert last.llm is not None
        if root.status is Status.ERROR:
            assert root.attributes["watchkeeper.synthetic.outcome"] == "llm_error"
            assert last.status is Status.ERROR and root.error is not None
        else:
            assert last.status is Status.OK and not last.llm.output_messages[0].tool_calls
            assert last.llm.output_messages[0].content == root.output


def test_llm_spans_carry_messages_tool_requests_usage_and_time_to_first_token(sample: list[Trace]) -> None:
    saw_tool_calls = saw_cached = saw_tool_results = 0
    providers: Counter[str] = Counter()
    for s in all_spans(sample):
        if s.kind is not SpanKind.LLM or s.status is not Status.OK:
            continue
        c = s.llm
        assert c is not None and c.provider is not None and c.request_model and c.response_model
        providers[c.provider] += 1
        assert c.input_messages[0].role == "system" and c.input_messages[-1].role in ("user", "tool")
        assert c.usage.input_tokens and c.usage.output_tokens and c.finish_reasons
        assert 0 < s.attributes["time_to_first_token_ms"] < s.duration_ms
        if c.output_messages[0].tool_calls:
            saw_tool_calls += 1
            assert c.finish_reasons[0] in ("tool_calls", "tool_use")
            assert all(r.id and isinstance(r.arguments, dict) for r in c.output_messages[0].tool_calls)
        saw_cached += bool(c.usage.cached_input_tokens)
        saw_tool_results += any(m.role == "tool" and m.tool_call_id for m in c.input_messages)
        assert s.versions.model == c.response_model
    assert saw_tool_calls and saw_cached and saw_tool_results
    assert set(providers) == {"openai", "anthropic"}


def test_tool_and_mcp_spans_carry_calls_and_results(sample: list[Trace]) -> None:
    tools: Counter[str] = Counter()
    servers: Counter[str] = Counter()
    for s in all_spans(sample):
        if s.kind is SpanKind.TOOL:
            assert s.tool is not None and s.tool.name and isinstance(s.tool.arguments, dict)
            tools[s.tool.name] += 1
        if s.kind is SpanKind.MCP:
            assert (
                s.tool is not None and s.tool.jsonrpc_method == "tools/call" and s.name == f"tools/call {s.tool.name}"
            )
            assert s.tool.mcp_server is not None
            servers[s.tool.mcp_server] += 1
            if s.status is Status.OK:
                assert s.tool.is_error is False and "structuredContent" in s.tool.result
    assert {"lookup_order", "search_kb", "issue_refund", "reset_password"} <= set(tools)
    assert set(servers) == {"crm-mcp", "billing-mcp"}
    assert any(s.kind is SpanKind.RETRIEVAL for s in all_spans(sample))


def test_sessions_span_several_turns_that_never_overlap(sample: list[Trace]) -> None:
    by_trace = {spans[0].trace_id: spans for spans, _ in sample}
    sessions: dict[str, list[Span]] = defaultdict(list)
    for r in roots(sample):
        assert r.session_id is not None and r.session_id.startswith("sess_")
        assert r.subject_id is not None and r.subject_id.startswith("subj_")
        sessions[r.session_id].append(r)
    multi = [turns for turns in sessions.values() if len(turns) > 1]
    assert len(multi) > len(sessions) // 5
    for turns in multi:
        assert len({t.subject_id for t in turns}) == 1
        for a, b in itertools.pairwise(turns):
            assert a.end_time_ns < b.start_time_ns
        if turns[0].attributes["agent.turn"] == 0:  # the session began inside the sample: check the history
            llm = next(s for s in by_trace[turns[-1].trace_id] if s.kind is SpanKind.LLM)
            assert llm.llm is not None
            assert next(m.content for m in llm.llm.input_messages if m.role == "user") == turns[0].input


# ---------------------------------------------------------------------------------------------------------------
# Cohorts


def test_cohort_shares_match_the_configured_mix(sample: list[Trace]) -> None:
    mix = TrafficMix()
    rs = roots(sample)
    new = [
        "new" if r.account.created_at_ns is not None and r.start_time_ns - r.account.created_at_ns < 7 * DAY else "old"
        for r in rs
    ]
    assert share(new, "new") == pytest.approx(mix.new_account_share, abs=0.035)
    for attr, shares in (("region", mix.regions), ("plan_tier", mix.plan_tiers), ("client_name", mix.clients)):
        values = [str(getattr(r.account, attr)) for r in rs]
        for key, want in shares.items():
            assert share(values, key) == pytest.approx(want, abs=0.04), (attr, key)
    models = [str(r.versions.model) for r in rs]
    assert share(models, "gpt-4.1-mini-2025-04-14") == pytest.approx(0.10, abs=0.04)
    prompts = [str(r.versions.prompt) for r in rs]
    assert share(prompts, "support-v13") == pytest.approx(0.30, abs=0.05)
    ios = [str(r.account.client_version) for r in rs if r.account.client_name == "ios"]
    assert set(ios) == {"4.12.0", "4.13.0"}
    assert all(r.versions.skill and "@" in r.versions.skill for r in rs)


def test_accounts_keep_their_attributes_and_are_never_created_after_the_trace(sample: list[Trace]) -> None:
    seen: dict[str, records.Account] = {}
    for r in roots(sample):
        assert r.account.created_at_ns is not None and r.account.created_at_ns < r.start_time_ns
        assert r.subject_id is not None
        assert seen.setdefault(r.subject_id, r.account) == r.account
    assert len(seen) < len(sample)  # people come back


def test_users_write_in_their_own_language(sample: list[Trace]) -> None:
    by_locale: dict[str, list[str]] = defaultdict(list)
    for r in roots(sample):
        if r.attributes["watchkeeper.synthetic.turn_kind"] == "task":
            by_locale[str(r.account.locale)].append(str(r.input))
    assert {"de-DE", "fr-FR", "es-ES", "pt-BR", "ja-JP", "hi-IN"} <= set(by_locale)
    markers = {"de-DE": "ä|ö|ü|ß|ich|Sie", "ja-JP": "注文|パスワード|請求", "hi-IN": "मेरा|क्या|मैं|कृपया|इस"}
    for locale, words in markers.items():
        hits = [m for m in by_locale[locale] if any(w in m for w in words.split("|"))]
        assert len(hits) > len(by_locale[locale]) // 2, locale
    assert all(m.isascii() for m in by_locale["en-US"] if "€" not in m and "£" not in m)


# ---------------------------------------------------------------------------------------------------------------
# Faults


def test_tool_and_mcp_errors_carry_codes(sample: list[Trace]) -> None:
    rpc_codes: Counter[int] = Counter()
    http: Counter[int] = Counter()
    for s in all_spans(sample):
        if s.kind in (SpanKind.TOOL, SpanKind.MCP) and s.status is Status.ERROR:
            assert s.tool is not None and s.tool.is_error is True and s.error is not None and s.error.message
            if s.tool.jsonrpc_error_code is not None:
                rpc_codes[s.tool.jsonrpc_error_code] += 1
                assert s.error.code == str(s.tool.jsonrpc_error_code) and s.error.type == "mcp.MCPError"
            if s.tool.http_status is not None:
                http[s.tool.http_status] += 1
    assert {-32602, -32603, -32001} <= set(rpc_codes)
    assert {429, 401} <= set(http)
    assert any(
        s.kind is SpanKind.MCP and s.tool is not None and s.tool.is_error and s.error and s.error.type == "tool_error"
        for s in all_spans(sample)
    )


def test_model_api_errors_refusals_and_jailbreaks_occur(sample: list[Trace]) -> None:
    llm_errors = [s for s in all_spans(sample) if s.kind is SpanKind.LLM and s.status is Status.ERROR]
    assert any(e.error and e.error.type == "openai.RateLimitError" and e.error.code == "429" for e in llm_errors)
    outcomes = Counter(r.attributes["watchkeeper.synthetic.outcome"] for r in roots(sample))
    assert outcomes["refused"] and outcomes["jailbreak_refused"] and outcomes["tool_error"]
    assert outcomes["resolved"] > 0.9 * len(sample)
    refusals = [r.output for r in roots(sample) if r.attributes["watchkeeper.synthetic.outcome"] == "refused"]
    assert "I'm sorry, but I can't help with that." in refusals
    for r in roots(sample):
        if r.attributes["watchkeeper.synthetic.scenario"] == "jailbreak":
            assert r.account.created_at_ns is not None and r.start_time_ns - r.account.created_at_ns < 7 * DAY


def test_billing_mcp_fails_for_one_client_version_inside_the_degraded_window(sample: list[Trace]) -> None:
    window = DegradedWindow()
    calls: dict[tuple[bool, bool], list[bool]] = defaultdict(list)
    for s in all_spans(sample):
        if s.kind is SpanKind.MCP and s.tool is not None and s.tool.mcp_server == "billing-mcp":
            hit = s.account.client_name == "ios" and s.account.client_version == "4.13.0"
            calls[(window.active(s.start_time_ns), hit)].append(s.status is Status.ERROR)
    rate = {k: sum(v) / len(v) for k, v in calls.items()}
    assert len(calls[(True, True)]) > 50
    assert rate[(True, True)] > 0.3
    assert rate[(False, True)] < 0.06 and rate[(True, False)] < 0.06


def test_without_faults_nothing_fails_and_nobody_attacks() -> None:
    sim = Simulator(seed=4, faults=False, base_rate_per_min=200)
    traces = list(sim.traces_between(WINDOW_START, WINDOW_START + 20 * MIN))
    assert len(traces) > 1000
    assert all(s.status is Status.OK for s in all_spans(traces))
    assert {r.attributes["watchkeeper.synthetic.outcome"] for r in roots(traces)} == {"resolved"}


# ---------------------------------------------------------------------------------------------------------------
# Feedback


def test_feedback_refers_to_its_trace_and_comes_after_it(sample: list[Trace]) -> None:
    kinds: Counter[FeedbackKind] = Counter()
    for spans, feedback in sample:
        ids = {s.span_id for s in spans}
        for f in feedback:
            kinds[f.kind] += 1
            assert f.trace_id == spans[0].trace_id and f.span_id in ids
            assert f.time_ns > spans[0].end_time_ns
            assert f.session_id == spans[0].session_id and f.subject_id == spans[0].subject_id
            if f.kind is FeedbackKind.THUMBS:
                assert f.value in (1, -1)
    assert {FeedbackKind.THUMBS, FeedbackKind.CORRECTION, FeedbackKind.ESCALATION} <= set(kinds)
    assert len({f.id for _, fb in sample for f in fb}) == sum(kinds.values())


def test_escalations_and_thumbs_down_are_more_frequent_after_failures(sample: list[Trace]) -> None:
    def rate(failed: bool, kind: FeedbackKind, value: object = None) -> float:
        picked = [
            fb
            for spans, fb in sample
            if (spans[0].attributes["watchkeeper.synthetic.outcome"] in ("tool_error", "llm_error")) == failed
        ]
        return sum(any(f.kind is kind and (value is None or f.value == value) for f in fb) for fb in picked) / len(
            picked
        )

    assert rate(True, FeedbackKind.THUMBS, -1) > 3 * rate(False, FeedbackKind.THUMBS, -1)
    assert rate(True, FeedbackKind.ESCALATION) > 2 * rate(False, FeedbackKind.ESCALATION)


# ---------------------------------------------------------------------------------------------------------------
# Traffic shape, backfill, live


def test_traffic_follows_the_time_of_day_around_the_base_rate() -> None:
    sim = Simulator(seed=9, base_rate_per_min=100)
    week = [sim.rate_at(WEDNESDAY - 2 * DAY + i * 10 * MIN) for i in range(7 * 24 * 6)]
    assert sum(week) / len(week) == pytest.approx(100, rel=0.02)
    peak = len(list(sim.traces_between(WEDNESDAY + 15 * HOUR, WEDNESDAY + 15 * HOUR + 10 * MIN)))
    trough = len(list(sim.traces_between(WEDNESDAY + 3 * HOUR, WEDNESDAY + 3 * HOUR + 10 * MIN)))
    assert peak > 1.8 * trough
    assert peak == pytest.approx(10 * sim.rate_at(WEDNESDAY + 15 * HOUR), rel=0.2)


def test_backfill_covers_the_hours_before_now_with_the_feedback_given_by_then() -> None:
    now = WEDNESDAY + 12 * HOUR + 123
    traces = list(backfill(Simulator(seed=2), 0.5, now))
    assert len(traces) > 500
    assert all(now - HOUR // 2 <= spans[0].start_time_ns < now for spans, _ in traces)
    assert all(f.time_ns <= now for _, fb in traces for f in fb)
    assert any(fb for _, fb in traces)


def test_run_live_sends_ended_traces_in_small_batches_and_survives_a_failing_send() -> None:
    stop = threading.Event()
    now = [WEDNESDAY + 15 * HOUR]
    batches: list[tuple[list[Span], list[Feedback]]] = []
    calls = [0]

    def clock() -> int:
        now[0] += 5 * S
        if now[0] > WEDNESDAY + 15 * HOUR + 10 * MIN:
            stop.set()
        return now[0]

    def send(spans: list[Span], feedback: list[Feedback]) -> None:
        calls[0] += 1
        if calls[0] % 7 == 0:
            raise ConnectionError("server away")
        batches.append((spans, feedback))
        assert all(s.end_time_ns <= now[0] for s in spans) and all(f.time_ns <= now[0] for f in feedback)

    stats = run_live(Simulator(seed=6), send, stop=stop, rate_per_min=60, batch_size=40, tick_s=0, clock=clock)
    assert stats.send_errors == calls[0] // 7 > 0
    assert stats.batches == len(batches) and stats.spans == sum(len(s) for s, _ in batches)
    assert stats.traces > 300 and stats.generate_errors == 0
    for spans, feedback in batches:
        sizes = len(spans) + len(feedback)
        assert sizes <= 40 + 25  # a batch closes at 40 records, and a trace is never split
    sent_roots = [s for spans, _ in batches for s in spans if s.parent_span_id is None]
    assert len({s.trace_id for s in sent_roots}) == len(sent_roots)


def test_run_live_stops_promptly_when_asked() -> None:
    stop = threading.Event()
    stats = LiveStats()
    worker = threading.Thread(
        target=run_live, args=(Simulator(seed=1), lambda s, f: None), kwargs={"stop": stop, "stats": stats}
    )
    worker.start()
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive()


def test_bad_settings_are_refused_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="new_account_share"):
        Simulator(mix=TrafficMix(new_account_share=1.5))
    with pytest.raises(ValueError, match="models"):
        Simulator(mix=TrafficMix(models={"gpt-99": 1.0}))
    with pytest.raises(ValueError, match="base_rate_per_min"):
        Simulator(base_rate_per_min=-1)


def test_the_public_api_is_pinned() -> None:
    assert sorted(demo.__all__) == [
        "DegradedWindow",
        "Incident",
        "LiveStats",
        "Simulator",
        "TrafficMix",
        "backfill",
        "run_live",
    ]
