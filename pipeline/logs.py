"""Logging for the command line: plain or JSON lines on stderr, Beam's per-bundle noise dropped."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator


def log(msg: str) -> None:
    """One user-facing line on stderr, prefixed ``matchtag:`` (stdout stays for results)."""
    print(f"matchtag: {msg}", file=sys.stderr, flush=True)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (MATCHTAG_LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class DropBeamNoise(logging.Filter):
    """Harmless Beam warnings: RunInference's on every bundle that it cannot read memory
    usage, and the one at import that the BigQuery client (apitools, from Beam's ``gcp``
    extra, which matchtag does not use) is not installed."""

    NOISE = ("Resource module is not available", "apitools not found, and bigquery client libraries")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(n in message for n in self.NOISE)


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
    # The apitools warning is logged through the root logger itself while apache_beam is
    # imported, so the filter goes on that logger too, not only on our handler.
    if not any(isinstance(f, DropBeamNoise) for f in root.filters):
        root.addFilter(DropBeamNoise())
    for noisy in ("apache_beam", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextlib.contextmanager
def json_stdout(enabled: bool = True) -> Iterator[Callable[[object], None]]:
    """Yield ``emit(obj)``, the one way to stdout while inside: for ``--json`` output.

    Anything else printed inside goes to stderr, so that ``| jq`` always gets JSON alone:
    Python's ``print`` (trackeval prints an import notice) and, when stdout is a real
    file descriptor, what C code or child processes write to fd 1 too. ``enabled=False``:
    nothing is redirected and ``emit`` prints as usual.
    """
    stdout = sys.stdout
    if not enabled:
        yield lambda obj: print(json.dumps(obj, indent=1, default=str), file=stdout, flush=True)
        return
    try:
        real_fd = stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):   # replaced stdout (pytest's capsys, a StringIO)
        real_fd = False
    stdout.flush()
    saved = os.dup(1) if real_fd else None
    if saved is not None:
        os.dup2(2, 1)

    def emit(obj) -> None:
        text = json.dumps(obj, indent=1, default=str) + "\n"
        if saved is None:
            stdout.write(text)
            stdout.flush()
        else:
            os.write(saved, text.encode())

    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield emit
    finally:
        if saved is not None:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
