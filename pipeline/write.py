"""WriteTables: every table through WriteToParquet, hive-partitioned by video, then commit."""

from __future__ import annotations

import apache_beam as beam

from pipeline.commit import commit_video, discard_video, partition_dir, staging_root
from schemas.tables import TABLES, file_schema

SKIPPED = "__skipped__"


class _CommitVideoFn(beam.DoFn):
    def __init__(self, output: str, run_id: str):
        self.output = output
        self.run_id = run_id

    def process(self, element):
        video_id, tables = element
        tables = set(tables)
        if SKIPPED in tables:  # --skip-existing: keep what is committed
            discard_video(self.output, self.run_id, video_id)
            return
        missing = set(TABLES) - tables
        if missing:  # cannot happen unless a sink dropped its output
            raise RuntimeError(f"video {video_id}: tables {sorted(missing)} were not written")
        commit_video(self.output, self.run_id, video_id)
        yield video_id


class WriteTables(beam.PTransform):
    """Write ``{table: PCollection of row dicts}`` and commit each video's partitions.

    Each video gets its own WriteToParquet sink per table (so its partition is its
    own directory) under the run's staging directory; once all four tables of a
    video are written they are moved into place together (``pipeline.commit``).
    ``skipped``: video ids (--skip-existing) whose staged output is discarded.
    """

    def __init__(self, output: str, run_id: str, video_ids: list[str]):
        super().__init__()
        self.output = output
        self.run_id = run_id
        self.video_ids = list(video_ids)

    def expand(self, tables):
        index = {v: i for i, v in enumerate(self.video_ids)}
        n = len(self.video_ids)
        staging = staging_root(self.output, self.run_id)
        written = []
        for table in TABLES:
            schema = file_schema(table)
            parts = tables[table] | f"Split{table.title()}ByVideo" >> beam.Partition(
                lambda row, _n: index[row["video_id"]], n)
            for video_id, part in zip(self.video_ids, parts):
                done = (part
                        | f"Drop{table.title()}PartitionColumn[{video_id}]" >> beam.Map(
                            lambda r: {k: v for k, v in r.items() if k != "video_id"})
                        | f"Write{table.title()}[{video_id}]" >> beam.io.WriteToParquet(
                            partition_dir(staging, table, video_id) + "/part", schema,
                            file_name_suffix=".parquet"))
                written.append(done | f"Written{table.title()}[{video_id}]" >> beam.Map(
                    lambda _, v=video_id, t=table: (v, t)))
        if "skipped" in tables:
            written.append(tables["skipped"] | "MarkSkipped" >> beam.Map(lambda v: (v, SKIPPED)))

        return (written
                | "AllWrites" >> beam.Flatten()
                | "Distinct" >> beam.Distinct()
                | "GroupTablesByVideo" >> beam.GroupByKey()
                | "CommitPartitions" >> beam.ParDo(_CommitVideoFn(self.output, self.run_id)))
