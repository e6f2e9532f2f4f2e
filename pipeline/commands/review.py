"""``matchtag review --tags DIR``: the review app (check, correct and add events on the video; train)."""

from __future__ import annotations

import getpass
import json
import sys

from pipeline.args import StrictParser
from pipeline.commands import EXIT_OK, EXIT_USAGE
from pipeline.logs import log

SUMMARY = "review in the browser: tags drawn on the video, confirm/reject/add events, train from the labels"


def _parser() -> StrictParser:
    parser = StrictParser(
        prog="matchtag review",
        description="Serve a local web app over the output of `matchtag run`: the videos with skeletons, track "
                    "ids and team colours drawn in sync, the events to confirm, reject, fix or add by keyboard, "
                    "and a Train button. Labels are saved to DIR/labels (the format `matchtag train` reads). "
                    "Binds 127.0.0.1; the printed URL carries a random token, without which the server answers "
                    "403. See docs/review.md.")
    parser.add_argument("--tags", required=True, help="output directory of `matchtag run`")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only; the token still applies)")
    parser.add_argument("--no-browser", dest="no_browser", action="store_true", help="do not open a browser")
    parser.add_argument("--cache-dir", dest="cache_dir",
                        help="where H.264 copies of videos the browser cannot play go (default DIR/_review_cache)")
    parser.add_argument("--reviewer", default=None, help="name written to the labels' reviewer column "
                                                         "(default: your login name)")
    parser.add_argument("--json", action="store_true", help="print the URL as one JSON object")
    return parser


def main(argv: list[str]) -> int:
    """Serve until interrupted (Ctrl-C: exit 0); exit 2 when DIR holds no tables or the port is taken."""
    args = _parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        log(f"error: --port {args.port}: 0..65535")
        return EXIT_USAGE

    from tagging.review.app import ReviewApp, app_url, make_server

    try:
        app = ReviewApp(args.tags, cache_dir=args.cache_dir, reviewer=args.reviewer or getpass.getuser())
    except (FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    if not app.videos:
        log(f"error: {args.tags}: the videos table has no row: nothing to review")
        return EXIT_USAGE
    try:
        server = make_server(app, args.host, args.port)
    except OSError as exc:
        log(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return EXIT_USAGE
    url = app_url(server, app)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log(f"warning: listening on {args.host}: other machines can reach it (the token still applies)")
    print(json.dumps({"url": url}) if args.json else url, flush=True)
    log(f"reviewing {len(app.videos)} video(s) of {args.tags}; labels go to {app.store.folder}; Ctrl-C stops")
    if not args.no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        server.server_close()
    return EXIT_OK
