"""DecodeFrames: videos -> frame ranges decoded in parallel -> frames, plus ``videos`` rows.

A video is never read by one worker in one bundle: ``PlanRanges`` probes and hashes
each file and cuts it into frame ranges (``--range-frames``, 1500 by default: 60 s
at 25 fps); the ranges are reshuffled over workers, and each ``DecodeRange`` seeks
to its start.  Frame indexes stay those of the file.  Each range reports how far it
got; ``SummarizeVideos`` joins those reports with the plan into one ``videos`` row.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline.commit import already_tagged
from tagging import __version__
from tagging.core.hashing import sha256_file
from tagging.video.inputs import VideoJob
from tagging.video.reader import FrameReader, VideoError, plan_ranges, probe

LOG = logging.getLogger("matchtag")
NAMESPACE = "matchtag"
VIDEOS_TAG = "videos"
SKIPPED_TAG = "skipped"


@dataclass(frozen=True)
class DecodeSettings:
    output: str
    run_id: str
    tagging_config: str        # canonical JSON; see pipeline.options.tagging_config
    pose_backend: str
    stride: int = 1
    max_frames: int | None = None
    range_frames: int = 1500
    skip_existing: bool = False
    retry_failed: bool = False
    progress: bool = False


def _frames_to_process(declared: int, s: DecodeSettings) -> int | None:
    total = -(-declared // s.stride) if declared > 0 else None
    if s.max_frames:
        total = min(total, s.max_frames) if total else s.max_frames
    return total


class _LastRemoteCopy:
    """Keeps the local copy of the last remote video a worker decoded.

    A match is cut into many ranges; without this, every range of a gs:// or s3://
    video would download the whole file again.  Local paths are used as they are.
    """

    def __init__(self):
        self._path: str | None = None
        self._tmp = None

    def get(self, path: str) -> str:
        if "://" not in path:
            return path
        if path != self._path:
            self.release()
            suffix = os.path.splitext(path)[1]
            self._tmp = tempfile.NamedTemporaryFile(suffix=suffix)
            with FileSystems.open(path) as src:
                shutil.copyfileobj(src, self._tmp, 1 << 22)
            self._tmp.flush()
            self._path = path
        return self._tmp.name

    def release(self) -> None:
        if self._tmp is not None:
            self._tmp.close()
        self._path, self._tmp = None, None


class _Progress:
    """One tqdm bar per video in this worker process (local runs only)."""

    _bars: dict = {}
    _lock = threading.Lock()

    @classmethod
    def update(cls, video_id: str, total: int | None, n: int = 1) -> None:
        """Advance ``video_id``'s bar by ``n`` processed frames out of ``total``."""
        from tqdm import tqdm

        with cls._lock:
            bar = cls._bars.get(video_id)
            if bar is None:
                bar = cls._bars[video_id] = tqdm(total=total or None, desc=video_id, unit="frame",
                                                 file=sys.stderr, leave=True, dynamic_ncols=True)
            bar.update(n)

    @classmethod
    def close(cls, video_id: str) -> None:
        with cls._lock:
            bar = cls._bars.pop(video_id, None)
        if bar is not None:
            bar.close()


def _base_row(job: VideoJob, s: DecodeSettings) -> dict:
    row = {"video_id": job.video_id, "path": job.path, "sha256": None, "fps": None, "frame_count": None,
           "width": None, "height": None, "duration_ms": None, "status": "failed", "error": None,
           "frames_processed": 0, "pose_backend": s.pose_backend, "pipeline_version": __version__,
           "tagging_config": s.tagging_config, "run_id": s.run_id, "tagged_at": None}
    for key in ("competition", "season", "match_date", "home", "away"):
        value = job.metadata.get(key)
        row[key] = None if value in (None, "") else str(value)
    return row


class _VideoFileFn(beam.DoFn):
    """A DoFn that reads video files, remote ones through a worker-local copy."""

    def __init__(self, settings: DecodeSettings):
        self.s = settings

    def setup(self):
        self._copies = _LastRemoteCopy()

    def teardown(self):
        self._copies.release()


class PlanRangesFn(_VideoFileFn):
    """VideoJob -> ranges ``(job, start, stop)``; plans on ``videos``; skips on ``skipped``."""

    def __init__(self, settings: DecodeSettings):
        super().__init__(settings)
        self.skipped = Metrics.counter(NAMESPACE, "videos_skipped")

    def process(self, job: VideoJob):
        s = self.s
        plan = _base_row(job, s)
        info = None
        try:
            local = self._copies.get(job.path)
            # Hash first: a file that is readable but not decodable still gets a
            # hash, so --skip-existing does not retry the same broken bytes nightly.
            plan["sha256"] = sha256_file(local) if os.path.isfile(local) else None
            info = probe(local)
            plan.update(fps=info.fps, width=info.width, height=info.height,
                        declared_frames=info.frame_count)
        except VideoError as exc:
            plan["error"] = str(exc)
        except Exception as exc:  # unreadable URI, permissions, ...
            plan["error"] = f"{job.path}: {type(exc).__name__}: {exc}"
        # A failure before hashing (I/O, permissions) has no sha256 and is always retried.
        if s.skip_existing and plan["sha256"] is not None and already_tagged(
                s.output, job.video_id, plan["sha256"], s.tagging_config, s.retry_failed):
            self.skipped.inc()
            LOG.info("%s: already tagged with the same content and config; skipped", job.video_id)
            yield TaggedOutput(SKIPPED_TAG, job.video_id)
            return
        if info is None:
            yield TaggedOutput(VIDEOS_TAG, (job.video_id, plan))
            return
        limit = s.max_frames * s.stride if s.max_frames else None
        for start, stop in plan_ranges(info.frame_count, s.range_frames, s.stride, limit):
            yield job, start, stop
        yield TaggedOutput(VIDEOS_TAG, (job.video_id, plan))


