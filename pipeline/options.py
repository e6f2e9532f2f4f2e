"""``matchtag run``'s options: parsing beside Beam's own, validation, and the tagging config.

The tagging config is the canonical JSON of everything that changes the tags; the
``videos`` table records it and ``--skip-existing`` compares it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import TYPE_CHECKING

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, _BeamArgumentParser

from pipeline.args import RUN_USAGE, SetupError, UsageError, option_names, unknown_option_message
from tagging import __version__

if TYPE_CHECKING:
    from tagging.pose.stage import PoseStageConfig

POSE_BACKENDS = ("topdown", "multipose", "replay")
DETECTORS = ("centernet", "nanodet")
CROP_MODELS = ("movenet-thunder", "movenet-lightning", "posenet")
EVENT_MODELS = ("default", "rules")  # or a model file from `matchtag train`

# Beam's DirectRunner first tries the Prism runner, which downloads a Go binary at
# run time; locally we go straight to the FnApiRunner, the engine DirectRunner
# itself falls back to for batch pipelines.
DEFAULT_LOCAL_RUNNER = "FnApiRunner"

# Options that do not change the tags: left out of the tagging config, so that a
# rerun with another batch size or runner still counts as "already tagged".
_NOT_CONFIG = {"inputs", "output", "manifest", "skip_existing", "retry_failed", "matchtag_dry_run", "progress",
               "inference_batch_size", "range_frames"}


class MatchtagOptions(PipelineOptions):
    """Options of ``matchtag run``; Beam's own options go to Beam, any other ``--flag`` is refused."""

    @classmethod
    def _add_argparse_args(cls, parser):
        # Positional INPUTs of `matchtag run` arrive here (see parse_run_args); a
        # positional argument inside PipelineOptions would swallow Beam flag values.
        parser.add_argument("--input", dest="inputs", action="append", default=[],
                            help="video file, glob or FileSystems URI (repeatable)")
        # Not argparse-required: Beam parses every PipelineOptions subclass for every
        # pipeline in the process, so a required flag here would break unrelated
        # pipelines; validate() checks it instead.
        parser.add_argument("--output", default=None, help="output directory for the tables (required)")
        parser.add_argument("--stride", type=int, default=1,
                            help="process every Nth frame (default 1: every frame)")
        parser.add_argument("--max_frames", "--max-frames", dest="max_frames", type=int, default=None,
                            help="stop each video after this many processed frames")
        parser.add_argument("--pose", choices=POSE_BACKENDS, default="topdown",
                            help="topdown: person detector + MoveNet per crop (default); "
                                 "multipose: MoveNet MultiPose (at most 6 people per frame)")
        parser.add_argument("--poses_from", "--poses-from", dest="poses_from", default=None,
                            help="with --pose replay: output directory of an earlier run whose "
                                 "poses table is reused instead of running the models")
        parser.add_argument("--detector", choices=DETECTORS, default="centernet",
                            help="person detector of the topdown backend")
        parser.add_argument("--crop_model", "--crop-model", dest="crop_model", choices=CROP_MODELS,
                            default="movenet-thunder", help="single-pose model run on each person crop")
        parser.add_argument("--flip_test", "--flip-test", dest="flip_test", choices=("on", "off"), default="on",
                            help="also run each crop mirrored and average the two poses (default on: "
                                 "+0.013 OKS AP for twice the crop-model work; off for speed)")
        parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default=None,
                            help="TensorFlow device for pose inference (default: $MATCHTAG_DEVICE, "
                                 "else auto: a GPU when the worker has one)")
        parser.add_argument("--tile_px", "--tile-px", dest="tile_px", type=int, default=-1,
                            help="also detect on overlapping square tiles of this size "
                                 "(for small, distant players); -1 = automatic when the frame is "
                                 "large and its people small (default), 0 = whole frame only")
        parser.add_argument("--events_model", "--events-model", dest="events_model", default="default",
                            help="event tagger: default (the shipped model; its positives are synthetic), "
                                 "rules (the Law-15 throw-in rule, the baseline) or a .skops file "
                                 "from `matchtag train`")
        parser.add_argument("--manifest", default=None,
                            help="CSV of videos: column path (file, glob or URI), optional video_id, "
                                 "competition, season, match_date, home, away")
        parser.add_argument("--skip_existing", "--skip-existing", dest="skip_existing", action="store_true",
                            help="skip videos already tagged in --output with the same content hash "
                                 "and tagging config (for scheduled runs)")
        parser.add_argument("--retry_failed", "--retry-failed", dest="retry_failed", action="store_true",
                            help="with --skip-existing: also tag again the videos whose committed "
                                 "status is failed or partial")
        parser.add_argument("--dry-run", dest="matchtag_dry_run", action="store_true",
                            help="check the inputs or manifest, build the graph without running it and "
                                 "print as JSON the videos to tag and to skip and the graph's size (with "
                                 "--skip-existing this hashes every already-committed input)")
        parser.add_argument("--range_frames", "--range-frames", dest="range_frames", type=int, default=1500,
                            help="frames per decode range; ranges of one video decode in parallel "
                                 "(default 1500 = 60 s at 25 fps)")
        parser.add_argument("--track_chunk_s", "--track-chunk-s", dest="track_chunk_s", type=float, default=60.0,
                            help="track each video in segments of this many seconds, in parallel, "
                                 "stitched in their overlaps into one id per player (default 60; "
                                 "0 = the whole video in one piece)")
        parser.add_argument("--relink", choices=("on", "off"), default="on",
                            help="long-range re-link: a player who leaves the picture and comes back "
                                 "near where he left keeps his id (default on, for matches; off for "
                                 "footage where different people come and go at one spot)")
        parser.add_argument("--track_overlap_s", "--track-overlap-s", dest="track_overlap_s", type=float,
                            default=2.0, help="seconds each tracking segment shares with the next (default 2)")
        parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                            help="progress bar per video on local runs (auto: when stderr is a terminal)")
        parser.add_argument("--inference_batch_size", "--inference-batch-size",
                            dest="inference_batch_size", type=int, default=4,
                            help="max frames per RunInference batch")


