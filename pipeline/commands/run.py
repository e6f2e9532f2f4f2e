"""``matchtag run``: tag videos into the tables (validates, fetches models, runs the pipeline)."""

from __future__ import annotations

import json
import sys

from pipeline.args import RUN_USAGE
from pipeline.commands import EXIT_OK, EXIT_USAGE, EXIT_VIDEO_FAILED
from pipeline.logs import log

SUMMARY = "tag videos: pose, tracks, teams and events into Parquet tables"


def _print_help(beam: bool) -> None:
    from pipeline.options import run_parser

    parser = run_parser(matchtag=not beam, beam=beam)
    if beam:
        parser.description = "Beam pipeline options accepted by matchtag run (passed through to Beam)."
    else:
        parser.epilog = ("INPUT: video files, globs or FileSystems URIs. Beam's own options (--runner, "
                         "--project, ...) pass through: matchtag run --help-beam lists them.")
    parser.print_help()


def usage_error(message: str, show_usage: bool = True) -> int:
    """One error line (and, for a mistyped command, one usage line) on stderr; exit code 2."""
    log(f"error: {message}")
    if show_usage:
        print(f"usage: {RUN_USAGE}   (matchtag run --help)", file=sys.stderr)
    return EXIT_USAGE


def unknown_flags_fast(argv: list[str]) -> str | None:
    """The unknown-option error for ``argv`` from pipeline/run_flags.py, without importing Beam.

    None when every flag is known, or when the list may not match what is installed (another
    Beam version, or dask installed: Beam's Dask runner adds options): the full parse decides.
    """
    import importlib.metadata
    import importlib.util

    from pipeline import run_flags
    from pipeline.args import unknown_option_message

    try:
        if importlib.metadata.version("apache-beam") != run_flags.BEAM_VERSION:
            return None
    except importlib.metadata.PackageNotFoundError:
        return None
    if importlib.util.find_spec("dask") is not None:
        return None
    unknown = [t for t in argv if t.startswith("--") and t != "--" and t.split("=", 1)[0] not in run_flags.FLAGS]
    return unknown_option_message(unknown, run_flags.FLAGS) if unknown else None


def main(argv: list[str]) -> int:
    if "--help-beam" not in argv and "-h" not in argv and "--help" not in argv:
        message = unknown_flags_fast(argv)
        if message:
            return usage_error(message)
    from pipeline.options import UsageError, parse_run_args, validate

    if "--help-beam" in argv:
        _print_help(beam=True)
        return EXIT_OK
    if not argv or "-h" in argv or "--help" in argv:
        if not argv:
            return usage_error("give INPUT videos and --output DIR")
        _print_help(beam=False)
        return EXIT_OK
    try:
        # Unknown flags are refused here, before TensorFlow or any video is touched.
        _, opts = parse_run_args(argv)
        validate(opts)
    except UsageError as exc:
        return usage_error(str(exc), exc.show_usage)
    from pipeline.main import dry_run, run
    from pipeline.options import stage_config
    from tagging.pose.models import ModelFetchError, fetch_models, verify_models

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
    except UsageError as exc:   # a manifest or input list that cannot be read: no usage line
        log(f"error: {exc}")
        return EXIT_USAGE
    for vid, (status, error) in sorted(result.outcomes.items()):
        if status == "skipped":
            log(f"{vid}: already tagged; skipped")
        else:
            log(f"{vid}: {status}" + (f" ({error})" if error else ""))
    from schemas.tables import TABLES

    counts = {s: sum(o[0] == s for o in result.outcomes.values()) for s in ("ok", "partial", "failed", "skipped")}
    log(f"run {result.run_id}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"; tables in {result.output}: {', '.join(TABLES)}, runs")
    if result.state != "DONE":
        log(f"pipeline ended in state {result.state}")
        return EXIT_VIDEO_FAILED
    if result.not_ok:
        log(f"{len(result.not_ok)} of {len(result.outcomes) - counts['skipped']} video(s) tagged by this run "
            "not fully tagged")
        return EXIT_VIDEO_FAILED
    return EXIT_OK
