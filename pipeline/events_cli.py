"""``matchtag train`` and ``matchtag evaluate events`` (event model; docs/events.md)."""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _log(msg: str) -> None:
    print(f"matchtag: {msg}", file=sys.stderr, flush=True)


def cmd_train(argv: list[str]) -> int:
    """``matchtag train --labels LABELS.csv --tags DIR --out MODEL``."""
    parser = argparse.ArgumentParser(
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

    from tagging.events.training_data import train_from_tables
    from tagging.evaluate.events import LabelsError, read_labels

    try:
        labels = read_labels(args.labels)
        model, report = train_from_tables(labels, args.tags, args.name or Path(args.out).stem, log=_log)
    except (LabelsError, FileNotFoundError, ValueError) as exc:
        _log(f"error: {exc}")
        return EXIT_USAGE
    path = model.save(args.out)
    _log(f"model {model.name} ({', '.join(model.classes)}) written to {path}; "
         f"use it with `matchtag run ... --events-model {path}`")
    return EXIT_OK


def _evaluate_events(args) -> int:
    from tagging.events.training_data import read_sequences, tag_sequences
    from tagging.evaluate.events import LabelsError, evaluate_events, format_report, read_labels
    from tagging.events.model import EventModelError, resolve_events_model
    from tagging.tables.queries import read_table

    try:
        labels = read_labels(args.labels)
        if args.events_model:
            model = resolve_events_model(args.events_model)
            events = tag_sequences(read_sequences(args.tags, sorted(set(labels.video_id))), model)
            source = model.name if model is not None else "rules"
        else:
            events = read_table(args.tags, "events")
            source = f"{args.tags}/events"
    except (LabelsError, EventModelError, FileNotFoundError) as exc:
        _log(f"error: {exc}")
        return EXIT_USAGE
    result = evaluate_events(labels, events)
    if args.json:
        print(json.dumps({"events_from": source, "mAP": result["mAP"],
                          "ap": {c: r["ap"] for c, r in result["classes"].items()},
                          "classes": result["classes"], "confusion": result["confusion"]}, indent=1))
    else:
        print(format_report(result, f"events from {source}"))
    return EXIT_OK


def register(sub) -> None:
    """Add ``events`` to the ``matchtag evaluate`` subparsers."""
    ev = sub.add_parser("events", help="DFL-style AP of tagged events against a labels CSV (docs/events.md)")
    ev.add_argument("--labels", required=True,
                    help="labels CSV: video_id, event_type, start_ms, end_ms [, track_id, peak_ms]")
    ev.add_argument("--tags", required=True, help="output directory of `matchtag run`")
    ev.add_argument("--events-model", dest="events_model",
                    help="re-tag the poses table with this model (default|rules|FILE) instead of "
                         "reading the events table")
    ev.add_argument("--json", action="store_true", help="print per-class AP and mAP as one JSON object")
    ev.set_defaults(handler=_evaluate_events)