# Beam modules that define PipelineOptions outside pipeline_options.py; imported (when
# installed) so that their flags are known before `--runner` loads the runner itself.
_EXTRA_BEAM_OPTION_MODULES = ("apache_beam.runners.dask.dask_runner", "apache_beam.runners.render")


class _RunArgParser(_BeamArgumentParser):
    """Beam's parser (it adds ValueProvider arguments), raising UsageError instead of exiting."""

    def error(self, message):
        raise UsageError(message)


def _option_classes(matchtag: bool = True, beam: bool = True) -> list[type]:
    """Every registered PipelineOptions subclass, one per name (Beam's own rule for repeats)."""
    import importlib

    for module in _EXTRA_BEAM_OPTION_MODULES:
        try:
            importlib.import_module(module)
        except Exception:  # the runner's extra (dask) is not installed: its flags are not needed
            pass
    classes: dict[str, type] = {}
    todo = list(PipelineOptions.__subclasses__())
    while todo:
        cls = todo.pop(0)
        todo.extend(cls.__subclasses__())
        ours = cls.__name__ == MatchtagOptions.__name__ and cls.__module__ == __name__
        if (matchtag if ours else beam):
            classes.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    return list(classes.values())


def run_parser(matchtag: bool = True, beam: bool = True) -> argparse.ArgumentParser:
    """An argument parser of ``matchtag run``'s own options and/or every Beam option."""
    parser = _RunArgParser(prog="matchtag run", usage=RUN_USAGE, allow_abbrev=False, add_help=False,
                           conflict_handler="resolve")
    for cls in _option_classes(matchtag=matchtag, beam=beam):
        cls._add_argparse_args(parser)
    return parser


RUN_FLAGS_HEADER = '''"""Every flag ``matchtag run`` accepts with Apache Beam {version}: matchtag's and Beam's.

Generated by ``python tools/write_run_flags.py``; tests/test_cli_strict.py checks it
against the installed Beam. ``matchtag run`` reads it before importing Beam (3-5 s on
a 2-core CPU), so that a misspelt flag is refused at once. Option string -> the
spelling that "did you mean" shows.
"""

BEAM_VERSION = {version!r}

FLAGS = {{
'''


def run_flags_source() -> str:
    """The text of ``pipeline/run_flags.py`` for the installed Beam and MatchtagOptions."""
    import apache_beam

    names = option_names([run_parser()])
    return (RUN_FLAGS_HEADER.format(version=apache_beam.__version__)
            + "".join(f"    {o!r}: {d!r},\n" for o, d in sorted(names.items())) + "}\n")


def split_positional(argv: list[str]) -> tuple[list[str], list[str]]:
    """(positional INPUTs, flags) of ``matchtag run`` arguments.

    Parsed with every Beam option known, so ``--runner X`` keeps its value.  Raises
    :class:`UsageError` for a flag that neither matchtag nor Beam knows (Beam itself
    would drop it with a warning and run anyway) or a value of the wrong type.
    """
    parser = run_parser()
    parser.add_argument("positional_inputs", nargs="*")
    known, unknown = parser.parse_known_intermixed_args(argv)
    flags_unknown = [u for u in unknown if u.startswith("-")]
    if flags_unknown:
        raise UsageError(unknown_option_message(flags_unknown, option_names([parser])))
    if unknown:
        raise UsageError(f"unexpected argument {unknown[0]!r}")
    positional = list(known.positional_inputs)
    flags, remaining = [], list(positional)
    for token in argv:
        if remaining and token == remaining[0]:
            remaining.pop(0)
        else:
            flags.append(token)
    return positional, flags


