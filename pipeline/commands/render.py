"""``matchtag render VIDEO --tags DIR --out FILE.mp4``: the tags drawn on the video, as H.264."""

from __future__ import annotations

import json

from pipeline.args import StrictParser
from pipeline.commands import EXIT_OK, EXIT_USAGE, EXIT_VIDEO_FAILED
from pipeline.logs import log

SUMMARY = "draw a video's tags (skeletons, track ids in team colours, events) into an H.264 mp4"


def main(argv: list[str]) -> int:
    parser = StrictParser(
        prog="matchtag render", allow_abbrev=False,
        description="Draw the tags of one video on its frames: skeletons, boxes and track ids in team "
                    "colours (a red, b blue, other yellow, unknown grey) and a label for each event while "
                    "it lasts. Writes an H.264 mp4 with the source's frames, size and frame rate.")
    parser.add_argument("video", help="the video file that was tagged")
    parser.add_argument("--tags", required=True, help="output directory of `matchtag run`")
    parser.add_argument("--out", required=True, help="mp4 file to write")
    parser.add_argument("--start", type=float, help="first second to draw (default: the start)")
    parser.add_argument("--end", type=float, help="second to stop at (default: the end)")
    parser.add_argument("--video-id", dest="video_id",
                        help="the video's id in the tables (default: the row with this file's sha256)")
    parser.add_argument("--crf", type=int, default=20, help="H.264 quality, 0-51, lower is better (default 20)")
    parser.add_argument("--json", action="store_true", help="print what was written as one JSON object")
    args = parser.parse_args(argv)
    if not 0 <= args.crf <= 51:
        parser.error("--crf must be between 0 and 51")

    try:
        import av  # noqa: F401
    except ImportError:
        log("error: matchtag render needs PyAV: pip install av")
        return EXIT_USAGE
    from tagging.draw.render import RenderError, render_overlay
    from tagging.video.reader import VideoError

    try:
        result = render_overlay(args.video, args.tags, args.out, video_id=args.video_id,
                                start_s=args.start, end_s=args.end, crf=args.crf)
    except (RenderError, VideoError, FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    except OSError as exc:
        log(f"error: {args.out}: cannot write: {exc}")
        return EXIT_USAGE
    summary = {"out": result.out, "video_id": result.video_id, "frames": result.frames,
               "width": result.width, "height": result.height, "first_frame": result.first_frame,
               "last_frame": result.last_frame, "events_shown": result.events, "truncated": result.truncated}
    if args.json:
        print(json.dumps(summary))
    else:
        log(f"{result.out}: {result.frames} frames ({result.first_frame}-{result.last_frame}) of "
            f"{result.video_id}, {result.width}x{result.height}, {result.events} event(s) shown")
    if result.truncated:
        log(f"error: {args.video}: the file ends early (damaged or cut): only the frames before the "
            "damage were rendered")
        return EXIT_VIDEO_FAILED
    return EXIT_OK
