"""AP of an event class new to the model against the number of its labelled examples.

    python bench/few_shot_curve.py [--new-class jump] [--shots 5 10 20 50] [--repeats 3] [--json]

What an analyst does in ``matchtag review``: label a few examples of a class the model has
never seen, train, use it.  Here on **synthetic** sequences (tagging/events/synth.py; no
labelled real footage of these motions exists offline):

- the known classes (every synthetic event type but ``--new-class``) have ``--known``
  labelled tracks each, as the model's existing training data;
- the new class has N labelled tracks (N in ``--shots``), drawn from the training camera
  views (frontal, side, back), plus ``--background`` tracks of background motion: the rest
  of each reviewed stretch;
- the test set is held out twice over: another seed and the oblique camera family, which
  no training track uses; 40 tracks of each event type and 100 of background motion.

Per N, both classifiers train on the same examples (``few-shot``: class-balanced
logistic regression; ``mlp``: the default model's MLP), tag the test set, and the new
class's AP at its DFL tolerances (tagging/evaluate/events.py) is printed: mean, min and
max over ``--repeats`` draws of the N examples.  Goal (issue 12): AP >= 0.8 from 20.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd

from tagging.evaluate.events import evaluate_events
from tagging.events.model import BACKGROUND, TrainConfig, build_training_set, train_model
from tagging.events.synth import EVENT_TYPES, TEST_VIEWS, TRAIN_VIEWS, generate_track, sample_spec

TEST_SEED = 7_100_001


def _tracks(rng, kinds, views):
    return [generate_track(sample_spec(rng, k, views), rng) for k in kinds]


def test_set(seed: int = TEST_SEED):
    rng = np.random.default_rng(seed)
    kinds = [e for e in EVENT_TYPES for _ in range(40)] + [None] * 100
    tracks = _tracks(rng, kinds, TEST_VIEWS)
    labels = pd.DataFrame([{"video_id": f"t{i}", "event_type": et, "start_ms": s, "end_ms": e, "peak_ms": p,
                            "track_id": 0} for i, t in enumerate(tracks) for et, s, e, p in t.events])
    labels["track_id"] = labels["track_id"].astype("Int64")
    return tracks, labels


def tag(model, tracks) -> pd.DataFrame:
    rows = [{"video_id": f"t{i}", "event_type": e.event_type, "track_id": 0, "peak_ms": e.peak_ms,
             "confidence": e.confidence}
            for i, t in enumerate(tracks) for e in model.detect(0, t.timestamps_ms, t.keypoints)]
    return pd.DataFrame(rows, columns=["video_id", "event_type", "track_id", "peak_ms", "confidence"])


def curve(new_class: str, shots: list[int], repeats: int, known: int, background: int, log=print) -> dict:
    known_classes = [c for c in EVENT_TYPES if c != new_class]
    classes = [BACKGROUND] + sorted(known_classes + [new_class])
    test_tracks, test_labels = test_set()
    out = {"new_class": new_class, "shots": shots, "repeats": repeats, "known_per_class": known,
           "background_tracks": background, "ap": {}}
    for clf in ("few-shot", "mlp"):
        out["ap"][clf] = {}
        for n in shots:
            aps = []
            for r in range(repeats):
                rng = np.random.default_rng(1000 * n + r)
                kinds = [c for c in known_classes for _ in range(known)] + [new_class] * n + [None] * background
                train = _tracks(rng, kinds, TRAIN_VIEWS)
                X, y = build_training_set([(t.timestamps_ms, t.keypoints, t.events) for t in train], classes,
                                          train_config=TrainConfig(seed=r))
                model = train_model(X, y, classes, f"fewshot-{n}",
                                    train_config=TrainConfig(classifier=clf, seed=r))
                result = evaluate_events(test_labels, tag(model, test_tracks), [new_class])
                aps.append(result["classes"][new_class]["ap"])
            out["ap"][clf][n] = {"mean": float(np.mean(aps)), "min": float(np.min(aps)),
                                 "max": float(np.max(aps)), "runs": aps}
            log(f"{clf:8s} {new_class:12s} {n:3d} examples: AP {np.mean(aps):.3f} "
                f"(min {np.min(aps):.3f}, max {np.max(aps):.3f})")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--new-class", default="jump", choices=EVENT_TYPES + ("all",),
                    help="the synthetic class held out as new (all: each in turn)")
    ap.add_argument("--shots", type=int, nargs="+", default=[5, 10, 20, 50])
    ap.add_argument("--repeats", type=int, default=3, help="draws of the N examples per N")
    ap.add_argument("--known", type=int, default=30, help="labelled tracks per known class")
    ap.add_argument("--background", type=int, default=40, help="background-only training tracks")
    ap.add_argument("--json", action="store_true", help="print the curve as one JSON object (logs to stderr)")
    args = ap.parse_args(argv)
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    news = list(EVENT_TYPES) if args.new_class == "all" else [args.new_class]
    results = [curve(c, args.shots, args.repeats, args.known, args.background, log) for c in news]
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
