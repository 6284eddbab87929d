"""`watchkeeper serve` with the content processors (redact, enrich) as pass-throughs: a measuring aid, never a way
to run a server.

bench/ingest_e2e.py --core-chain starts servers through this file to split the ingest cost into the core path
(decode, validate, price, pack, write: what the ingest benchmark measured before those processors joined the
default chain) and the content processors (the difference between the two runs). Spawned worker processes import
this file too (as their __main__), so the replacement holds in every worker.
"""

from __future__ import annotations

import importlib
import os
import sys

from watchkeeper.pipeline import Batch, Context


def _pass_through(self: object, ctx: Context, batch: Batch) -> Batch:
    return batch


# WATCHKEEPER_BENCH_PASS_THROUGH picks which content processors to stub (default both): "enrich" keeps redaction on.
_STUB = set(os.environ.get("WATCHKEEPER_BENCH_PASS_THROUGH", "redact,enrich").split(","))
for _module, _name in (("redact", "Redact"), ("enrich", "Enrich")):
    if _module not in _STUB:
        continue
    try:
        _cls = getattr(importlib.import_module(f"watchkeeper.pipeline.{_module}"), _name)
    except (ImportError, AttributeError):
        continue  # not in this version of the pipeline
    _cls.__call__ = _pass_through

if __name__ == "__main__":
    from watchkeeper.cli import run

    sys.argv[0] = "watchkeeper"
    run()
