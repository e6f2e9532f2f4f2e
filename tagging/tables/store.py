"""Where the tag tables' files are, as pyarrow datasets: the one place readers find them.

Every reader of the tables (``read_table``, the query API, the report) goes through
:func:`table_dataset`, so that how a table is laid out on disk, and which of its files
are committed, is decided here and nowhere else.

Layout (see docs/reliability.md, "Atomic commits")::

    DIR/<table>/video_id=<id>/<run_id>-<part>.parquet   immutable data files
    DIR/_commits/video_id=<id>.json                     the video's commit record

A video's commit record names, for each of the four tables, the files of one run.
Replacing that record (one ``os.replace`` locally, one object write on gs:// or s3://)
is the only step that changes what a reader sees, so a reader that lists files through
the records sees each video's four tables from one run, whatever else lies in the
folders (files of a run still writing, of a killed run, or superseded ones not yet
removed).
"""

from __future__ import annotations

import json
import posixpath
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from schemas.tables import PARTITION_COLUMN, RUNS, TABLE_SCHEMAS, TABLES, TABLES_ADDED, file_schema

COMMITS_DIR = "_commits"
RECORD_SUFFIX = ".json"

RUNS_PARTITION_COLUMN = "run_id"


def _partitioning(column: str) -> ds.Partitioning:
    # The partition value is always a string: an all-digit video id ("12345") must not be
    # read back as an integer (filters on it would fail, and ids would change type).
    return ds.partitioning(pa.schema([pa.field(column, pa.string())]), flavor="hive")


_PARTITIONING = _partitioning(PARTITION_COLUMN)


