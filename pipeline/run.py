"""Build and run the tagging pipeline."""

from __future__ import annotations

import csv
import datetime as dt
import glob
import io
import json
import logging
import os
import re
import sys
import uuid
from dataclasses import dataclass, replace

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.commit import StagingLock, cleanup_staging
from pipeline.model_handler import PoseStageConfig
from pipeline.options import DEFAULT_LOCAL_RUNNER, EVENT_MODELS, MatchtagOptions
from pipeline.transforms import (DecodeFrames, DecodeSettings, EstimatePoses, FormatTables, GroupByTrack, TagEvents,
                                 TrackPlayers, VideoJob, WriteTables)
from schemas.tables import MANIFEST_METADATA_COLUMNS
from tagging import __version__
from tagging.pose.detector import DetectorConfig
from tagging.pose.models import CONVERTER_VERSION, NPM_PACKAGE, NPM_VERSION
from tagging.pose.estimators import PoseConfig
from tagging.track.sequences import PIPELINE_TRACKER_CONFIG
from tagging.video.reader import unique_video_ids

LOG = logging.getLogger("matchtag")

# Options that do not change the tags: left out of the tagging config, so that a
# rerun with another batch size or runner still counts as "already tagged".
_NOT_CONFIG = {"inputs", "output", "manifest", "skip_existing", "progress", "inference_batch_size",
               "range_frames"}
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class UsageError(ValueError):
    """Bad command-line arguments or manifest; the message says which."""


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


def read_manifest(path: str) -> list[tuple[str, str | None, dict]]:
    """Rows of a manifest CSV: ``(path_or_glob, video_id or None, metadata)``.

    Columns: ``path`` (required), ``video_id`` and the match metadata columns
    (competition, season, match_date, home, away) optional.  Relative paths are
    relative to the manifest's folder.
    """
    try:
        if "://" in path:
            with FileSystems.open(path) as fh:
                text = fh.read().decode("utf-8-sig")
        else:
            with open(path, encoding="utf-8-sig") as fh:
                text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"manifest {path}: cannot read it ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "path" not in [f.strip() for f in reader.fieldnames]:
        raise UsageError(f"manifest {path}: needs a header row with a 'path' column")
    base = os.path.dirname(os.path.abspath(path)) if "://" not in path else path.rsplit("/", 1)[0]
    entries = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        video = row.get("path", "")
        if not video:
            raise UsageError(f"manifest {path}, line {line}: empty 'path'")
        if "://" not in video and not os.path.isabs(os.path.expanduser(video)):
            video = os.path.join(base, video) if "://" not in base else f"{base}/{video}"
        video_id = row.get("video_id") or None
        if video_id is not None and not _SAFE_ID.match(video_id):
            raise UsageError(f"manifest {path}, line {line}: video_id {video_id!r} must be 1-100 characters "
                             "of A-Z a-z 0-9 . _ - and start with a letter or digit")
        entries.append((video, video_id, {k: row[k] for k in MANIFEST_METADATA_COLUMNS if row.get(k)}))
    if not entries:
        raise UsageError(f"manifest {path}: no rows")
    return entries


def video_jobs(opts: MatchtagOptions) -> list[VideoJob]:
    """Inputs and manifest rows -> jobs with unique, path-safe video ids."""
    entries: list[tuple[str, str | None, dict]] = [(p, None, {}) for p in opts.inputs or []]
    if opts.manifest:
        entries += read_manifest(opts.manifest)
    jobs: dict[str, VideoJob] = {}
    explicit: dict[str, str] = {}
    derived_paths: list[str] = []
    meta: dict[str, dict] = {}
    for pattern, video_id, metadata in entries:
        paths = expand_inputs([pattern])
        if video_id is not None:
            if len(paths) != 1:
                raise UsageError(f"manifest row {pattern!r} has video_id {video_id!r} but matches {len(paths)} files")
            if video_id in explicit.values() and explicit.get(paths[0]) != video_id:
                raise UsageError(f"manifest: video_id {video_id!r} is given to two different files")
            explicit[paths[0]] = video_id
        for p in paths:
            meta.setdefault(p, {}).update(metadata)
            if p not in explicit and p not in derived_paths:
                derived_paths.append(p)
    derived = unique_video_ids([p for p in derived_paths if p not in explicit])
    for path, vid in list(explicit.items()) + list(derived.items()):
        if vid in jobs:
            raise UsageError(f"two inputs get video_id {vid!r}: {jobs[vid].path} and {path}; "
                             "give one of them a video_id in a manifest")
        jobs[vid] = VideoJob(vid, path, meta.get(path, {}))
    return sorted(jobs.values(), key=lambda j: j.video_id)


