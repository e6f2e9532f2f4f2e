"""Per-video commits: immutable data files, one commit record per video as the switch.

A run writes each table's files straight into their final folder under names that
carry its run id (``DIR/<table>/video_id=<id>/<run_id>-<part>.parquet``).  Nothing a
reader trusts changes until :func:`commit_video` replaces the video's commit record
(``DIR/_commits/video_id=<id>.json``), which names one run's files for all four
tables.  Locally the record is written to a temporary file and ``os.replace``d; on
gs:// and s3:// it is one object write, which those stores make visible whole or not
at all.  Files that no record names (superseded, or left by a killed run) are then
removed: a run's own leftovers at once, another run's only once that run is provably
over (its lock, local outputs) or older than :data:`REMOTE_GRACE_S` (object stores),
so a concurrent run that is about to commit never loses its files.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import posixpath
import socket
import time
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.spill import SPILL_DIR, remove_spill, spill_root
from schemas.tables import PARTITION_COLUMN, TABLES, file_schema
from tagging.tables.store import COMMITS_DIR, CommitRecord, partition_path, read_commit, record_name

LOG = logging.getLogger("matchtag")

LOCKS_DIR = "_locks"   # local outputs: <run_id>.lock, flock-ed by the launcher for the run's life
NOTES_DIR = "_runs"    # _runs/<run_id>/video_id=<id>.json: videos this run skipped or could not write
# Object stores have no lock a dead launcher releases: another run's uncommitted files
# are removed only once its run id (a UTC start time) is this old.
REMOTE_GRACE_S = 7 * 24 * 3600
ROWS_PER_BATCH = 4096  # rows converted to Arrow at a time when writing a file


def is_local(path: str) -> bool:
    return "://" not in path


def data_file_name(run_id: str, part: int) -> str:
    return f"{run_id}-{part:05d}.parquet"


def run_of_file(name: str) -> str | None:
    """The run id in a data file's name (``<run_id>-<part>.parquet``, or a hidden temp
    ``.<run_id>-<part>.parquet.<run_id>.<random>.tmp``), or None for a file that is not ours."""
    name = name.lstrip(".")
    stem = name.split(".parquet", 1)[0]
    if stem == name or "-" not in stem:
        return None
    run_id, part = stem.rsplit("-", 1)
    return run_id if part.isdigit() else None


def _join(output: str, rel: str) -> str:
    return os.path.join(output, rel) if is_local(output) else FileSystems.join(output, rel)


# --- writing ------------------------------------------------------------------------------

def _batches(rows: Iterable[dict], size: int) -> Iterable[list[dict]]:
    batch = []
    for row in rows:
        if row is not None:  # None: the placeholder that makes every table get a file
            batch.append(row)
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def _write_parquet(fh, table: str, rows: Iterable[dict]) -> int:
    schema = file_schema(table)
    n = 0
    with pq.ParquetWriter(fh, schema) as writer:
        for batch in _batches(rows, ROWS_PER_BATCH):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
        if n == 0:  # an empty file still carries the schema, so readers get the columns
            writer.write_table(schema.empty_table())
    return n


def write_part(output: str, run_id: str, table: str, video_id: str, part: int, rows: Iterable[dict]) -> str:
    """Write ``rows`` (dicts, streamed ROWS_PER_BATCH at a time) as one Parquet file of
    ``table`` for ``video_id``; returns its path relative to ``output``.

    The name is fixed by (run, part), so a retried bundle rewrites the same file; no
    torn file is ever visible (:func:`_write_atomically`).
    """
    rel = f"{partition_path(table, video_id)}/{data_file_name(run_id, part)}"
    _write_atomically(output, rel, run_id, lambda fh: _write_parquet(fh, table, rows))
    return rel


def _write_atomically(output: str, rel: str, tag: str, write) -> None:
    """``write(file)`` the file ``output/rel`` so that it appears whole or not at all: locally
    under a hidden temp name (``.<name>.<tag>.<random>.tmp``, ``tag`` a run id) then
    ``os.replace``d; on object stores as one object, visible once its upload completes."""
    path = _join(output, rel)
    if is_local(output):
        tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{tag}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with _open_new(tmp) as fh:
                write(fh)
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
    else:
        with FileSystems.create(path) as fh:
            write(fh)


def _open_new(path: str):
    """``open(path, "wb")``, creating its folder; another run that finishes may remove an
    empty shared folder (``_locks``, ``_runs``) between the two steps, so try again."""
    for attempt in range(5):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return open(path, "wb")
        except (FileNotFoundError, FileExistsError):  # FileExistsError: makedirs lost that race
            if attempt == 4:
                raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_whole(output: str, rel: str, data: str | bytes, tag: str) -> None:
    """Write a small file at ``output/rel`` whole or not at all (see :func:`_write_atomically`)."""
    data = data.encode() if isinstance(data, str) else data
    _write_atomically(output, rel, tag, lambda fh: fh.write(data))


# --- the commit ---------------------------------------------------------------------------

def commit_video(output: str, run_id: str, video_id: str, files: dict[str, list[str]],
                 videos_row: dict | None = None) -> CommitRecord:
    """Make ``files`` (per table, relative to ``output``) the committed version of ``video_id``.

    One atomic write of the commit record is the switch; then files of this video that
    no record names are removed (see :func:`collect_garbage`).
    """
    missing = set(TABLES) - set(files)
    if missing:
        raise ValueError(f"video {video_id}: no files for tables {sorted(missing)}")
    row = videos_row or {}
    record = CommitRecord(video_id=video_id, run_id=run_id, files={t: sorted(files[t]) for t in TABLES},
                          status=row.get("status"), sha256=row.get("sha256"),
                          tagging_config=row.get("tagging_config"),
                          committed_at=dt.datetime.now(dt.timezone.utc).isoformat())
    write_whole(output, f"{COMMITS_DIR}/{record_name(video_id)}", record.to_json(), run_id)
    try:
        collect_garbage(output, [video_id], own_run=run_id)
    except OSError as exc:  # the commit stands; a later run removes what is left
        LOG.warning("%s: could not remove superseded files: %s", video_id, exc)
    return record


def _list_files(output: str, video_ids: list[str] | None) -> list[tuple[str, str]]:
    """(video_id, path relative to output) of every file in the tables' partition folders."""
    out = []
    if is_local(output):
        for table in TABLES:
            tdir = os.path.join(output, table)
            if video_ids is None:
                try:
                    parts = [e.name for e in os.scandir(tdir) if e.name.startswith(f"{PARTITION_COLUMN}=")]
                except FileNotFoundError:
                    continue
            else:
                parts = [f"{PARTITION_COLUMN}={v}" for v in video_ids]
            for p in parts:
                try:
                    names = os.listdir(os.path.join(tdir, p))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                out += [(p.split("=", 1)[1], f"{table}/{p}/{n}") for n in names]
        return out
    vids = ["*"] if video_ids is None else video_ids
    patterns = [FileSystems.join(output, table, f"{PARTITION_COLUMN}={v}", "*") for table in TABLES for v in vids]
    for result in FileSystems.match(patterns):
        for m in result.metadata_list:
            rel = m.path[len(output.rstrip("/")) + 1:]
            out.append((rel.split("/")[1].split("=", 1)[1], rel))
    return out


