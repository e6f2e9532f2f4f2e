"""WriteTables: rows -> one Parquet file per (video, table, part) -> one commit per video.

The graph has the same transforms whatever the number of videos: every row is keyed by
the file it belongs to, one GroupByKey gathers each file's rows, one DoFn writes each
file with pyarrow through Beam FileSystems, and a second GroupByKey gathers each
video's files for its commit (``pipeline.commit``).

The ``poses`` and ``balls`` files, one per spilled block of ``--range-frames`` frames,
are written earlier, straight from the spill files (``pipeline.transforms.FinishBlocks``),
and join here as file items: their rows never cross a shuffle, which on the local
FnApiRunner would hold them all in memory at once.  The small tables (``videos``,
``tracks``, ``events``) are grouped per file here; the writer converts and writes
ROWS_PER_BATCH rows at a time.
"""

from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.commit import collect_garbage, commit_video, write_note, write_part
from pipeline.spill import remove_spill, spill_video_dir
from schemas.tables import TABLES

LOG = logging.getLogger("matchtag")


class _WriteFileFn(beam.DoFn):
    """((video_id, table, part), rows) -> (video_id, ("file", table, path)) or, when the
    file cannot be written (full disk, permissions), (video_id, ("error", table, message))."""

    def __init__(self, output: str, run_id: str):
        self.output, self.run_id = output, run_id

    def process(self, element):
        (video_id, table, part), rows = element
        try:
            yield video_id, ("file", table, write_part(self.output, self.run_id, table, video_id, part, rows))
        except Exception as exc:  # one video's failed write must not sink the batch
            LOG.error("%s: could not write its %s table: %s", video_id, table, exc)
            yield video_id, ("error", table, f"could not write its {table} table under {self.output}: {exc}")


class _CommitVideoFn(beam.DoFn):
    """(video_id, [file, error and row items]) -> video_id, once its four tables are committed."""

    def __init__(self, output: str, run_id: str):
        self.output, self.run_id = output, run_id
        self.write_failed = Metrics.counter("matchtag", "videos_write_failed")

    def process(self, element):
        video_id, items = element
        files: dict[str, list[str]] = {t: [] for t in TABLES}
        errors, row = [], None
        for kind, *rest in items:
            if kind == "file":
                files[rest[0]].append(rest[1])
            elif kind == "error":
                errors.append(rest[1])
            else:
                row = rest[0]
        if row is None:  # cannot happen unless a stage dropped the video's row
            errors.append("no videos row was produced")
        if not errors:
            try:
                # every table gets a file, empty when the video has no rows of it, so that
                # each table's schema is readable from any one video
                for table in TABLES:
                    if not files[table]:
                        files[table].append(write_part(self.output, self.run_id, table, video_id, 0, []))
                commit_video(self.output, self.run_id, video_id, files, row)
                remove_spill(spill_video_dir(self.output, self.run_id, video_id))
                yield video_id
                return
            except Exception as exc:
                errors.append(f"could not commit under {self.output}: {exc}")
        # Not committed: what was committed before stays; this run's files of it go.
        self.write_failed.inc()
        errors = list(dict.fromkeys(errors))  # one line per table, not per file
        LOG.error("%s: not committed: %s", video_id, "; ".join(errors))
        write_note(self.output, self.run_id, video_id, "failed", "; ".join(errors))
        try:
            collect_garbage(self.output, [video_id], own_run=self.run_id)
        except OSError:
            pass  # the launcher's clean-up tries again
        remove_spill(spill_video_dir(self.output, self.run_id, video_id))


class _NoteSkippedFn(beam.DoFn):
    def __init__(self, output: str, run_id: str):
        self.output, self.run_id = output, run_id

    def process(self, video_id):
        write_note(self.output, self.run_id, video_id, "skipped")


class WriteTables(beam.PTransform):
    """Write ``{"videos" | "tracks" | "events": PCollection of row dicts, "files": file items
    already written (``FinishBlocks``), "skipped": video ids}`` and commit each video.

    Every video gets at least one file per table (an empty one when it has no rows), so
    that each table's schema is readable from any one video.
    """

    ROW_TABLES = ("videos", "tracks", "events")

    def __init__(self, output: str, run_id: str):
        super().__init__()
        self.output, self.run_id = output, run_id

    def expand(self, tables):
        keyed = [tables[t] | f"Key{t.title()}Rows" >> beam.Map(lambda r, t=t: ((r["video_id"], t, 0), r))
                 for t in self.ROW_TABLES]
        written = (keyed
                   | "AllRows" >> beam.Flatten()
                   | "GroupRowsByFile" >> beam.GroupByKey()
                   | "WriteFiles" >> beam.ParDo(_WriteFileFn(self.output, self.run_id)))
        rows = tables["videos"] | "VideosRowForCommit" >> beam.Map(lambda r: (r["video_id"], ("row", r)))
        if "skipped" in tables:
            _ = tables["skipped"] | "NoteSkipped" >> beam.ParDo(_NoteSkippedFn(self.output, self.run_id))
        return ((written, tables["files"], rows)
                | "FilesAndRows" >> beam.Flatten()
                | "GroupFilesByVideo" >> beam.GroupByKey()
                | "CommitVideos" >> beam.ParDo(_CommitVideoFn(self.output, self.run_id)))