def validate(opts: MatchtagOptions) -> None:
    """Raise :class:`UsageError` for arguments that cannot work."""
    if not opts.output:
        raise UsageError("--output DIR is required")
    if not opts.inputs and not opts.manifest:
        raise UsageError("give at least one INPUT video (path, glob or URI) or --manifest FILE.csv")
    if opts.stride < 1:
        raise UsageError("--stride must be >= 1")
    if opts.track_chunk_s < 0:
        raise UsageError("--track-chunk-s must be >= 0 (0: track each video in one piece)")
    if opts.track_chunk_s > 0 and not 0 <= opts.track_overlap_s < opts.track_chunk_s:
        raise UsageError("--track-overlap-s must be >= 0 and less than --track-chunk-s")
    if opts.max_frames is not None and opts.max_frames < 1:
        raise UsageError("--max-frames must be >= 1")
    if opts.inference_batch_size < 1:
        raise UsageError("--inference-batch-size must be >= 1")
    if opts.tile_px < -1:
        raise UsageError("--tile-px must be -1 (automatic), 0 (off) or a tile side in pixels")
    if opts.range_frames < 1:
        raise UsageError("--range-frames must be >= 1")
    if (opts.pose == "replay") != bool(opts.poses_from):
        raise UsageError("--pose replay and --poses-from DIR go together")
    if opts.events_model not in EVENT_MODELS:
        from tagging.events.model import EventModelError, load_model
        try:
            load_model(opts.events_model)   # fail before any video is read
        except EventModelError as exc:
            raise UsageError(f"--events-model: {exc}") from None


def stage_config(opts: MatchtagOptions) -> PoseStageConfig:
    return PoseStageConfig(backend=opts.pose,
                           detector=DetectorConfig(model=opts.detector, tile_px=opts.tile_px),
                           pose=PoseConfig(crop_model=opts.crop_model, flip_test=opts.flip_test == "on"),
                           device=opts.device)


def tagging_config(opts: MatchtagOptions) -> str:
    """Canonical JSON of everything that changes the tags: versions, models, options."""
    values = opts.get_all_options()
    options = {a.dest: values.get(a.dest) for a in sorted(_matchtag_actions(), key=lambda a: a.dest)}
    if options.get("events_model") not in (None, "rules"):
        # A model file retrained in place keeps its path: record the model's own name.
        from tagging.events.model import resolve_events_model

        options["events_model"] = f"{options['events_model']}={resolve_events_model(options['events_model']).name}"
    return json.dumps({"matchtag": __version__, "models": f"{NPM_PACKAGE}@{NPM_VERSION}/c{CONVERTER_VERSION}",
                       "options": options}, sort_keys=True, separators=(",", ":"), default=str)


def _matchtag_actions():
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    MatchtagOptions._add_argparse_args(parser)
    return [a for a in parser._actions if a.dest not in _NOT_CONFIG]


@dataclass
class RunResult:
    run_id: str
    output: str
    video_ids: list[str]
    state: str
    counters: dict


