"""WriteTables: rows -> one Parquet file per (video, table, part) -> one commit per video.

The graph has the same transforms whatever the number of videos: every row is keyed by
the file it belongs to, one GroupByKey gathers each file's rows, one DoFn writes each
file with pyarrow through Beam FileSystems, and a second GroupByKey gathers each
video's files for its commit (``pipeline.commit``).

Memory: a ``poses`` file holds one part of a video, ``--range-frames`` frames (1500 by
default: about 37,500 rows for 25 people), so no element or file ever holds a whole
match.  The writer converts and writes ROWS_PER_BATCH rows at a time; whether the
group's rows are streamed from the shuffle or held in memory is the runner's choice
(Dataflow pages large groups; the local FnApiRunner holds one group at a time).
"""

from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.commit import collect_garbage, commit_video, write_note, write_part
from schemas.tables import TABLES

LOG = logging.getLogger("matchtag")


def file_key(table: str, row: dict, range_frames: int) -> tuple[str, str, int]:
    """(video_id, table, part): the file a row goes to.  ``poses`` rows are split by
    frame range; a video's other tables are one file each."""
    part = int(row["frame_index"]) // range_frames if table == "poses" else 0
    return row["video_id"], table, part


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
                commit_video(self.output, self.run_id, video_id, files, row)
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


class _NoteSkippedFn(beam.DoFn):
    def __init__(self, output: str, run_id: str):
        self.output, self.run_id = output, run_id

    def process(self, video_id):
        write_note(self.output, self.run_id, video_id, "skipped")


class WriteTables(beam.PTransform):
    """Write ``{table: PCollection of row dicts, "skipped": video ids}`` and commit each video.

    Every video gets at least one file per table (an empty one when it has no rows), so
    that each table's schema is readable from any one video.
    """

    def __init__(self, output: str, run_id: str, range_frames: int):
        super().__init__()
        self.output, self.run_id, self.range_frames = output, run_id, range_frames

    def expand(self, tables):
        rf = self.range_frames
        keyed = [tables[t] | f"Key{t.title()}Rows" >> beam.Map(lambda r, t=t: (file_key(t, r, rf), r))
                 for t in TABLES]
        placeholders = tables["videos"] | "OneFilePerTable" >> beam.FlatMap(
            lambda r: [((r["video_id"], t, 0), None) for t in TABLES])
        written = ((*keyed, placeholders)
                   | "AllRows" >> beam.Flatten()
                   | "GroupRowsByFile" >> beam.GroupByKey()
                   | "WriteFiles" >> beam.ParDo(_WriteFileFn(self.output, self.run_id)))
        rows = tables["videos"] | "VideosRowForCommit" >> beam.Map(lambda r: (r["video_id"], ("row", r)))
        if "skipped" in tables:
            _ = tables["skipped"] | "NoteSkipped" >> beam.ParDo(_NoteSkippedFn(self.output, self.run_id))
        return ((written, rows)
                | "FilesAndRows" >> beam.Flatten()
                | "GroupFilesByVideo" >> beam.GroupByKey()
                | "CommitVideos" >> beam.ParDo(_CommitVideoFn(self.output, self.run_id)))
