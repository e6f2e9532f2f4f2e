"""Train the default event model shipped in tagging/events/data/events_default.skops.

    python bench/train_default_events_model.py --real-tags DIR [DIR ...] [--out PATH]

Reproducible: the same inputs give the same file.  Training data:

- **positives (synthetic)**: ``tagging.events.synth.generate_dataset(seed=SEED, ...)`` with
  the TRAIN_VIEWS camera families only (frontal, side-on, from behind, each
  mirrored or not); the oblique family is kept for the held-out test
  (bench/events_synthetic_eval.py).  Synthetic background motions too, and the
  synthetic ball and pitch context of every track (``SyntheticTrack.context``).
- **real negatives** (optional): every track of every video in the ``poses`` tables under
  the given ``matchtag run`` output directories, all labelled background (any kick, jump
  or fall in them is taught as background too, which makes the model conservative on
  such footage).

The shipped file (``events-features-2``) has two real videos as negatives:
soccer_wide_dfl_08fd33_4.mp4 and street_crowd_openpose.avi, both re-tagged with
``matchtag run VIDEO --pose replay --poses-from BASELINE --output NEG`` so that their
``poses`` carry the scene context, then ``--real-tags NEG``.  The other real videos stay
out of training: its class thresholds were set on them by
``bench/calibrate_event_thresholds.py ... --write tagging/events/data/events_default.skops``
(docs/events.md, "Calibrated confidence").  The model before it (``events-features-1``,
pose only) used four of the real videos as negatives.
"""

from __future__ import annotations

import argparse
import sys
import time

from tagging.events.model import BACKGROUND, DEFAULT_MODEL_PATH, TrainConfig, build_training_set, train_model
from tagging.events.synth import EVENT_TYPES, TRAIN_VIEWS, generate_dataset
from tagging.events.training_data import read_sequences

SEED = 2026
N_PER_EVENT = 400
N_BACKGROUND = 800
MODEL_NAME = "matchtag-events-default-2"


def train_default(real_tags: list[str], exclude_videos=()):
    """The default model's recipe; ``exclude_videos`` leaves real videos out (leave-one-out checks)."""
    classes = [BACKGROUND, *EVENT_TYPES]
    tracks = [(s.timestamps_ms, s.keypoints, s.events, s.context)
              for s in generate_dataset(SEED, N_PER_EVENT, N_BACKGROUND, views=TRAIN_VIEWS)]
    n_syn = len(tracks)
    real = []
    for d in real_tags:
        for vid, seqs in sorted(read_sequences(d).items()):
            if vid in exclude_videos:
                continue
            real.append(vid)
            tracks.extend((ts, kps, [], ctx) for _, (ts, kps, ctx) in sorted(seqs.items()))
    cfg = TrainConfig()
    X, y = build_training_set(tracks, classes, train_config=cfg)
    info = {"synthetic_tracks": n_syn, "synthetic_seed": SEED, "synthetic_views": list(TRAIN_VIEWS),
            "real_negative_videos": real, "real_negative_tracks": len(tracks) - n_syn,
            "positives": "synthetic (tagging/events/synth.py)"}
    return train_model(X, y, classes, MODEL_NAME, train_config=cfg, training_info=info), len(X)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-tags", nargs="*", default=[], help="`matchtag run` output dirs: real negatives")
    ap.add_argument("--out", default=str(DEFAULT_MODEL_PATH), help="model file to write")
    args = ap.parse_args(argv)
    t0 = time.time()
    model, n_windows = train_default(args.real_tags)
    path = model.save(args.out)
    t = model.training
    print(f"{model.name}: {n_windows} windows from {t['synthetic_tracks']} synthetic + "
          f"{t['real_negative_tracks']} real tracks ({', '.join(t['real_negative_videos']) or 'none'}); "
          f"{time.time() - t0:.0f} s -> {path} ({path.stat().st_size} bytes)")
    print("frames per class:", model.training["frames_per_class"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
