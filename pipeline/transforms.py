"""One named Beam transform per stage; the logic itself lives in ``tagging``."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline import rows
from pipeline.commit import commit_video, partition_dir, staging_root
from pipeline.model_handler import PoseModelHandler, PoseStageConfig
from schemas.tables import TABLES, file_schema
from tagging import __version__
from tagging.events import tag_events
from tagging.tracking import IoUTrackerConfig, summarize_tracks, track_frames, track_sequences
from tagging.video import FrameReader, VideoError, file_sha256

LOG = logging.getLogger("matchtag")
NAMESPACE = "matchtag"
VIDEOS_TAG = "videos"


@contextlib.contextmanager
def local_copy(path: str):
    """A local file path for ``path``; URIs (gs://, s3://) are copied to a temp file."""
    if "://" not in path:
        yield path
        return
    suffix = os.path.splitext(path)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with FileSystems.open(path) as src:
            shutil.copyfileobj(src, tmp, 1 << 22)
        tmp.flush()
        yield tmp.name


class DecodeVideoFn(beam.DoFn):
    """(video_id, path) -> frames ``((video_id, frame_index, timestamp_ms), rgb)``.

    Also emits one ``videos`` row per input on the ``videos`` output.  A file that
    cannot be opened gives a ``failed`` row; one that breaks off mid-stream keeps
    the frames decoded before the damage and gives a ``partial`` row.
    """

    def __init__(self, stride: int, max_frames: int | None, pose_backend: str):
        self.stride = stride
        self.max_frames = max_frames
        self.pose_backend = pose_backend
        self.frames_decoded = Metrics.counter(NAMESPACE, "frames_decoded")
        self.videos_failed = Metrics.counter(NAMESPACE, "videos_failed")
        self.videos_ok = Metrics.counter(NAMESPACE, "videos_ok")

    def process(self, element):
        video_id, path = element
        row = {"video_id": video_id, "path": path, "sha256": None, "fps": None, "frame_count": None,
               "width": None, "height": None, "duration_ms": None, "status": "failed", "error": None,
               "frames_processed": 0, "pose_backend": self.pose_backend, "pipeline_version": __version__}
        reader = None
        try:
            with local_copy(path) as local:
                reader = FrameReader(local, self.stride, self.max_frames)
                info = reader.info
                row.update(fps=info.fps, width=info.width, height=info.height,
                           sha256=file_sha256(local))
                for frame in reader:
                    self.frames_decoded.inc()
                    yield (video_id, frame.index, frame.timestamp_ms), frame.image
            if reader.truncated:
                row.update(status="partial", error=(
                    f"{path}: decoding stopped after {reader.frames_seen} of "
                    f"{reader.info.frame_count} declared frames (file damaged or truncated); "
                    "frames before that point were tagged"))
            else:
                row.update(status="ok")
        except VideoError as exc:
            row.update(error=str(exc))
        except Exception as exc:  # one bad video must never sink the batch
            LOG.exception("decoding %s failed", path)
            partial = reader is not None and reader.frames_kept > 0
            row.update(status="partial" if partial else "failed",
                       error=f"{path}: {type(exc).__name__}: {exc}")
        if reader is not None:
            row["frame_count"] = reader.frames_seen
            row["frames_processed"] = reader.frames_kept
            if reader.info.fps > 0:
                row["duration_ms"] = reader.frames_seen * 1000.0 / reader.info.fps
        (self.videos_failed if row["status"] == "failed" else self.videos_ok).inc()
        if row["status"] != "ok":
            LOG.warning("%s", row["error"])
        yield TaggedOutput(VIDEOS_TAG, row)


class DecodeFrames(beam.PTransform):
    """Videos -> frames (main output) and ``videos`` rows (output ``videos``)."""

    def __init__(self, stride: int, max_frames: int | None, pose_backend: str):
        super().__init__()
        self._fn = DecodeVideoFn(stride, max_frames, pose_backend)

    def expand(self, videos):
        return (videos
                | "Reshuffle" >> beam.Reshuffle()  # spread videos over workers
                | "Decode" >> beam.ParDo(self._fn).with_outputs(VIDEOS_TAG, main="frames"))


class EstimatePoses(beam.PTransform):
    """Frames -> ``(video_id, (frame_index, timestamp_ms, FramePoses))`` via RunInference."""

    def __init__(self, config: PoseStageConfig, max_batch_size: int):
        super().__init__()
        self._handler = KeyedModelHandler(PoseModelHandler(config, max_batch_size))

    def expand(self, frames):
        people = Metrics.counter(NAMESPACE, "people_detected")

        def to_video_key(result):
            (video_id, frame_index, ts), prediction = result
            people.inc(len(prediction.inference))
            return video_id, (frame_index, ts, prediction.inference)

        return (frames
                | "RunInference" >> RunInference(self._handler)
                | "KeyByVideo" >> beam.Map(to_video_key))


class TrackPlayers(beam.PTransform):
    """Per-video poses -> ``(video_id, tracked)`` with track ids filled in."""

    def __init__(self, config: IoUTrackerConfig = IoUTrackerConfig()):
        super().__init__()
        self._config = config

    def expand(self, poses):
        config = self._config
        return (poses
                | "GroupByVideo" >> beam.GroupByKey()
                | "Track" >> beam.MapTuple(lambda vid, frames: (vid, track_frames(frames, config))))


class TagEvents(beam.PTransform):
    """Tracked poses -> ``events`` rows (throw-in rule)."""

    def expand(self, tracked):
        events = Metrics.counter(NAMESPACE, "events")

        def tag(video_id, frames):
            for event in tag_events(track_sequences(frames)):
                events.inc()
                yield rows.event_row(video_id, event)

        return tracked | "Tag" >> beam.FlatMapTuple(tag)


class FormatTables(beam.PTransform):
    """Tracked poses -> ``poses`` and ``tracks`` rows (a dict of PCollections)."""

    def expand(self, tracked):
        def pose_rows(video_id, frames):
            for frame_index, ts, poses in frames:
                yield from rows.pose_rows(video_id, frame_index, ts, poses)

        def track_rows(video_id, frames):
            return [rows.track_row(video_id, s) for s in summarize_tracks(frames)]

        return {"poses": tracked | "PoseRows" >> beam.FlatMapTuple(pose_rows),
                "tracks": tracked | "TrackRows" >> beam.FlatMapTuple(track_rows)}


class _CommitVideoFn(beam.DoFn):
    def __init__(self, output: str, run_id: str):
        self.output = output
        self.run_id = run_id

    def process(self, element):
        video_id, tables = element
        missing = set(TABLES) - set(tables)
        if missing:  # cannot happen unless a sink dropped its output
            raise RuntimeError(f"video {video_id}: tables {sorted(missing)} were not written")
        commit_video(self.output, self.run_id, video_id)
        yield video_id


class WriteTables(beam.PTransform):
    """Write every table with WriteToParquet, hive-partitioned by video, then commit.

    ``tables``: ``{table: PCollection of row dicts}``.  Each video gets its own sink
    per table (so its partition is its own directory) and its partitions become
    visible together once all of them are written.
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
        return (written
                | "AllWrites" >> beam.Flatten()
                | "Distinct" >> beam.Distinct()
                | "GroupTablesByVideo" >> beam.GroupByKey()
                | "CommitPartitions" >> beam.ParDo(_CommitVideoFn(self.output, self.run_id)))
