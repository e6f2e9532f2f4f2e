"""The tagging pipeline's graph: decode -> pose -> track -> finish blocks -> tracks/events -> write,
one named transform each."""

from __future__ import annotations

import sys
from dataclasses import replace

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.options import MatchtagOptions, stage_config, tagging_config
from pipeline.spill import spill_root
from pipeline.transforms import (
    DecodeFrames,
    DecodeSettings,
    EstimatePoses,
    FinishBlocks,
    FormatTracks,
    GroupByTrack,
    TagEvents,
    TrackPlayers,
    TrackPositions,
    WriteTables,
)
from tagging.track.sequences import PIPELINE_TRACKER_CONFIG
from tagging.video.inputs import VideoJob


def build(pipeline: beam.Pipeline, opts: MatchtagOptions, jobs: list[VideoJob], run_id: str):
    """Add the matchtag stages to ``pipeline`` for ``jobs``."""
    config = stage_config(opts)
    backend = f"replay:{opts.poses_from}" if opts.pose == "replay" else config.model_id
    settings = DecodeSettings(output=opts.output, run_id=run_id, tagging_config=tagging_config(opts),
                              pose_backend=backend, stride=opts.stride, max_frames=opts.max_frames,
                              range_frames=opts.range_frames, skip_existing=opts.skip_existing,
                              retry_failed=opts.retry_failed,
                              progress=_progress_enabled(opts, pipeline.options))
    decoded = (pipeline
               # Create reshuffles on its own only when given 2+ elements; an explicit
               # Reshuffle spreads the hashing over workers and keeps the graph the same
               # for 1 video as for 1,000.
               | "ListVideos" >> beam.Create(jobs, reshuffle=False)
               | "SpreadVideos" >> beam.Reshuffle()
               | "DecodeFrames" >> DecodeFrames(settings))
    if opts.pose == "replay":
        from pipeline.replay import ReplayPoses

        poses = decoded["frames"] | "ReplayPoses" >> ReplayPoses(opts.poses_from)
    else:
        poses = decoded["frames"] | "EstimatePoses" >> EstimatePoses(config, opts.inference_batch_size)
    tracker = PIPELINE_TRACKER_CONFIG
    if opts.relink == "off":
        tracker = replace(tracker, relink_max_cost=0.0)
    spill = spill_root(opts.output, run_id)
    tracked = poses | "TrackPlayers" >> TrackPlayers(spill, tracker,
                                                     chunk_s=opts.track_chunk_s, overlap_s=opts.track_overlap_s,
                                                     stride=opts.stride, block_frames=opts.range_frames)
    finished = tracked | "FinishBlocks" >> FinishBlocks(opts.output, run_id, opts.stride)
    tracks = finished["tracks"] | "GroupByTrack" >> GroupByTrack()
    positions = tracks | "TrackPositions" >> TrackPositions(spill, opts.output, run_id, opts.stride,
                                                                   opts.range_frames)
    tables = {"tracks": tracks | "FormatTracks" >> FormatTracks(),
              "events": tracks | "TagEvents" >> TagEvents(opts.events_model),
              "files": (finished["files"], positions) | "BlockFiles" >> beam.Flatten(),
              "videos": decoded["videos"], "skipped": decoded["skipped"]}
    return tables | "WriteTables" >> WriteTables(opts.output, run_id)


def _progress_enabled(opts: MatchtagOptions, options: PipelineOptions) -> bool:
    runner = (options.view_as(StandardOptions).runner or "").lower()
    local = runner in ("", "fnapirunner", "directrunner", "bundlebaseddirectrunner")
    if opts.progress == "auto":
        return local and sys.stderr.isatty()
    return opts.progress == "on" and local
