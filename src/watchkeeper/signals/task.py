"""Task signals from feedback events and cohort attributes of a span's account.

Feedback arrives after the trace it judges, so its signal is computed from the stored feedback row (its kind and
value are already columns); :func:`classify_feedback` is the one place that says what each event means.
"""

from __future__ import annotations

import re

from ..records import Feedback, FeedbackKind, Span
from ._model import Label, unknown

VERSION = "task-1"
COHORT_VERSION = "cohort-1"
NS_PER_DAY = 86_400 * 1_000_000_000


def classify_feedback(fb: Feedback) -> Label:
    """``user_correction``, ``escalation``, ``thumbs_up``, ``thumbs_down``, ``low_score``, ``high_score`` or
    ``comment`` for one feedback event."""
    k = fb.kind
    if k is FeedbackKind.CORRECTION:
        return Label("user_correction", 1.0, VERSION)
    if k is FeedbackKind.ESCALATION:
        return Label("escalation", 1.0, VERSION)
    if k is FeedbackKind.THUMBS:
        if fb.value == 1:
            return Label("thumbs_up", 1.0, VERSION)
        if fb.value == -1:
            return Label("thumbs_down", 1.0, VERSION)
        return unknown(VERSION, "thumbs value is not 1 or -1")
    if k is FeedbackKind.SCORE:
        if isinstance(fb.value, int | float) and not isinstance(fb.value, bool):
            return Label("low_score" if fb.value < 0.5 else "high_score", float(fb.value), VERSION)
        return unknown(VERSION, "score value is not a number")
    return Label("comment", 1.0, VERSION)


def account_age_bucket(span: Span, new_days: float = 7.0) -> Label:
    """``new`` (younger than ``new_days``), ``recent`` (younger than 30 days) or ``established``, at the span's time."""
    created = span.account.created_at_ns
    if created is None:
        return unknown(COHORT_VERSION, "account.created_at_ns is absent")
    age_days = (span.start_time_ns - created) / NS_PER_DAY
    if age_days < 0:
        return unknown(COHORT_VERSION, "account created after the span")
    if age_days < new_days:
        return Label("new", 1.0, COHORT_VERSION)
    if age_days < max(30.0, new_days):
        return Label("recent", 1.0, COHORT_VERSION)
    return Label("established", 1.0, COHORT_VERSION)


_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?")


def client_cohort(span: Span) -> Label:
    """``name/major.minor`` of the client (a bounded label: patch versions are folded)."""
    a = span.account
    if not a.client_name:
        return unknown(COHORT_VERSION, "account.client_name is absent")
    name = a.client_name.strip().lower()[:40]
    if not a.client_version:
        return Label(f"{name}/unknown", 1.0, COHORT_VERSION)
    m = _VERSION_RE.match(a.client_version.strip())
    if m is None:
        return Label(f"{name}/other", 1.0, COHORT_VERSION)
    return Label(f"{name}/{m.group(1)}.{m.group(2) or '0'}", 1.0, COHORT_VERSION)
