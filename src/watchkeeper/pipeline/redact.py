"""The ``redact`` processor: finds PII and secrets in every text field of every record and applies the privacy
policy before anything is stored, indexed or logged. What was redacted (type, field path, count, recogniser — never
the value) is recorded on the span in ``attributes["watchkeeper.redactions"]``.
"""

from __future__ import annotations

import logging

from ..privacy import RecordRedactor, Redactor, make_redactor
from ._batch import Batch, Context

log = logging.getLogger("watchkeeper.pipeline.redact")


class Redact:
    """Processor: redacts spans and feedback in place. Counts redacted values in ``self.counts`` by entity type."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.records = RecordRedactor(redactor if redactor is not None else make_redactor())

    def __call__(self, ctx: Context, batch: Batch) -> Batch:
        for s in batch.spans:
            summary = self.records.span(s)
            for (etype, path, recogniser), _n in summary.items():
                if etype == "REDACTION_FAILED":
                    # Names the field and the recogniser, never the value: the field is stored dropped.
                    log.warning("redaction failed; field dropped", extra={"field": path, "recogniser": recogniser})
        for f in batch.feedback:
            self.records.feedback(f)
        return batch