@dataclass(frozen=True)
class CommitRecord:
    """What ``DIR/_commits/video_id=<id>.json`` says: the committed version of one video.

    ``files``: for each table, paths relative to ``DIR`` (``poses/video_id=x/<run>-00000.parquet``).
    """

    video_id: str
    run_id: str
    files: dict[str, list[str]]
    status: str | None = None
    sha256: str | None = None
    tagging_config: str | None = None
    committed_at: str | None = None

    def to_json(self) -> str:
        return json.dumps({"video_id": self.video_id, "run_id": self.run_id, "status": self.status,
                           "sha256": self.sha256, "tagging_config": self.tagging_config,
                           "committed_at": self.committed_at, "files": self.files},
                          sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> "CommitRecord":
        try:
            d = json.loads(text)
            files = {t: [str(p) for p in (d["files"].get(t, []) if t in TABLES_ADDED else d["files"][t])]
                     for t in TABLES}
            return cls(str(d["video_id"]), str(d["run_id"]), files, d.get("status"), d.get("sha256"),
                       d.get("tagging_config"), d.get("committed_at"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: not a matchtag commit record ({type(exc).__name__}: {exc})") from None


def partition_path(table: str, video_id: str) -> str:
    """``<table>/video_id=<id>``, relative to the output folder."""
    return f"{table}/{PARTITION_COLUMN}={video_id}"


def record_name(video_id: str) -> str:
    return f"{PARTITION_COLUMN}={video_id}{RECORD_SUFFIX}"


def _filesystem(root: str | Path) -> tuple[pafs.FileSystem, str]:
    """(pyarrow filesystem, path inside it) of a local folder or a gs:// / s3:// URI."""
    root = str(root)
    if "://" in root:
        return pafs.FileSystem.from_uri(root)
    return pafs.LocalFileSystem(), str(Path(root).absolute())


def _read_records(fs: pafs.FileSystem, base: str) -> dict[str, CommitRecord]:
    folder = posixpath.join(base, COMMITS_DIR)
    try:
        infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    except OSError:
        return {}
    records = {}
    for info in infos:
        name = info.base_name
        # temp files of a record being written start with "."
        if info.type != pafs.FileType.File or not name.startswith(f"{PARTITION_COLUMN}=") \
                or not name.endswith(RECORD_SUFFIX):
            continue
        try:
            with fs.open_input_stream(info.path) as fh:
                record = CommitRecord.from_json(fh.read(), info.path)
        except FileNotFoundError:  # replaced between listing and reading: read the new one
            record = _read_record(fs, base, name[len(PARTITION_COLUMN) + 1: -len(RECORD_SUFFIX)])
            if record is None:
                continue
        records[record.video_id] = record
    return records


def _read_record(fs: pafs.FileSystem, base: str, video_id: str) -> CommitRecord | None:
    path = posixpath.join(base, COMMITS_DIR, record_name(video_id))
    try:
        with fs.open_input_stream(path) as fh:
            return CommitRecord.from_json(fh.read(), path)
    except FileNotFoundError:
        return None


def commit_local(root: str | Path, record: CommitRecord) -> None:
    """Write the commit record of a local output in one atomic step (temp file, then
    ``os.replace``): for writers outside the pipeline, such as the synthetic tables of
    ``tagging.events.synth``.  The pipeline commits through ``pipeline.commit``."""
    import os

    folder = Path(root) / COMMITS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{record_name(record.video_id)}.{record.run_id}.{os.getpid()}.tmp"
    tmp.write_text(record.to_json())
    os.replace(tmp, folder / record_name(record.video_id))


def commit_records(root: str | Path) -> dict[str, CommitRecord]:
    """Every committed video of ``root``: ``{video_id: CommitRecord}``."""
    fs, base = _filesystem(root)
    return _read_records(fs, base)


def read_commit(root: str | Path, video_id: str) -> CommitRecord | None:
    """The commit record of one video, or None when it was never committed."""
    fs, base = _filesystem(root)
    return _read_record(fs, base, video_id)


def table_dataset(root: str | Path, table: str, records: dict[str, CommitRecord] | None = None) -> ds.Dataset:
    """The committed files of ``root/<table>`` as a dataset: the table's schema plus
    ``video_id`` (string) from the partition folders.  ``runs`` (one file per run, written
    whole by the launcher, partitioned by ``run_id``) is read as it lies.

    Only files named by a video's commit record are listed, so files of runs still
    writing, killed or superseded are never read.  ``records`` (from
    :func:`commit_records`): read the tables of that one snapshot, so that several
    tables read one after the other agree video by video.  Raises ``FileNotFoundError``
    naming the folder when ``root`` holds no tables.
    """
    if table == "runs":
        return _runs_dataset(root)
    if table not in TABLE_SCHEMAS:
        raise ValueError(f"unknown table {table!r}: one of {', '.join((*TABLE_SCHEMAS, 'runs'))}")
    fs, base = _filesystem(root)
    records = _read_records(fs, base) if records is None else records
    if not records and fs.get_file_info(posixpath.join(base, table)).type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{posixpath.join(str(root), table)}: no {table} table there "
                                f"(is {root} the output of `matchtag run`?)")
    files = [posixpath.join(base, rel) for vid in sorted(records) for rel in records[vid].files[table]]
    schema = file_schema(table).append(pa.field(PARTITION_COLUMN, pa.string()))
    return ds.dataset(files, schema=schema, format="parquet", filesystem=fs, partitioning=_PARTITIONING,
                      partition_base_dir=posixpath.join(base, table))


def _runs_dataset(root: str | Path) -> ds.Dataset:
    """``root/runs``: each run's row is one file written by its launcher, not a per-video
    commit, so every file there is read."""
    fs, base = _filesystem(root)
    path = posixpath.join(base, "runs")
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{posixpath.join(str(root), 'runs')}: no runs table there "
                                f"(is {root} the output of `matchtag run`?)")
    schema = RUNS.remove(RUNS.get_field_index(RUNS_PARTITION_COLUMN)).append(
        pa.field(RUNS_PARTITION_COLUMN, pa.string()))
    return ds.dataset(path, format="parquet", filesystem=fs, partitioning=_partitioning(RUNS_PARTITION_COLUMN),
                      schema=schema, exclude_invalid_files=False)


_READ_ATTEMPTS = 8  # about 2.5 s of pauses in all


def read_consistent(root: str | Path, read):
    """``read(records)`` on a fresh snapshot of the commit records of ``root``.

    A run that commits a newer version of a video while we read removes the files we had
    listed (``FileNotFoundError``): take a new snapshot, after a pause, and read again.
    """
    for attempt in range(_READ_ATTEMPTS):
        try:
            return read(commit_records(root))
        except FileNotFoundError:
            if attempt == _READ_ATTEMPTS - 1:
                raise
            time.sleep(0.02 * 2 ** attempt)
