"""Logging for the command line: plain or JSON lines on stderr, Beam's per-bundle noise dropped."""

from __future__ import annotations

import logging
import os
import sys


def log(msg: str) -> None:
    """One user-facing line on stderr, prefixed ``matchtag:`` (stdout stays for results)."""
    print(f"matchtag: {msg}", file=sys.stderr, flush=True)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (MATCHTAG_LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class DropBeamNoise(logging.Filter):
    """Beam's RunInference warns on every bundle that it cannot read memory usage."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Resource module is not available" not in record.getMessage()


def setup_logging() -> None:
    handler = logging.StreamHandler()
    handler.addFilter(DropBeamNoise())
    if os.environ.get("MATCHTAG_LOG_FORMAT", "").lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    if not any(getattr(h, "_matchtag", False) for h in root.handlers):
        handler._matchtag = True
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("apache_beam", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
