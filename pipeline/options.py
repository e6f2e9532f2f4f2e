"""matchtag's pipeline options (the Beam ones come from Beam's own PipelineOptions)."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

POSE_BACKENDS = ("topdown", "multipose", "replay")
DETECTORS = ("centernet", "nanodet")
CROP_MODELS = ("movenet-thunder", "movenet-lightning", "posenet")
EVENT_MODELS = ("default", "rules")  # or a model file from `matchtag train`

# Beam's DirectRunner first tries the Prism runner, which downloads a Go binary at
# run time; locally we go straight to the FnApiRunner, the engine DirectRunner
# itself falls back to for batch pipelines.
DEFAULT_LOCAL_RUNNER = "FnApiRunner"


class MatchtagOptions(PipelineOptions):
    """Options of ``matchtag run``; any other ``--flag`` is passed to Beam."""

    @classmethod
    def _add_argparse_args(cls, parser):
        # Positional INPUTs of `matchtag run` arrive here (see pipeline.run.parse); a
        # positional argument inside PipelineOptions would swallow Beam flag values.
        parser.add_argument("--input", dest="inputs", action="append", default=[],
                            help="video file, glob or FileSystems URI (repeatable)")
        # Not argparse-required: Beam parses every PipelineOptions subclass for every
        # pipeline in the process, so a required flag here would break unrelated
        # pipelines; pipeline.run.validate checks it instead.
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