class DecodeRangeFn(_VideoFileFn):
    """(job, start, stop) -> frames ``((video_id, frame_index, timestamp_ms), rgb)``;
    a report of how far the range got on ``videos``."""

    def __init__(self, settings: DecodeSettings):
        super().__init__(settings)
        self.frames_decoded = Metrics.counter(NAMESPACE, "frames_decoded")

    def process(self, element):
        job, start, stop = element
        s = self.s
        report = {"start": start, "stop": stop, "frames_seen": 0, "frames_kept": 0, "last_index": start - 1,
                  "truncated": False, "error": None}
        reader = None
        try:
            reader = FrameReader(self._copies.get(job.path), s.stride, None, start, stop)
            for frame in reader:
                self.frames_decoded.inc()
                if s.progress:
                    _Progress.update(job.video_id, _frames_to_process(reader.info.frame_count, s))
                yield (job.video_id, frame.index, frame.timestamp_ms), frame.image
            report["truncated"] = reader.truncated
        except Exception as exc:  # one bad video must never sink the batch
            LOG.exception("decoding %s frames [%s, %s) failed", job.path, start, stop)
            report["error"] = f"{type(exc).__name__}: {exc}"
        if reader is not None:
            report.update(frames_seen=reader.frames_seen, frames_kept=reader.frames_kept,
                          last_index=reader.last_index, declared=reader.info.frame_count)
        yield TaggedOutput(VIDEOS_TAG, (job.video_id, report))


def summarize_video(video_id: str, plans: list[dict], reports: list[dict]) -> dict:
    """One ``videos`` row from the plan and all range reports of a video."""
    (row,) = plans
    row = dict(row)
    declared = row.pop("declared_frames", None)
    row["tagged_at"] = dt.datetime.now(dt.timezone.utc)
    if row["error"] is not None:  # probing failed: row already says why
        return row
    reports = sorted(reports, key=lambda r: r["start"])
    seen = sum(r["frames_seen"] for r in reports)
    kept = sum(r["frames_kept"] for r in reports)
    row.update(frame_count=seen, frames_processed=kept,
               duration_ms=seen * 1000.0 / row["fps"] if row["fps"] else None)
    broken = [r for r in reports if r["truncated"] or r["error"]]
    if not broken:
        row.update(status="ok", error=None)
        return row
    first = broken[0]
    stopped_at = first["last_index"] + 1
    detail = f"; {first['error']}" if first["error"] else ""
    row.update(status="partial" if kept else "failed",
               error=(f"{row['path']}: decoding stopped at frame {stopped_at} of {declared} declared "
                      f"(file damaged or truncated){detail}"
                      + ("; frames before that point were tagged" if kept else "")))
    return row


class DecodeFrames(beam.PTransform):
    """VideoJobs -> frames (main output), ``videos`` rows and skipped video ids."""

    def __init__(self, settings: DecodeSettings):
        super().__init__()
        self.s = settings

    def expand(self, jobs):
        s = self.s
        planned = (jobs
                   | "PlanRanges" >> beam.ParDo(PlanRangesFn(s)).with_outputs(
                       VIDEOS_TAG, SKIPPED_TAG, main="ranges"))
        decoded = (planned.ranges
                   | "SpreadRanges" >> beam.Reshuffle()
                   | "DecodeRange" >> beam.ParDo(DecodeRangeFn(s)).with_outputs(VIDEOS_TAG, main="frames"))
        failed = Metrics.counter(NAMESPACE, "videos_failed")
        partial = Metrics.counter(NAMESPACE, "videos_partial")
        ok = Metrics.counter(NAMESPACE, "videos_ok")

        def summarize(item):
            video_id, grouped = item
            row = summarize_video(video_id, list(grouped["plan"]), list(grouped["reports"]))
            {"ok": ok, "partial": partial}.get(row["status"], failed).inc()
            if row["status"] != "ok":
                LOG.warning("%s", row["error"])
            if s.progress:
                _Progress.close(video_id)
            return row

        videos = ({"plan": planned[VIDEOS_TAG], "reports": decoded[VIDEOS_TAG]}
                  | "JoinRangeReports" >> beam.CoGroupByKey()
                  | "SummarizeVideos" >> beam.Map(summarize))
        return {"frames": decoded.frames, VIDEOS_TAG: videos, SKIPPED_TAG: planned[SKIPPED_TAG]}