def parse_run_args(argv: list[str]) -> tuple[PipelineOptions, MatchtagOptions]:
    """Beam's options and matchtag's view of them; :class:`UsageError` for unknown flags."""
    positional, flags = split_positional(argv)
    options = PipelineOptions(flags + [f"--input={p}" for p in positional])
    std = options.view_as(StandardOptions)
    if not std.runner:
        std.runner = DEFAULT_LOCAL_RUNNER
    opts = options.view_as(MatchtagOptions)
    if opts.output and "://" not in opts.output:
        opts.output = os.path.abspath(os.path.expanduser(opts.output))
    return options, opts


def validate(opts: MatchtagOptions) -> None:
    """Raise :class:`UsageError` for arguments that cannot work."""
    if not opts.output:
        raise UsageError("--output DIR is required")
    _check_output(opts.output)
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
    if opts.retry_failed and not opts.skip_existing:
        raise UsageError("--retry-failed goes with --skip-existing (without it every video is tagged again)")
    if (opts.pose == "replay") != bool(opts.poses_from):
        raise UsageError("--pose replay and --poses-from DIR go together")
    if opts.events_model not in EVENT_MODELS:
        from tagging.events.model import EventModelError, load_event_model
        try:
            load_event_model(opts.events_model)   # fail before any video is read
        except EventModelError as exc:
            raise UsageError(f"--events-model: {exc}") from None


def _check_output(output: str) -> None:
    """A local ``--output`` must be a folder we can write in (or one we can create).

    Checked by writing a file, not with ``os.access``: root passes ``access`` on a
    read-only mount, and the run would then fail only when the first video commits.  The
    probe is an unnamed temporary file (``O_TMPFILE`` on Linux), so even a run killed at
    that instant leaves nothing behind, and nothing is created here: ``--dry-run`` must
    not touch the output.  Object-store outputs are left to the runner.
    """
    if "://" in output:
        return
    if os.path.lexists(output) and not os.path.isdir(output):
        raise SetupError(f"--output {output}: is a file, not a folder")
    existing = output
    while not os.path.isdir(existing):   # the folder the run will create its output in
        parent = os.path.dirname(existing)
        if os.path.lexists(existing) or parent == existing:
            raise SetupError(f"--output {output}: {existing} is not a folder")
        existing = parent
    try:
        with tempfile.TemporaryFile(prefix=".matchtag-write-check-", dir=existing):
            pass
    except OSError as exc:
        raise SetupError(f"--output {output}: cannot write there ({exc.strerror or exc})") from None


def stage_config(opts: MatchtagOptions) -> PoseStageConfig:
    # tagging.pose is imported here, not at the top, so that a mistyped flag is refused
    # within seconds of the command starting (it pulls in scipy and OpenCV).
    from tagging.pose.detector import DetectorConfig
    from tagging.pose.estimators import PoseConfig
    from tagging.pose.stage import PoseStageConfig

    return PoseStageConfig(backend=opts.pose,
                           detector=DetectorConfig(model=opts.detector, tile_px=opts.tile_px),
                           pose=PoseConfig(crop_model=opts.crop_model, flip_test=opts.flip_test == "on"),
                           device=opts.device)


def tagging_config(opts: MatchtagOptions) -> str:
    """Canonical JSON of everything that changes the tags: versions, models, options."""
    from tagging.pose.models import CONVERTER_VERSION, NPM_PACKAGE, NPM_VERSION

    values = opts.get_all_options()
    options = {a.dest: values.get(a.dest) for a in sorted(_matchtag_actions(), key=lambda a: a.dest)}
    if options.get("events_model") not in (None, "rules"):
        # A model file retrained in place keeps its path: record the model's own name.
        from tagging.events.model import resolve_events_model

        options["events_model"] = f"{options['events_model']}={resolve_events_model(options['events_model']).name}"
    # The pose stage's own id carries settings that are not options (e.g. the flip test's
    # height threshold), so a change of default there also changes the config.
    pose = "replay" if opts.pose == "replay" else stage_config(opts).model_id
    # The schema version too: a video tagged before a table existed (e.g. positions, version 4)
    # is tagged again by --skip-existing, so that every table has its rows.
    from schemas.tables import SCHEMA_VERSION

    return json.dumps({"matchtag": __version__, "schema": SCHEMA_VERSION,
                       "models": f"{NPM_PACKAGE}@{NPM_VERSION}/c{CONVERTER_VERSION}",
                       "pose_stage": pose, "options": options}, sort_keys=True, separators=(",", ":"), default=str)


def _matchtag_actions():
    parser = argparse.ArgumentParser(add_help=False)
    MatchtagOptions._add_argparse_args(parser)
    return [a for a in parser._actions if a.dest not in _NOT_CONFIG]
