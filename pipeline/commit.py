"""Make a video's partitions visible only once all its tables are written.

Each sink writes under ``OUTPUT/_staging/<run_id>/<table>/video_id=<id>/``.  When
every table of a video has been written, its partitions are moved into
``OUTPUT/<table>/video_id=<id>/``, replacing what a previous run wrote there, with
the ``videos`` partition last (a videos row therefore means the other tables of
that video are in place).  Locally a partition directory is swapped in with one
``rename``; on other filesystems (gs://, s3://) the files are moved one by one.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid

from apache_beam.io.filesystems import FileSystems

from schemas.tables import PARTITION_COLUMN, TABLES

# videos last: it is the marker that the rest of the video is complete.
COMMIT_ORDER = tuple(t for t in TABLES if t != "videos") + ("videos",)


def staging_root(output: str, run_id: str) -> str:
    return FileSystems.join(output, "_staging", run_id)


def partition_dir(root: str, table: str, video_id: str) -> str:
    return FileSystems.join(root, table, f"{PARTITION_COLUMN}={video_id}")


def _is_local(path: str) -> bool:
    return "://" not in path


def _swap_local(src: str, dst: str, trash_root: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    old = None
    if os.path.exists(dst):
        old = os.path.join(trash_root, uuid.uuid4().hex)
        os.makedirs(trash_root, exist_ok=True)
        os.rename(dst, old)
    os.rename(src, dst)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _swap_remote(src: str, dst: str) -> None:
    existing = [m.path for r in FileSystems.match([dst.rstrip("/") + "/*"]) for m in r.metadata_list]
    if existing:
        FileSystems.delete(existing)
    sources = [m.path for r in FileSystems.match([src.rstrip("/") + "/*"]) for m in r.metadata_list]
    FileSystems.rename(sources, [FileSystems.join(dst, s.rsplit("/", 1)[-1]) for s in sources])


def commit_video(output: str, run_id: str, video_id: str) -> None:
    """Move all staged partitions of ``video_id`` into place (videos table last)."""
    staging = staging_root(output, run_id)
    trash = FileSystems.join(output, "_staging", run_id + "-replaced")
    for table in COMMIT_ORDER:
        src = partition_dir(staging, table, video_id)
        dst = partition_dir(output, table, video_id)
        if _is_local(output):
            _swap_local(src, dst, trash)
        else:
            _swap_remote(src, dst)


def discard_video(output: str, run_id: str, video_id: str) -> None:
    """Drop the staged partitions of a video that is not to be committed (skipped)."""
    staging = staging_root(output, run_id)
    for table in COMMIT_ORDER:
        src = partition_dir(staging, table, video_id)
        if _is_local(output):
            shutil.rmtree(src, ignore_errors=True)
        else:
            files = [m.path for r in FileSystems.match([src.rstrip("/") + "/*"]) for m in r.metadata_list]
            if files:
                FileSystems.delete(files)


def read_committed_video(output: str, video_id: str) -> dict | None:
    """The committed ``videos`` row of ``video_id`` in ``output``, or None."""
    import pyarrow.parquet as pq

    pattern = partition_dir(output, "videos", video_id).rstrip("/") + "/*.parquet"
    try:
        files = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    except Exception:  # nothing there (BeamIOError) or no such directory
        return None
    for path in files:
        with FileSystems.open(path) as fh:
            rows = pq.read_table(fh).to_pylist()
        if rows:
            return rows[0]
    return None


class StagingLock:
    """Marks a run's staging directory as live (local outputs): an ``flock`` held for
    the run's lifetime.  Staging left by runs that died (kill -9) holds no lock and
    is removed by the next run, so crashes do not leak disk."""

    def __init__(self, output: str, run_id: str):
        self.output, self.run_id, self._fh = output, run_id, None

    def __enter__(self):
        if _is_local(self.output):
            root = os.path.join(self.output, "_staging")
            os.makedirs(root, exist_ok=True)
            self._fh = open(os.path.join(root, f"{self.run_id}.lock"), "w")
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            remove_dead_staging(self.output)
        return self

    def __exit__(self, *exc):
        if self._fh is not None:
            self._fh.close()
            try:
                os.remove(os.path.join(self.output, "_staging", f"{self.run_id}.lock"))
                os.rmdir(os.path.join(self.output, "_staging"))
            except OSError:
                pass  # other runs are staging here


def remove_dead_staging(output: str, max_age_s: float = 24 * 3600) -> list[str]:
    """Remove staging of runs that are gone: unlocked (local) or older than ``max_age_s``."""
    root = os.path.join(output, "_staging")
    removed: list[str] = []
    if not os.path.isdir(root):
        return removed
    names = os.listdir(root)
    run_ids = {n.removesuffix(".lock").removesuffix("-replaced") for n in names}
    for run_id in run_ids:
        lock = os.path.join(root, f"{run_id}.lock")
        dirs = [os.path.join(root, n) for n in (run_id, run_id + "-replaced") if n in names]
        if os.path.exists(lock):
            with open(lock, "a") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(fh, fcntl.LOCK_UN)
                    alive = False
                except OSError:
                    alive = True
        else:  # no lock file: a run from elsewhere (remote launcher); keep until it is old
            alive = any(time.time() - os.path.getmtime(d) < max_age_s for d in dirs)
        if alive:
            continue
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
        if os.path.exists(lock):
            os.remove(lock)
        removed.append(run_id)
    return removed


def cleanup_staging(output: str, run_id: str) -> None:
    """Remove this run's staging (what is left after every video was committed)."""
    for suffix in ("", "-replaced"):
        path = staging_root(output, run_id) + suffix
        if _is_local(output):
            shutil.rmtree(path, ignore_errors=True)
        elif FileSystems.exists(path):
            FileSystems.delete([path])
