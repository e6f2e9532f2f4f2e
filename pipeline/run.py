"""Build and run the tagging pipeline."""

from __future__ import annotations

import glob
import logging
import os
import uuid
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.commit import cleanup_staging
from pipeline.model_handler import PoseStageConfig
from pipeline.options import DEFAULT_LOCAL_RUNNER, MatchtagOptions
from pipeline.transforms import (DecodeFrames, EstimatePoses, FormatTables, TagEvents, TrackPlayers,
                                 WriteTables, VIDEOS_TAG)
from tagging.detect import DetectorConfig
from tagging.pose import PoseConfig
from tagging.video import unique_video_ids

LOG = logging.getLogger("matchtag")


class UsageError(ValueError):
    """Bad command-line arguments; the message says which."""


def expand_inputs(patterns: list[str]) -> list[str]:
    """Expand globs (local or any Beam filesystem).  A pattern matching nothing is kept
    as given, so that it shows up as a failed video naming the missing file."""
    paths: list[str] = []
    for pattern in patterns:
        if "://" in pattern:
            try:
                found = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
            except Exception:  # BeamIOError when nothing matches
                found = []
        elif glob.has_magic(pattern):
            found = sorted(glob.glob(os.path.expanduser(pattern)))
        else:
            found = [os.path.abspath(os.path.expanduser(pattern))]
        for p in found or [pattern]:
            if "://" not in p:
                p = os.path.abspath(p)
            if p not in paths:
                paths.append(p)
    return paths


def validate(opts: MatchtagOptions) -> None:
    """Raise :class:`UsageError` for arguments that cannot work."""
    if not opts.inputs:
        raise UsageError("give at least one INPUT video (path, glob or URI)")
    if opts.stride < 1:
        raise UsageError("--stride must be >= 1")
    if opts.max_frames is not None and opts.max_frames < 1:
        raise UsageError("--max-frames must be >= 1")
    if opts.inference_batch_size < 1:
        raise UsageError("--inference-batch-size must be >= 1")
    if opts.tile_px < 0:
        raise UsageError("--tile-px must be >= 0")


def stage_config(opts: MatchtagOptions) -> PoseStageConfig:
    return PoseStageConfig(backend=opts.pose,
                           detector=DetectorConfig(model=opts.detector, tile_px=opts.tile_px),
                           pose=PoseConfig(crop_model=opts.crop_model))


@dataclass
class RunResult:
    run_id: str
    output: str
    video_ids: dict[str, str]  # path -> video_id
    state: str


def build(pipeline: beam.Pipeline, opts: MatchtagOptions, videos: dict[str, str], run_id: str):
    """Add the matchtag stages to ``pipeline`` for ``videos`` ({path: video_id})."""
    config = stage_config(opts)
    decoded = (pipeline
               | "ListVideos" >> beam.Create(sorted((vid, path) for path, vid in videos.items()))
               | "DecodeFrames" >> DecodeFrames(opts.stride, opts.max_frames, config.model_id))
    tracked = (decoded.frames
               | "EstimatePoses" >> EstimatePoses(config, opts.inference_batch_size)
               | "TrackPlayers" >> TrackPlayers())
    tables = tracked | "FormatTables" >> FormatTables()
    tables["events"] = tracked | "TagEvents" >> TagEvents()
    tables["videos"] = decoded[VIDEOS_TAG]
    return tables | "WriteTables" >> WriteTables(opts.output, run_id, sorted(videos.values()))


def run(argv: list[str]) -> RunResult:
    """Run the pipeline for ``argv`` (``matchtag run`` arguments) and wait for it."""
    options = PipelineOptions(argv)
    opts = options.view_as(MatchtagOptions)
    std = options.view_as(StandardOptions)
    if not std.runner:
        std.runner = DEFAULT_LOCAL_RUNNER
    validate(opts)
    paths = expand_inputs(opts.inputs)
    videos = unique_video_ids(paths)
    if "://" not in opts.output:
        opts.output = os.path.abspath(os.path.expanduser(opts.output))
    run_id = uuid.uuid4().hex[:12]
    LOG.info("run %s: %d video(s) -> %s on %s", run_id, len(videos), opts.output, std.runner)
    pipeline = beam.Pipeline(options=options)
    build(pipeline, opts, videos, run_id)
    result = pipeline.run()
    state = result.wait_until_finish()
    _log_metrics(result)
    cleanup_staging(opts.output, run_id)
    return RunResult(run_id, opts.output, videos, str(state))


def _log_metrics(result) -> None:
    try:
        counters = result.metrics().query()["counters"]
    except Exception:  # some runners do not report metrics
        return
    totals: dict[str, int] = {}
    for c in counters:
        if c.key.metric.namespace == "matchtag":
            totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + c.committed
    if totals:
        LOG.info("counters: %s", ", ".join(f"{k}={v}" for k, v in sorted(totals.items())))
