"""Make a video's partitions visible only once all its tables are written.

Each sink writes under ``OUTPUT/_staging/<run_id>/<table>/video_id=<id>/``.  When
every table of a video has been written, its partitions are moved into
``OUTPUT/<table>/video_id=<id>/``, replacing what a previous run wrote there, with
the ``videos`` partition last (a videos row therefore means the other tables of
that video are in place).  Locally a partition directory is swapped in with one
``rename``; on other filesystems (gs://, s3://) the files are moved one by one.
"""

from __future__ import annotations

import os
import shutil
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


def cleanup_staging(output: str, run_id: str) -> None:
    for suffix in ("", "-replaced"):
        path = staging_root(output, run_id) + suffix
        if _is_local(output):
            shutil.rmtree(path, ignore_errors=True)
        elif FileSystems.exists(path):
            FileSystems.delete([path])
    if _is_local(output):
        try:
            os.rmdir(FileSystems.join(output, "_staging"))
        except OSError:
            pass  # other runs still staging, or already gone
