"""Leaf encoding: canonical, injective, free of content; and how a missing payload is judged."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.records import LLMCall, Message, Span, SpanError, SpanKind, Status, TokenUsage, ToolCall
from watchkeeper.trust.leaves import (
    AccessLeaf,
    LeafError,
    PayloadState,
    RecordLeaf,
    Removal,
    classify_payload,
    decode_leaf,
    payload_sha256,
    record_leaf,
)
from watchkeeper.trust.merkle import leaf_hash

T0 = 1_767_225_600_000_000_000
BLOB = b"E\x01sealed-ciphertext-bytes"

u64 = st.integers(0, 2**64 - 1)
opt_u64 = st.none() | u64
text = st.text(max_size=12)
opt_text = st.none() | text
opt_bytes = st.none() | st.binary(max_size=12)
opt_hash = st.none() | st.binary(min_size=32, max_size=32)

records = st.builds(
    RecordLeaf,
    project_id=u64,
    trace_id=st.binary(max_size=16),
    span_id=st.binary(max_size=8),
    kind=text,
    status=text,
    start_ns=u64,
    end_ns=u64,
    ingested_ns=u64,
    schema_version=u64,
    parent_span_id=opt_bytes,
    request_model=opt_text,
    response_model=opt_text,
    input_tokens=opt_u64,
    output_tokens=opt_u64,
    cached_tokens=opt_u64,
    tool_name=opt_text,
    error_code=opt_text,
    payload_sha256=opt_hash,
)
accesses = st.builds(
    AccessLeaf,
    project_id=u64,
    event_id=st.binary(max_size=16),
    time_ns=u64,
    action=text,
    actor=text,
    outcome=text,
    role=opt_text,
    target_type=opt_text,
    target_ref=opt_bytes,
    grant_id=opt_text,
    reason_code=opt_text,
    details_sha256=opt_hash,
)
leaves = records | accesses


def sample_leaf(**changes: object) -> RecordLeaf:
    base = RecordLeaf(
        project_id=1,
        trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
        span_id=bytes.fromhex("b7ad6b7169203331"),
        kind="llm",
        status="ok",
        start_ns=T0,
        end_ns=T0 + 1_250_000_000,
        ingested_ns=T0 + 2_000_000_000,
        schema_version=1,
        request_model="gpt-4o",
        input_tokens=812,
        output_tokens=64,
        payload_sha256=hashlib.sha256(BLOB).digest(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_encoding_of_a_fixed_leaf_never_changes() -> None:
    data = sample_leaf().encode()
    assert data.hex() == GOLDEN_RECORD
    assert leaf_hash(data).hex() == hashlib.sha256(b"\x00" + data).hexdigest()
    access = AccessLeaf(1, b"\x00" * 16, T0, "read", "user:42", "allowed", target_type="trace", target_ref=b"\x0a")
    assert access.encode().hex() == GOLDEN_ACCESS


GOLDEN_RECORD = (
    "776b0101"  # "wk", version 1, type record
    "010000000000000001"  # 1 project_id
    "02000000100af7651916cd43dd8448eb211c80319c"  # 2 trace_id
    "0300000008b7ad6b7169203331"  # 3 span_id
    "0500000003" + b"llm".hex() + "0600000002" + b"ok".hex() + "0718867251edfa0000"
    "0818867252387b7c80"
    "0918867252652f9400"
    "0a00000006" + b"gpt-4o".hex() + "0c000000000000032c"
    "0d0000000000000040"
    "110000000000000001"
    "1200000020" + hashlib.sha256(BLOB).hexdigest()
)
GOLDEN_ACCESS = (
    "776b0102"
    "010000000000000001"
    "020000001000000000000000000000000000000000"
    "0318867251edfa0000"
    "0400000004" + b"read".hex() + "0500000007" + b"user:42".hex() + "0700000005" + b"trace".hex() + "08000000010a"
    "0b00000007" + b"allowed".hex()
)


@settings(max_examples=300)
@given(leaf=leaves)
def test_a_leaf_decodes_back_to_itself(leaf: RecordLeaf | AccessLeaf) -> None:
    assert decode_leaf(leaf.encode()) == leaf


@settings(max_examples=300)
@given(a=leaves, b=leaves)
def test_different_leaves_never_share_bytes(a: RecordLeaf | AccessLeaf, b: RecordLeaf | AccessLeaf) -> None:
    assert (a == b) == (a.encode() == b.encode())


@settings(max_examples=100)
@given(leaf=records, field=st.sampled_from(["request_model", "tool_name", "error_code"]), value=opt_text)
def test_changing_one_field_changes_the_leaf_bytes(leaf: RecordLeaf, field: str, value: str | None) -> None:
    other = replace(leaf, **{field: value})  # type: ignore[arg-type]
    assert (other.encode() == leaf.encode()) == (getattr(leaf, field) == value)


def test_a_span_leaf_commits_to_metadata_and_the_blob_hash_but_holds_no_content() -> None:
    canary = "CANARY-ana@acme.io-4111111111111111"
    span = Span(
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        name=f"chat {canary}",
        start_time_ns=T0,
        end_time_ns=T0 + 10,
        kind=SpanKind.LLM,
        status=Status.ERROR,
        error=SpanError(type="RateLimit", code="429", message=canary),
        llm=LLMCall(
            request_model="gpt-4o",
            response_model="gpt-4o-2024-08-06",
            input_messages=[Message(role="user", content=canary)],
            usage=TokenUsage(input_tokens=3, output_tokens=4, cached_input_tokens=1),
        ),
        tool=ToolCall(name="lookup_order", arguments={"q": canary}, result=canary),
        input=canary,
        output=canary,
        session_id=f"session-{canary}",
        subject_id=f"subject-{canary}",
    )
    leaf = record_leaf(span, project_id=3, ingested_ns=T0 + 99, payload=BLOB)
    data = leaf.encode()
    assert leaf.payload_sha256 == hashlib.sha256(BLOB).digest()
    assert (leaf.kind, leaf.status, leaf.error_code, leaf.tool_name) == ("llm", "error", "429", "lookup_order")
    assert (leaf.input_tokens, leaf.output_tokens, leaf.cached_tokens) == (3, 4, 1)
    assert leaf.response_model == "gpt-4o-2024-08-06"
    for needle in (canary, "CANARY", "acme", "4111", "session-", "subject-"):
        assert needle.encode() not in data
    assert b"sealed-ciphertext" not in data  # the blob itself is not in the leaf either, only its hash
    assert record_leaf(span, project_id=3, ingested_ns=1, payload=None).payload_sha256 is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "bad magic"),
        (b"xx\x01\x01", "bad magic"),
        (b"wk\x02\x01", "version 2 is not supported"),
        (b"wk\x01\x09", "unknown leaf type 9"),
        (b"wk\x01\x01\x02\x00\x00\x00\x01a\x01" + bytes(8), "out of order"),
        (b"wk\x01\x01\x01" + bytes(8) + b"\x01" + bytes(8), "repeated"),
        (b"wk\x01\x01\x63", "unknown"),
        (b"wk\x01\x01\x01" + bytes(4), "project_id is truncated"),
        (b"wk\x01\x01\x02\x00\x00\x00\x10ab", "trace_id is truncated"),
        (b"wk\x01\x01\x01" + bytes(8), "missing required fields"),
        (b"wk\x01\x02\x04\x00\x00\x00\x01\xff", "action is not UTF-8"),
    ],
)
def test_malformed_leaf_bytes_are_rejected_with_the_field_named(data: bytes, message: str) -> None:
    with pytest.raises(LeafError, match=message):
        decode_leaf(data)


def test_a_trailing_byte_after_a_complete_leaf_is_rejected() -> None:
    with pytest.raises(LeafError):
        decode_leaf(sample_leaf().encode() + b"\x00")


def test_leaf_fields_are_validated_on_construction() -> None:
    with pytest.raises(LeafError, match="project_id must be an integer"):
        sample_leaf(project_id=-1)
    with pytest.raises(LeafError, match="payload_sha256 must be a 32-byte"):
        sample_leaf(payload_sha256=b"short")
    with pytest.raises(LeafError, match="kind is required"):
        sample_leaf(kind=None)
    with pytest.raises(LeafError, match="valid Unicode"):
        sample_leaf(tool_name="\ud800")


# -- payload states --------------------------------------------------------------------------------------------

PURGE = Removal("purge", project_id=1, finished_ns=T0 + 10**12, cutoff_ns=T0 + 1)


def test_a_stored_payload_matching_its_commitment_is_present() -> None:
    assert classify_payload(sample_leaf(), BLOB) is PayloadState.PRESENT
    assert classify_payload(sample_leaf(payload_sha256=None), None) is PayloadState.NONE


def test_a_changed_or_added_payload_is_tampered() -> None:
    assert classify_payload(sample_leaf(), BLOB + b"!") is PayloadState.TAMPERED
    assert classify_payload(sample_leaf(payload_sha256=None), BLOB) is PayloadState.TAMPERED


def test_a_missing_payload_is_purged_or_erased_only_when_a_removal_covers_it() -> None:
    leaf = sample_leaf()
    assert classify_payload(leaf, None) is PayloadState.TAMPERED
    assert classify_payload(leaf, None, [PURGE]) is PayloadState.PURGED
    erase = Removal("erase", project_id=1, finished_ns=T0 + 10**12, trace_ids=frozenset({leaf.trace_id}))
    assert classify_payload(leaf, None, [erase]) is PayloadState.ERASED
    other_trace = Removal("erase", project_id=1, finished_ns=T0 + 10**12, trace_ids=frozenset({b"x" * 16}))
    assert classify_payload(leaf, None, [other_trace]) is PayloadState.TAMPERED


def test_a_removal_does_not_cover_other_projects_younger_records_or_later_arrivals() -> None:
    assert classify_payload(sample_leaf(project_id=2), None, [PURGE]) is PayloadState.TAMPERED
    assert classify_payload(sample_leaf(start_ns=T0 + 1), None, [PURGE]) is PayloadState.TAMPERED  # backdating
    late = sample_leaf(ingested_ns=PURGE.finished_ns + 1)
    assert classify_payload(late, None, [PURGE]) is PayloadState.TAMPERED
    assert classify_payload(sample_leaf(), None, [replace(PURGE, action="rotate")]) is PayloadState.TAMPERED


def test_payload_sha256_is_sha256_of_the_blob() -> None:
    assert payload_sha256(None) is None
    assert payload_sha256(BLOB) == hashlib.sha256(BLOB).digest()
