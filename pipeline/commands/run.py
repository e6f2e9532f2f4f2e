"""``matchtag run``: tag videos into the tables (validates, fetches models, runs the pipeline)."""

from __future__ import annotations

import argparse
import json

from pipeline.commands import EXIT_OK, EXIT_USAGE, EXIT_VIDEO_FAILED
from pipeline.logs import log
from tagging.pose.models import ModelFetchError, fetch_models, verify_models

SUMMARY = "tag videos: pose, tracks, teams and events into Parquet tables"


def main(argv: list[str]) -> int:
    from pipeline.main import dry_run, run
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
    if opts.matchtag_dry_run:
        try:
            plan = dry_run(argv)
        except UsageError as exc:
            log(f"error: {exc}")
            return EXIT_USAGE
        print(json.dumps(plan, indent=1))
        return EXIT_OK
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
    for vid, (status, error) in sorted(result.outcomes.items()):
        if status == "skipped":
            log(f"{vid}: already tagged; skipped")
        else:
            log(f"{vid}: {status}" + (f" ({error})" if error else ""))
    counts = {s: sum(o[0] == s for o in result.outcomes.values()) for s in ("ok", "partial", "failed", "skipped")}
    log(f"run {result.run_id}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"; tables in {result.output}: videos, poses, tracks, events, runs")
    if result.state != "DONE":
        log(f"pipeline ended in state {result.state}")
        return EXIT_VIDEO_FAILED
    if result.not_ok:
        log(f"{len(result.not_ok)} of {len(result.outcomes) - counts['skipped']} video(s) tagged by this run "
            "not fully tagged")
        return EXIT_VIDEO_FAILED
    return EXIT_OK
