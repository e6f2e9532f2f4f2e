"""``matchtag run``: tag videos into the tables (validates, fetches models, runs the pipeline)."""

from __future__ import annotations

import argparse

from pipeline.commands import EXIT_OK, EXIT_USAGE, EXIT_VIDEO_FAILED
from pipeline.logs import log
from tagging.pose.models import ModelFetchError, fetch_models, verify_models

SUMMARY = "tag videos: pose, tracks, teams and events into Parquet tables"


def main(argv: list[str]) -> int:
    import pandas as pd

    from pipeline.main import run
    from pipeline.options import MatchtagOptions, UsageError, parse_run_args, stage_config, validate

    if not argv or "-h" in argv or "--help" in argv:
        parser = argparse.ArgumentParser(
            prog="matchtag run", usage="matchtag run [INPUT ...] --output DIR [options] [beam options]",
            epilog="INPUT: video files, globs or FileSystems URIs. "
                   "Any other --flag is a Beam pipeline option (e.g. --runner).")
        MatchtagOptions._add_argparse_args(parser)
        parser.print_help()
        return EXIT_OK if argv else EXIT_USAGE
    _, opts = parse_run_args(argv)
    try:
        validate(opts)
    except UsageError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    try:
        # Fetch in the launcher, with progress, so workers on this machine find them.
        if opts.pose != "replay":
            names = stage_config(opts).model_names
            fetch_models(names, log=log)
            verify_models(names)  # a damaged cache fails here, before any video is read
    except ModelFetchError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    try:
        result = run(argv)
    except UsageError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    if result.state != "DONE":
        log(f"pipeline ended in state {result.state}")
        return EXIT_VIDEO_FAILED
    videos = pd.read_parquet(f"{result.output}/videos")
    videos = videos[videos["video_id"].astype(str).isin(set(result.video_ids))]
    bad = 0
    for row in videos.sort_values("video_id").itertuples():
        note = f" ({row.error})" if row.status != "ok" else ""
        skipped = " (already tagged; skipped)" if row.run_id != result.run_id else ""
        log(f"{row.video_id}: {row.status}, {row.frames_processed} frames{note}{skipped}")
        bad += row.status != "ok"
    skipped = result.counters.get("videos_skipped", 0)
    log(f"run {result.run_id}: {len(result.video_ids) - skipped} video(s) processed, {skipped} skipped; "
         f"tables in {result.output}: videos, poses, tracks, events, runs")
    if bad:
        log(f"{bad} of {len(videos)} video(s) not fully tagged")
        return EXIT_VIDEO_FAILED
    return EXIT_OK