def run_is_live(output: str, run_id: str) -> bool:
    """True when ``run_id`` may still be writing: locally its lock is held; on object
    stores its start time (the run id's prefix) is less than REMOTE_GRACE_S ago."""
    if is_local(output):
        # a run removes its lock only after its own clean-up: no lock file, no live run
        return _lock_held(os.path.join(output, LOCKS_DIR, f"{run_id}.lock"))
    try:
        started = dt.datetime.strptime(run_id.split("-", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return True  # not a run id of ours: never delete
    return (dt.datetime.now(dt.timezone.utc) - started).total_seconds() < REMOTE_GRACE_S


def _lock_held(path: str) -> bool:
    """Does some process hold an ``flock`` on ``path``?  False when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY)  # never O_CREAT: that would revive a dead run's lock
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def collect_garbage(output: str, video_ids: list[str] | None = None, own_run: str | None = None) -> list[str]:
    """Remove data files (and temp files) that no commit record names, of ``video_ids``
    (None: every video), when they belong to ``own_run`` or to a run that is over.

    Safe beside concurrent runs: a file named by a record is never removed (the record
    is read after the listing, so a switch in between only adds names of a live run,
    whose files are kept anyway), and a live run's files are left for it to commit.
    Returns the removed paths, relative to ``output``.
    """
    listed = _list_files(output, video_ids)
    if not listed:
        return []
    named: dict[str, set[str]] = {}
    for vid in {v for v, _ in listed}:
        record = read_commit(output, vid)
        named[vid] = {p for t in TABLES for p in record.files[t]} if record else set()
    live: dict[str, bool] = {}
    doomed = []
    for vid, rel in listed:
        run = run_of_file(posixpath.basename(rel))
        if run is None or rel in named[vid]:
            continue
        if run != own_run and live.setdefault(run, run_is_live(output, run)):
            continue
        doomed.append(rel)
    for rel in doomed:
        _remove(output, rel)
    return doomed


def _remove(output: str, rel: str) -> None:
    if is_local(output):
        _unlink_quietly(os.path.join(output, rel))
    else:
        try:
            FileSystems.delete([FileSystems.join(output, rel)])
        except Exception:  # already gone (a concurrent clean-up)
            pass


def _remove_dead_temps(output: str, folder: str) -> None:
    """Hidden temp files (``.<name>.<run_id>.<x>.tmp``) in ``output/folder`` whose run is over."""
    path = os.path.join(output, folder)
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        parts = name.split(".")
        if name.startswith(".") and name.endswith(".tmp") and len(parts) >= 4 \
                and not run_is_live(output, parts[-3]):
            _unlink_quietly(os.path.join(path, name))


def already_tagged(output: str, video_id: str, sha256: str, tagging_config: str, retry_failed: bool = False) -> bool:
    """``--skip-existing``: is ``video_id`` committed from the same bytes with the same config,
    with every file its record names still present?  With ``retry_failed``, a committed
    ``failed`` or ``partial`` video is not (it is tagged again)."""
    record = read_commit(output, video_id)
    if record is None or record.sha256 != sha256 or record.tagging_config != tagging_config:
        return False
    if retry_failed and record.status != "ok":
        return False
    paths = [_join(output, p) for t in TABLES for p in record.files[t]]
    return all(FileSystems.exists(p) for p in paths)


# --- notes: what the launcher cannot see in the records ------------------------------------

def write_note(output: str, run_id: str, video_id: str, outcome: str, error: str | None = None) -> None:
    """Record that this run ``skipped`` ``video_id`` or ``failed`` to write it (best effort:
    a video without a note or a record of this run counts as failed)."""
    text = json.dumps({"video_id": video_id, "outcome": outcome, "error": error})
    try:
        write_whole(output, f"{NOTES_DIR}/{run_id}/{PARTITION_COLUMN}={video_id}.json", text, run_id)
    except Exception as exc:  # e.g. the disk is full: the launcher counts the video as failed
        LOG.warning("%s: could not note outcome %s: %s", video_id, outcome, exc)


def read_notes(output: str, run_id: str) -> dict[str, dict]:
    """``{video_id: note}`` written by this run's workers."""
    pattern = FileSystems.join(output, NOTES_DIR, run_id, f"{PARTITION_COLUMN}=*.json")
    notes = {}
    try:
        matches = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    except Exception:  # nothing noted
        return notes
    for path in matches:
        try:
            with FileSystems.open(path) as fh:
                note = json.loads(fh.read())
            notes[note["video_id"]] = note
        except Exception as exc:  # a torn note: the video counts as not committed
            LOG.warning("%s: unreadable note: %s", path, exc)
    return notes


def _remove_notes(output: str, run_id: str) -> None:
    folder = _join(output, f"{NOTES_DIR}/{run_id}")
    if is_local(output):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.rmdir(os.path.join(output, NOTES_DIR))
        except OSError:
            pass  # other runs' notes
    elif FileSystems.exists(folder):
        FileSystems.delete([folder])


class RunLock:
    """A run's claim on ``output`` for its lifetime.

    Local outputs: ``_locks/<run_id>.lock``, ``flock``-ed by the launcher; the kernel
    drops the lock when the process dies (kill -9 included), so the next run knows the
    files of a dead run are garbage and removes them at once.  On entry, files of dead
    runs are removed; :meth:`finish` removes this run's uncommitted files and notes.
    """

    def __init__(self, output: str, run_id: str):
        self.output, self.run_id, self._fh = output, run_id, None

    def __enter__(self):
        if is_local(self.output):
            # Locked before it is visible under its name: another run must never find
            # the lock file of a starting run unlocked and take the run for dead.
            final = os.path.join(self.output, LOCKS_DIR, f"{self.run_id}.lock")
            tmp = os.path.join(self.output, LOCKS_DIR, _tmp_lock_name(self.run_id))
            self._fh = _open_new(tmp)
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(tmp, final)
            remove_dead_runs(self.output)
        else:
            try:  # files of runs older than REMOTE_GRACE_S that no record names, and their spills
                collect_garbage(self.output)
                _remove_old_remote_spills(self.output)
            except Exception as exc:  # a listing error must not stop the run
                LOG.warning("%s: could not look for files of earlier runs: %s", self.output, exc)
        return self

    def finish(self, video_ids: list[str]) -> None:
        """Remove what this run leaves that no record names: files of videos it could not
        commit, its notes.  Call after the notes are read."""
        try:
            collect_garbage(self.output, video_ids, own_run=self.run_id)
            _remove_notes(self.output, self.run_id)
            remove_spill(spill_root(self.output, self.run_id))
        except OSError as exc:
            LOG.warning("could not remove this run's uncommitted files: %s", exc)

    def __exit__(self, *exc):
        if self._fh is not None:
            try:
                os.remove(os.path.join(self.output, LOCKS_DIR, f"{self.run_id}.lock"))
                os.rmdir(os.path.join(self.output, LOCKS_DIR))
            except OSError:
                pass  # other runs hold locks here
            self._fh.close()


def _remove_old_remote_spills(output: str) -> None:
    """On object stores: spill files (``_spill/<run_id>/<video>/<file>``) of runs that are over."""
    pattern = FileSystems.join(output, SPILL_DIR, "*", "*", "*")
    runs: set[str] = set()
    for result in FileSystems.match([pattern]):
        for m in result.metadata_list:
            runs.add(m.path[len(output.rstrip("/")) + 1:].split("/")[1])
    for run_id in runs:
        if not run_is_live(output, run_id):
            remove_spill(spill_root(output, run_id))


def _tmp_lock_name(run_id: str) -> str:
    return f".{run_id}.{_host()}.{os.getpid()}.lock.tmp"


def _host() -> str:
    return socket.gethostname().replace(".", "_")


def _process_alive(tmp_lock_name: str) -> bool:
    """Is the process that made this temp lock file (see _tmp_lock_name) still running?
    True when it ran on another host: that cannot be checked from here."""
    parts = tmp_lock_name.split(".")
    host, pid = parts[-4], parts[-3]
    if host != _host() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_runs(output: str) -> None:
    """Remove what runs that are over left behind: uncommitted data files, temp files,
    notes, spill files and lock files (local outputs)."""
    collect_garbage(output)
    _remove_dead_temps(output, COMMITS_DIR)
    locks = os.path.join(output, LOCKS_DIR)
    for name in os.listdir(locks) if os.path.isdir(locks) else []:
        path = os.path.join(locks, name)
        if name.endswith(".lock.tmp"):
            # A run killed while taking its lock.  One taking it now has only just created
            # the file (it lives for microseconds) and is a live process.
            try:
                stale = time.time() - os.path.getmtime(path) > 60 or not _process_alive(name)
            except FileNotFoundError:
                continue
            if stale and not _lock_held(path):
                _unlink_quietly(path)
        elif name.endswith(".lock") and not run_is_live(output, name.removesuffix(".lock")):
            _remove_notes(output, name.removesuffix(".lock"))
            _unlink_quietly(path)
    notes = os.path.join(output, NOTES_DIR)
    for run_id in os.listdir(notes) if os.path.isdir(notes) else []:
        if not run_is_live(output, run_id):
            _remove_notes(output, run_id)
    spills = os.path.join(output, SPILL_DIR)
    for run_id in os.listdir(spills) if os.path.isdir(spills) else []:
        if not run_is_live(output, run_id):
            remove_spill(spill_root(output, run_id))
