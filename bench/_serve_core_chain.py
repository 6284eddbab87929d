"""`watchkeeper serve` with the redact processor replaced by a pass-through: a measuring aid, never a way to run.

bench/ingest_e2e.py --without-redaction starts servers through this file to split the ingest cost into "the rest of
the path" and "redaction" (the difference between the two runs), and to compare with numbers taken before the
redact processor joined the default chain. Spawned worker processes import this file too (as their __main__), so
the replacement holds in every worker.
"""

from __future__ import annotations

import sys

from watchkeeper.pipeline import Batch, Context
from watchkeeper.pipeline import redact as _redact


def _pass_through(self: object, ctx: Context, batch: Batch) -> Batch:
    return batch


_redact.Redact.__call__ = _pass_through  # type: ignore[method-assign,assignment]

if __name__ == "__main__":
    from watchkeeper.cli import run

    sys.argv[0] = "watchkeeper"
    run()
