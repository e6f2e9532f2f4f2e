"""Train an event model from the reviewed labels of an output root and score it on videos
held out from training, beside the model that tagged them (``matchtag train --labels
DIR/labels`` and the review app's Train button).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from tagging.review.labels import STRETCHES, LabelStore

LOG = logging.getLogger("matchtag")


@dataclass
class TrainResult:
    """What a training produced: the model file, its classes and classifier, which videos
    trained it and which were held out, and AP per class (mean over the DFL tolerances) of
    the new model and of the run's own events on the held-out videos (empty when fewer
    than two videos have labels)."""

    model_path: str
    model_name: str
    classes: list[str]
    classifier: str
    train_videos: list[str]
    heldout_videos: list[str]
    labels_used: int
    hard_negatives: int
    ap_new: dict[str, float] = field(default_factory=dict)
    ap_old: dict[str, float] = field(default_factory=dict)
    old_model: str = ""
    note: str = ""


def read_reviewed(labels_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(labels, stretches)`` of a labels folder: labels as ``read_labels(with_status=True)``
    gives them (confirmed and rejected), live stretches as ``video_id, start_ms, end_ms``."""
    from tagging.evaluate.events import read_labels

    store = LabelStore(labels_dir)
    labels = read_labels(store.path(), with_status=True)
    rows = [r for r in store.read(STRETCHES) if r["status"] != "deleted"]
    stretches = pd.DataFrame(rows, columns=["video_id", "start_ms", "end_ms"])
    stretches[["start_ms", "end_ms"]] = stretches[["start_ms", "end_ms"]].astype(float)
    return labels, stretches[["video_id", "start_ms", "end_ms"]]


def split_videos(video_ids: list[str], share: float = 0.25) -> tuple[list[str], list[str]]:
    """``(train, held_out)``: a quarter of the videos (at least one) held out, chosen by a hash of
    the id so that the split does not move when labels are added; none when under two."""
    vids = sorted(set(video_ids))
    if len(vids) < 2:
        return vids, []
    ranked = sorted(vids, key=lambda v: hashlib.sha256(v.encode()).hexdigest())
    n = max(1, int(len(vids) * share))
    held = sorted(ranked[:n])
    return [v for v in vids if v not in held], held


def _ap(result: dict) -> dict[str, float]:
    return {c: round(float(r["ap"]), 4) for c, r in result["classes"].items()}


def train_and_evaluate(tags_dir: str | Path, labels_dir: str | Path, out: str | Path | None = None,
                       name: str | None = None, classifier: str = "auto",
                       progress: Callable[[str], None] = LOG.info) -> TrainResult:
    """Train on the reviewed labels of ``labels_dir`` (poses from ``tags_dir``), hold out videos,
    score; the model is written to ``out`` (default ``labels_dir/models/events-<UTC time>.skops``).

    The saved model is the one scored: trained without the held-out videos."""
    from tagging.evaluate.events import evaluate_events
    from tagging.events.model import TrainConfig
    from tagging.events.training_data import choose_classifier, read_sequences, tag_sequences, train_from_tables
    from tagging.tables.load import load_events

    progress("reading labels")
    labels, stretches = read_reviewed(labels_dir)
    positives = labels[labels.status == "confirmed"]
    train_vids, held = split_videos(list(positives.video_id))
    clf = choose_classifier(positives[positives.video_id.isin(train_vids)], classifier)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(out) if out else Path(labels_dir) / "models" / f"events-{stamp}.skops"
    progress(f"training ({clf}) on {len(train_vids)} video(s), {len(held)} held out")
    in_train = labels.video_id.isin(train_vids)
    model, report = train_from_tables(labels[in_train], tags_dir, name or out.stem,
                                      train_config=TrainConfig(classifier=clf),
                                      stretches=stretches[stretches.video_id.isin(train_vids)], log=progress)
    path = model.save(out)
    result = TrainResult(str(path), model.name, list(model.classes), clf, train_vids, held, int(report["used"]),
                         int(report["hard_negatives"]))
    if not held:
        result.note = "one labelled video: nothing held out to score on (label a second video to compare models)"
        return result
    progress(f"scoring on held-out {', '.join(held)}")
    truth = positives[positives.video_id.isin(held)]
    classes = sorted(set(positives.event_type))
    new = tag_sequences(read_sequences(tags_dir, held), model)
    old = load_events(tags_dir, held, columns=["event_type", "track_id", "peak_ms", "confidence", "model"])
    result.ap_new = _ap(evaluate_events(truth, new, classes))
    result.ap_old = _ap(evaluate_events(truth, old, classes))
    result.old_model = ", ".join(sorted(set(old.model))) or "(no events)"
    return result
