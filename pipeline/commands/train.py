"""``matchtag train``: train an event model from labelled events on a run's poses table."""

from __future__ import annotations

from pipeline.args import StrictParser
from pipeline.commands import EXIT_OK, EXIT_USAGE
from pipeline.logs import log

SUMMARY = "train an event model from a labels CSV and a run's poses table"


def main(argv: list[str]) -> int:
    """``matchtag train --labels LABELS.csv --tags DIR --out MODEL``."""
    parser = StrictParser(
        prog="matchtag train",
        description="Train an event model from labelled events on `matchtag run` output (its poses table). "
                    "Labels CSV columns: video_id, event_type, start_ms, end_ms [, track_id, peak_ms]. "
                    "Every frame outside a labelled event is background.")
    parser.add_argument("--labels", required=True, help="labels CSV")
    parser.add_argument("--tags", required=True, help="output directory of `matchtag run` for those videos")
    parser.add_argument("--out", required=True, help="model file to write (.skops)")
    parser.add_argument("--name", help="model name written to events.model (default: the --out file stem)")
    args = parser.parse_args(argv)

    from pathlib import Path

    from tagging.evaluate.events import LabelsError, read_labels
    from tagging.events.training_data import train_from_tables

    try:
        labels = read_labels(args.labels)
        model, report = train_from_tables(labels, args.tags, args.name or Path(args.out).stem, log=log)
    except (LabelsError, FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    path = model.save(args.out)
    log(f"model {model.name} ({', '.join(model.classes)}) written to {path}; "
         f"use it with `matchtag run ... --events-model {path}`")
    return EXIT_OK
