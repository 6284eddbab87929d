"""The public names of each room are pinned: adding one is a decision, removing one breaks users."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "watchkeeper": ["__version__"],
    "watchkeeper.records": [
        "Account", "Feedback", "FeedbackKind", "LLMCall", "MAX_ID_CHARS", "MAX_NAME_CHARS", "Message", "RecordError",
        "SCHEMA_VERSION", "Span", "SpanError", "SpanKind", "Status", "TokenUsage", "ToolCall", "ToolCallRequest",
        "Versions", "check_hex_id", "feedback_from_dict", "feedback_to_dict", "span_from_dict", "span_to_dict",
        "upcast",
    ],
    "watchkeeper.config": ["SETTINGS", "Setting", "Settings", "load_settings", "settings_markdown"],
    "watchkeeper.errors": [
        "AuditUnavailable", "ConfigError", "Conflict", "ContentLocked", "Forbidden", "InputError", "NotFound",
        "Overloaded", "PayloadTooLarge", "StorageError", "Unauthenticated", "UnsupportedMediaType", "WatchkeeperError",
    ],
    "watchkeeper.content": [
        "ContentOpener", "feedback_content", "pack_content", "record_aad", "span_content", "unpack_content",
    ],
    "watchkeeper.testing": ["ServerHandle", "free_port", "running_server"],
    "watchkeeper.ingest": ["decode_batch_doc", "decode_json_batch", "decode_otlp"],
    "watchkeeper.server": ["create_app"],
    "watchkeeper.store": [
        "CommitStats", "RowBatch", "Writer", "current_revision", "database_files", "head_revision", "is_sqlite",
        "make_engine", "migrate", "optimize",
    ],
    "watchkeeper.trust": [
        "AccessLeaf", "Checkpoint", "CheckpointError", "CompactRange", "EMPTY_ROOT", "ForkError", "HASH_SIZE",
        "IssuePolicy", "LeafError", "MAX_SIGNATURES", "MemoryTreeStore", "MerkleTree", "NoteSignature",
        "PayloadState", "ProofError", "RecordLeaf", "Removal", "SignedNote", "Signer", "SigningKeys", "TreeStore",
        "VerifiedCheckpoint", "Verifier", "VerifierSet", "check_extends", "check_not_forked", "classify_payload",
        "decode_leaf", "key_id", "leaf_hash", "node_hash", "open_checkpoint", "parse_checkpoint_body", "parse_note",
        "parse_root_hex", "payload_sha256", "record_leaf", "root_from_inclusion_proof", "root_from_leaf_hashes",
        "root_of", "sign_checkpoint", "verify_consistency", "verify_inclusion",
    ],
    "watchkeeper.demo": ["DegradedWindow", "Incident", "LiveStats", "Simulator", "TrafficMix", "backfill", "run_live"],
    "watchkeeper.analytics": [
        "Change", "Comparison", "Count", "DEFAULT_PAIRS", "DIMENSIONS", "Dimension", "Example", "LatencyBucket",
        "METRICS", "Metric", "NONE", "OTHER", "Point", "Rate", "RebuildReport", "RollupConfig", "Series", "Slice",
        "SliceCounts", "SliceExplorer", "TopChange", "Window", "diff_interval", "latency_series", "metric",
        "parse_duration", "rate_series", "rebuild_rollups", "slice_counts", "slices_with_traffic", "wilson",
        "z_score",
    ],
    "watchkeeper.alerting": [
        "Alert", "AlertEngine", "AlertMetrics", "AlertRule", "AlertService", "AlertState", "AlertmanagerWebhook",
        "Backoff", "Backtest", "Catalogue", "Deliverer", "DeliveryError", "Detector", "DetectorRegistry", "Dispatcher",
        "Episode", "FalseDiscoveryControl", "GLOBAL", "GateLike", "InhibitRule", "Inhibitor", "Integration",
        "MatchType", "Matcher", "Notification", "NotifierEnv", "NotifierRegistry", "Problem", "Reading", "Received",
        "Receiver", "RollupSource", "Route", "RouteSpec", "RuleSet", "RulesError", "SEVERITIES", "Sent", "SeriesSource",
        "Silence", "Silencer", "SliceTest", "TickReport", "Transition", "Verdict", "add_silence", "alert_history",
        "backtest", "build_receivers", "build_route", "common_mode", "default_notifiers", "default_rules_text",
        "expire_silence", "fdr_from_detectors", "fingerprint", "get_silence", "list_alerts", "list_notifications",
        "list_silences", "live_alerting", "load_rules", "parse_matcher", "parse_matchers", "parse_rules", "receive",
        "rules_from_settings", "slice_key"
    ],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_each_room_exports_exactly_its_pinned_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which the module does not define"


def test_the_pipeline_exports_its_processors_and_the_chain() -> None:
    pipeline = importlib.import_module("watchkeeper.pipeline")
    for name in ("Batch", "Context", "Processor", "Validate", "Pricer", "default_chain", "run_chain", "pack"):
        assert name in pipeline.__all__
    for name in pipeline.__all__:
        assert hasattr(pipeline, name)
