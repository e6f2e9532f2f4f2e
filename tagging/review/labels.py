"""The reviewed labels of one output root: ``DIR/labels/labels.csv`` and ``DIR/labels/reviewed.csv``.

``labels.csv`` is the labels CSV that ``matchtag train`` and ``matchtag evaluate events``
read (``video_id, event_type, start_ms, end_ms, track_id, peak_ms``, times in ms from the
video's first frame) with the review columns after them:

- ``status``: ``confirmed`` (a candidate of the model the analyst accepted, or an event he
  added: a positive), ``rejected`` (a candidate he refused: a hard negative) or ``deleted``
  (an added event taken back; kept so that another tab's stale copy cannot revive it);
- ``label_id`` (12 hex digits), ``revision`` (1, 2, ... one per change), ``reviewer``,
  ``updated_at`` (UTC, ISO 8601), ``candidate`` (the model that proposed it; empty for an
  event the analyst added).

``reviewed.csv`` holds the reviewed stretches (``stretch_id, video_id, start_ms, end_ms,
status, revision, reviewer, updated_at``): time the analyst has watched through, so that
what he left unlabelled there is background.

Every save takes an exclusive lock (``DIR/labels/.lock``), re-reads the file, merges the
changes by id, writes a temporary file, fsyncs it and renames it over the old one (then
fsyncs the folder): a reader, a crash or a SIGKILL sees the old file or the new one, never
a torn one.  A change carries the revision it was made on; if the stored row has moved on
(another tab changed it), the change is refused and the stored row returned, so a stale
tab reloads instead of overwriting.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import io
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LABELS_DIR = "labels"
STATUSES = ("confirmed", "rejected", "deleted")
LABEL_FIELDS = ("video_id", "event_type", "start_ms", "end_ms", "track_id", "peak_ms", "status", "label_id",
                "revision", "reviewer", "updated_at", "candidate")
STRETCH_FIELDS = ("stretch_id", "video_id", "start_ms", "end_ms", "status", "revision", "reviewer", "updated_at")
_NUMBERS = ("start_ms", "end_ms", "peak_ms")


class LabelError(ValueError):
    """A change that cannot be stored; the message says which field and why."""


@dataclass(frozen=True)
class CsvTable:
    """One CSV of the labels folder: its file name, columns and id column."""

    name: str
    fields: tuple[str, ...]
    key: str


LABELS = CsvTable("labels.csv", LABEL_FIELDS, "label_id")
STRETCHES = CsvTable("reviewed.csv", STRETCH_FIELDS, "stretch_id")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _number(row: dict, name: str, required: bool = True) -> float | None:
    value = row.get(name)
    if value in (None, ""):
        if required:
            raise LabelError(f"{name} is missing")
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise LabelError(f"{name}={value!r} is not a number") from None
    if out != out or out < 0:
        raise LabelError(f"{name}={value!r} must be a time >= 0 in ms")
    return out


def _clean_label(row: dict) -> dict:
    """The stored form of a label change (strings, as the CSV holds them); :class:`LabelError`
    when a field is unusable."""
    vid, etype = str(row.get("video_id") or ""), str(row.get("event_type") or "").strip()
    if not vid:
        raise LabelError("video_id is missing")
    if not etype or any(c in etype for c in ",\"\n\r") or etype.startswith("__"):
        raise LabelError(f"event_type {etype!r}: give a name without commas, quotes or a leading '__'")
    start, end = _number(row, "start_ms"), _number(row, "end_ms")
    peak = _number(row, "peak_ms", required=False)
    peak = (start + end) / 2 if peak is None else peak
    if end < start:
        raise LabelError(f"end_ms {end:g} is before start_ms {start:g}")
    if not start <= peak <= end:
        raise LabelError(f"peak_ms {peak:g} is outside the event ({start:g}..{end:g} ms)")
    track = row.get("track_id")
    if track not in (None, ""):
        try:
            track = int(track)
        except (TypeError, ValueError):
            raise LabelError(f"track_id={track!r} is not an integer") from None
    status = str(row.get("status") or "confirmed")
    if status not in STATUSES:
        raise LabelError(f"status {status!r}: one of {', '.join(STATUSES)}")
    return {"video_id": vid, "event_type": etype, "start_ms": f"{start:.1f}", "end_ms": f"{end:.1f}",
            "track_id": "" if track in (None, "") else str(track), "peak_ms": f"{peak:.1f}", "status": status,
            "candidate": str(row.get("candidate") or "")}


def _clean_stretch(row: dict) -> dict:
    vid = str(row.get("video_id") or "")
    if not vid:
        raise LabelError("video_id is missing")
    start, end = _number(row, "start_ms"), _number(row, "end_ms")
    if end <= start:
        raise LabelError(f"a reviewed stretch must end after it starts ({start:g}..{end:g} ms)")
    status = str(row.get("status") or "confirmed")
    if status not in ("confirmed", "deleted"):
        raise LabelError(f"status {status!r}: confirmed or deleted")
    return {"video_id": vid, "start_ms": f"{start:.1f}", "end_ms": f"{end:.1f}", "status": status}


class LabelStore:
    """The labels folder of one output root (``DIR/labels``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @classmethod
    def of_output(cls, tags_dir: str | Path) -> "LabelStore":
        return cls(Path(tags_dir) / LABELS_DIR)

    def path(self, table: CsvTable = LABELS) -> Path:
        return self.folder / table.name

    @contextmanager
    def _locked(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self, table: CsvTable = LABELS, video_id: str | None = None) -> list[dict]:
        """The rows of ``table`` (strings), one video's when ``video_id`` is given. Needs no lock:
        the file is only ever replaced whole."""
        path = self.path(table)
        if not path.is_file():
            return []
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [r for r in rows if video_id is None or r["video_id"] == video_id]

    def _write(self, table: CsvTable, rows: list[dict]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=table.fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in table.fields} for r in rows)
        path = self.path(table)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(buf.getvalue())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        # the rename itself is durable only once the folder is synced
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def save(self, changes: list[dict], reviewer: str, table: CsvTable = LABELS) -> dict:
        """Merge ``changes`` into ``table`` atomically.

        A change with no id (``label_id``/``stretch_id``) is a new row; one with an id must
        carry the ``revision`` it was made on.  Returns ``{"saved": [rows], "conflicts":
        [stored rows]}``: a change to a row whose stored revision differs is not applied
        and the stored row is returned instead.  :class:`LabelError` for an unusable change
        (nothing is written then).
        """
        clean = _clean_label if table is LABELS else _clean_stretch
        prepared = []
        for i, change in enumerate(changes):
            try:
                prepared.append((change, clean(change)))
            except LabelError as exc:
                raise LabelError(f"change {i + 1}: {exc}") from None
        saved, conflicts = [], []
        with self._locked():
            # under the lock no other save is writing: any temporary file is a killed save's
            for stale in self.folder.glob(f".{table.name}.*.tmp"):
                stale.unlink(missing_ok=True)
            rows = self.read(table)
            by_id = {r[table.key]: r for r in rows}
            for change, row in prepared:
                key = str(change.get(table.key) or "")
                old = by_id.get(key) if key else None
                if key and old is None:
                    conflicts.append({table.key: key, "error": "no such row (deleted file or another root)"})
                    continue
                if old is not None and str(change.get("revision", "")) != old["revision"]:
                    conflicts.append(old)
                    continue
                row.update({table.key: key or uuid.uuid4().hex[:12],
                            "revision": str(int(old["revision"]) + 1 if old else 1),
                            "reviewer": reviewer, "updated_at": _now()})
                if old is None:
                    rows.append(row)
                else:
                    old.clear()
                    old.update(row)
                    row = old
                by_id[row[table.key]] = row
                saved.append(dict(row))
            if saved:
                self._write(table, rows)
        return {"saved": saved, "conflicts": conflicts}