def build(pipeline: beam.Pipeline, opts: MatchtagOptions, jobs: list[VideoJob], run_id: str):
    """Add the matchtag stages to ``pipeline`` for ``jobs``."""
    config = stage_config(opts)
    backend = f"replay:{opts.poses_from}" if opts.pose == "replay" else config.model_id
    settings = DecodeSettings(output=opts.output, run_id=run_id, tagging_config=tagging_config(opts),
                              pose_backend=backend, stride=opts.stride, max_frames=opts.max_frames,
                              range_frames=opts.range_frames, skip_existing=opts.skip_existing,
                              progress=_progress_enabled(opts, pipeline.options))
    decoded = (pipeline
               | "ListVideos" >> beam.Create(jobs)
               | "DecodeFrames" >> DecodeFrames(settings))
    if opts.pose == "replay":
        from pipeline.replay import ReplayPoses

        poses = decoded["frames"] | "ReplayPoses" >> ReplayPoses(opts.poses_from)
    else:
        poses = decoded["frames"] | "EstimatePoses" >> EstimatePoses(config, opts.inference_batch_size)
    tracker = PIPELINE_TRACKER_CONFIG
    if opts.relink == "off":
        tracker = replace(tracker, relink_max_cost=0.0)
    tracked = poses | "TrackPlayers" >> TrackPlayers(tracker, chunk_s=opts.track_chunk_s,
                                                     overlap_s=opts.track_overlap_s, stride=opts.stride)
    tracks = tracked | "GroupByTrack" >> GroupByTrack()
    tables = {"frames": tracked, "tracks": tracks} | "FormatTables" >> FormatTables()
    tables["events"] = tracks | "TagEvents" >> TagEvents(opts.events_model)
    tables["videos"] = decoded["videos"]
    tables["skipped"] = decoded["skipped"]
    return tables | "WriteTables" >> WriteTables(opts.output, run_id, [j.video_id for j in jobs])


def _progress_enabled(opts: MatchtagOptions, options: PipelineOptions) -> bool:
    runner = (options.view_as(StandardOptions).runner or "").lower()
    local = runner in ("", "fnapirunner", "directrunner", "bundlebaseddirectrunner")
    if opts.progress == "auto":
        return local and sys.stderr.isatty()
    return opts.progress == "on" and local


def split_positional(argv: list[str]) -> tuple[list[str], list[str]]:
    """(positional INPUTs, flags) of ``matchtag run`` arguments.

    Parsed with every Beam option known, so ``--runner X`` keeps its value.
    """
    import argparse

    parser = argparse.ArgumentParser(allow_abbrev=False, add_help=False)
    classes = {str(c): c for c in PipelineOptions.__subclasses__()}
    for cls in classes.values():
        try:
            cls._add_argparse_args(parser)
        except argparse.ArgumentError:  # an option class registered twice
            pass
    parser.add_argument("positional_inputs", nargs="*")
    known, _ = parser.parse_known_intermixed_args(argv)
    positional = list(known.positional_inputs)
    flags, remaining = [], list(positional)
    for token in argv:
        if remaining and token == remaining[0]:
            remaining.pop(0)
        else:
            flags.append(token)
    return positional, flags


def parse(argv: list[str]) -> tuple[PipelineOptions, MatchtagOptions]:
    positional, flags = split_positional(argv)
    options = PipelineOptions(flags + [f"--input={p}" for p in positional])
    std = options.view_as(StandardOptions)
    if not std.runner:
        std.runner = DEFAULT_LOCAL_RUNNER
    opts = options.view_as(MatchtagOptions)
    if opts.output and "://" not in opts.output:
        opts.output = os.path.abspath(os.path.expanduser(opts.output))
    return options, opts


def run(argv: list[str]) -> RunResult:
    """Run the pipeline for ``argv`` (``matchtag run`` arguments), wait, record the run."""
    options, opts = parse(argv)
    validate(opts)
    jobs = video_jobs(opts)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    runner = options.view_as(StandardOptions).runner
    LOG.info("run %s: %d video(s) -> %s on %s", run_id, len(jobs), opts.output, runner)
    started = dt.datetime.now(dt.timezone.utc)
    with StagingLock(opts.output, run_id):
        pipeline = beam.Pipeline(options=options)
        build(pipeline, opts, jobs, run_id)
        result = pipeline.run()
        state = str(result.wait_until_finish())
        counters = _counters(result)
        cleanup_staging(opts.output, run_id)
    if counters:
        LOG.info("counters: %s", ", ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    from pipeline.runs import write_run_row  # pyarrow only; kept out of worker imports

    write_run_row(opts.output, run_id=run_id, started=started, state=state, runner=runner,
                  tagging_config=tagging_config(opts), options=options.get_all_options(drop_default=True),
                  video_ids=[j.video_id for j in jobs], counters=counters)
    return RunResult(run_id, opts.output, [j.video_id for j in jobs], state, counters)


def _counters(result) -> dict:
    try:
        counters = result.metrics().query()["counters"]
    except Exception:  # some runners do not report metrics
        return {}
    totals: dict[str, int] = {}
    for c in counters:
        if c.key.metric.namespace == "matchtag":
            totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + c.committed
    return totals
