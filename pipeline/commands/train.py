"""``matchtag train``: train an event model from labelled events on a run's poses table."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from pipeline.args import StrictParser
from pipeline.commands import EXIT_OK, EXIT_USAGE
from pipeline.logs import log

SUMMARY = "train an event model from a labels CSV or a review app's labels folder and a run's poses table"


def _parser() -> StrictParser:
    parser = StrictParser(
        prog="matchtag train",
        description="Train an event model from labelled events on `matchtag run` output (its poses table). "
                    "--labels is a labels CSV (video_id, event_type, start_ms, end_ms [, track_id, peak_ms]; "
                    "every frame outside a labelled event is background) or the labels folder that "
                    "`matchtag review` writes (DIR/labels: confirmed events are positives, rejected ones "
                    "hard negatives, the rest of each reviewed stretch background; videos are held out "
                    "and the new model is scored on them beside the run's own events).")
    parser.add_argument("--labels", required=True, help="labels CSV, or a review labels folder (DIR/labels)")
    parser.add_argument("--tags", help="output directory of `matchtag run` for those videos "
                                       "(default for a labels folder: the folder above it)")
    parser.add_argument("--out", help="model file to write (.skops; default for a labels folder: "
                                      "DIR/labels/models/events-<time>.skops)")
    parser.add_argument("--name", help="model name written to events.model (default: the --out file stem)")
    parser.add_argument("--classifier", choices=("auto", "mlp", "few-shot"), default="auto",
                        help="auto (default): few-shot (class-balanced logistic regression) when a class has "
                             "under 50 labelled events, else the MLP")
    parser.add_argument("--json", action="store_true", help="print what was trained as one JSON object")
    return parser


def main(argv: list[str]) -> int:
    """``matchtag train --labels LABELS.csv --tags DIR --out MODEL`` or ``--labels DIR/labels``."""
    parser = _parser()
    args = parser.parse_args(argv)
    labels = Path(args.labels)
    if not labels.is_dir() and (args.tags is None or args.out is None):
        parser.error("--tags and --out are required with a labels CSV")

    from tagging.evaluate.events import LabelsError
    from tagging.events.model import EventModelError

    try:
        if labels.is_dir():
            return _train_reviewed(args, labels)
        return _train_csv(args, labels)
    except (LabelsError, EventModelError, FileNotFoundError, ValueError) as exc:
        log(f"error: {exc}")
        return EXIT_USAGE


def _train_csv(args, labels: Path) -> int:
    from tagging.evaluate.events import read_labels
    from tagging.events.model import TrainConfig
    from tagging.events.training_data import choose_classifier, train_from_tables

    table = read_labels(labels)
    config = TrainConfig(classifier=choose_classifier(table, args.classifier))
    model, _ = train_from_tables(table, args.tags, args.name or Path(args.out).stem, train_config=config, log=log)
    path = model.save(args.out)
    if args.json:
        print(json.dumps({"model_path": str(path), "model_name": model.name, "classes": model.classes,
                          "classifier": config.classifier}))
    log(f"model {model.name} ({', '.join(model.classes)}) written to {path}; "
        f"use it with `matchtag run ... --events-model {path}`")
    return EXIT_OK


def _train_reviewed(args, labels: Path) -> int:
    from tagging.review.training import train_and_evaluate

    if not (labels / "labels.csv").is_file():
        raise FileNotFoundError(f"{labels}: no labels.csv in this folder (label events with `matchtag review`)")
    tags = args.tags or str(labels.resolve().parent)
    result = train_and_evaluate(tags, labels, args.out, args.name, args.classifier, progress=log)
    if args.json:
        print(json.dumps(asdict(result)))
    for c in sorted(set(result.ap_new) | set(result.ap_old)):
        log(f"held-out AP {c}: new {result.ap_new.get(c, float('nan')):.3f}, "
            f"old ({result.old_model}) {result.ap_old.get(c, float('nan')):.3f}")
    if result.note:
        log(result.note)
    log(f"model {result.model_name} ({', '.join(result.classes)}, {result.classifier}) written to "
        f"{result.model_path}; use it with `matchtag run ... --events-model {result.model_path}`")
    return EXIT_OK
