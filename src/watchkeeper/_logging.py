"""The server's own logs: one JSON object per line, with a schema version; ids, never payloads."""

from __future__ import annotations

import json
import logging
import sys
import time

LOG_SCHEMA_VERSION = 1
_STD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "v": LOG_SCHEMA_VERSION,
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _STD and not k.startswith("_"):
                out[k] = v
        if record.exc_info and record.exc_info[0] is not None:
            # the exception type only: messages and tracebacks may quote payload values
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, default=str)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("watchkeeper")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
