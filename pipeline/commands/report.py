"""``matchtag report --tags DIR --out report.html``: one self-contained HTML report of a run's output."""

from __future__ import annotations

import json

from pipeline.args import StrictParser
from pipeline.commands import EXIT_OK, EXIT_USAGE
from pipeline.logs import log

SUMMARY = "one self-contained HTML report: event timelines, events with thumbnails, tracks, failures"


def _parser() -> StrictParser:
    parser = StrictParser(
        prog="matchtag report", allow_abbrev=False,
        description="Write one HTML file, viewable offline, over the output of `matchtag run`: per video the "
                    "event timeline, the events with a thumbnail of each peak frame, the tracks, people per "
                    "frame, and what failed.")
    parser.add_argument("--tags", required=True, help="output directory of `matchtag run`")
    parser.add_argument("--out", required=True, help="HTML file to write")
    parser.add_argument("--video-id", dest="video_ids", action="append",
                        help="only this video (repeat for several; default: every video)")
    parser.add_argument("--json", action="store_true", help="print what was written as one JSON object")
    return parser


def main(argv: list[str]) -> int:
    """``matchtag report --tags DIR --out FILE.html``; exit 2 when DIR holds no tables."""
    args = _parser().parse_args(argv)

    from tagging.draw.report import build_report

    try:
        result = build_report(args.tags, args.out, video_ids=args.video_ids, log=None if args.json else log)
    except (FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    except OSError as exc:
        log(f"error: {args.out}: cannot write: {exc}")
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"out": result.out, "bytes": result.bytes, "runs": result.runs,
                          "videos": [vars(v) for v in result.videos]}))
    else:
        log(f"{result.out}: {len(result.videos)} video(s), {result.bytes / 1e6:.2f} MB")
    return EXIT_OK
