"""Choose each event class's threshold for a false-alarm target on real footage without events.

    python bench/calibrate_event_thresholds.py NEG_DIR [NEG_DIR ...] [--model M] [--per-hour 0]
        [--floor 0.5] [--not-negative CLASS=VIDEO ...] [--write OUT.skops] [--json]

``NEG_DIR`` are ``matchtag run`` output roots (``--pose replay`` runs are fine) of footage
without events: every event tagged there is a false alarm, except for the classes a video
really shows (``--not-negative kick=soccer_clip``: that video is left out for that class,
both for choosing its threshold and for counting).  The
tracks are scored again from the ``poses`` table (keypoints and the ball and pitch
context), and every peak of every class above 0.05 is a candidate false alarm with its
confidence.

- **Threshold of a class**: the lowest value (never below ``--floor``, the model's
  default 0.5) at which the candidates of the calibration videos give at most
  ``--per-hour`` false alarms per hour of their footage (0: just above the strongest one).
- **Leave one video out**: for each video, the thresholds are chosen on the *other*
  videos and the false alarms counted on it: what a threshold tuned elsewhere does on
  footage it never saw.  The table printed is that, summed over the videos.
- ``--write``: the model with the thresholds chosen on **all** the videos (its
  ``peak_config``), e.g. the shipped default.

Hours come from the ``videos`` table (``duration_ms``).  With a few minutes of footage a
rate per hour is coarse (one false alarm in 10 minutes is 6 per hour): say so with the figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import numpy as np

CANDIDATE_FLOOR = 0.05


def candidates(model, sequences: dict) -> dict[str, list[float]]:
    """{class: [confidence of each peak above CANDIDATE_FLOOR]} over the tracks of one video."""
    from tagging.events.model import BACKGROUND, pick_peaks

    pc = model.peak_config
    out: dict[str, list[float]] = {c: [] for c in model.classes if c != BACKGROUND}
    for seq in sequences.values():
        tf, proba = model.score_track(*seq)
        for ci, c in enumerate(model.classes):
            if c == BACKGROUND:
                continue
            for s in np.unique(tf.segment):
                m = tf.segment == s
                out[c].extend(conf for *_, conf in pick_peaks(tf.grid_ms[m], proba[m, ci], CANDIDATE_FLOOR,
                                                              pc.nms(c), pc.smooth_steps, pc.plateau_steps))
    return out


def threshold_for(confs: list[float], hours: float, per_hour: float, floor: float) -> float:
    """Lowest threshold >= floor leaving at most per_hour x hours of ``confs`` at or above it."""
    allowed = int(np.floor(per_hour * hours + 1e-9))
    ranked = sorted(confs, reverse=True)
    if len(ranked) <= allowed:
        return floor
    # just above the (allowed+1)-th strongest candidate
    return float(max(floor, np.nextafter(np.float32(ranked[allowed]), np.float32(1.0))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("neg_dirs", nargs="+", help="`matchtag run` output roots of event-free footage")
    ap.add_argument("--model", default="default", help="event model (default: the shipped one)")
    ap.add_argument("--per-hour", dest="per_hour", type=float, default=0.0,
                    help="false alarms per hour allowed on the calibration footage (default 0)")
    ap.add_argument("--floor", type=float, default=0.5, help="lowest threshold (default 0.5)")
    ap.add_argument("--not-negative", dest="not_negative", nargs="*", default=[], metavar="CLASS=VIDEO",
                    help="VIDEO really shows events of CLASS: not a negative for it")
    ap.add_argument("--write", help="save the model with the thresholds chosen on all the videos here")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from tagging.events.model import BACKGROUND, resolve_events_model
    from tagging.events.training_data import read_sequences
    from tagging.tables.queries import read_table

    model = resolve_events_model(args.model)
    classes = [c for c in model.classes if c != BACKGROUND]
    videos = {}
    for d in args.neg_dirs:
        vt = read_table(d, "videos")
        vt = vt[vt.status.isin(["ok", "partial"])]
        seqs = read_sequences(d, sorted(vt.video_id))
        for row in vt.itertuples():
            videos[row.video_id] = {"hours": float(row.duration_ms) / 3.6e6,
                                    "cands": candidates(model, seqs.get(row.video_id, {}))}
        print(f"{d}: scored {len(vt)} video(s)", file=sys.stderr)
    before = {c: model.peak_config.thr(c) for c in classes}
    excluded = {tuple(x.split("=", 1)) for x in args.not_negative}
    neg = {c: [n for n in videos if (c, n) not in excluded] for c in classes}   # negatives per class
    hours_of = {c: sum(videos[n]["hours"] for n in neg[c]) for c in classes}
    all_hours = sum(v["hours"] for v in videos.values())

    def thresholds(names):
        out = {}
        for c in classes:
            use = [n for n in names if n in neg[c]]
            out[c] = threshold_for([x for n in use for x in videos[n]["cands"][c]],
                                   sum(videos[n]["hours"] for n in use), args.per_hour, args.floor)
        return out

    def count(name, thr):
        return {c: sum(x >= thr[c] for x in videos[name]["cands"][c]) if name in neg[c] else 0 for c in classes}

    result = {"videos": {}, "hours": all_hours, "per_hour_target": args.per_hour, "floor": args.floor,
              "thresholds_before": before, "thresholds_all": thresholds(list(videos))}
    lovo = {c: 0 for c in classes}
    at_before = {c: 0 for c in classes}
    for name in videos:
        thr = thresholds([n for n in videos if n != name])
        fa = count(name, thr)
        fb = count(name, before)
        for c in classes:
            lovo[c] += fa[c]
            at_before[c] += fb[c]
        result["videos"][name] = {"hours": videos[name]["hours"], "thresholds_from_others": thr,
                                  "false_alarms_held_out": fa, "false_alarms_at_old_thresholds": fb,
                                  "strongest": {c: max(videos[name]["cands"][c], default=0.0) for c in classes}}
    def per_h(c, n):
        return n / hours_of[c] if hours_of[c] else float("nan")

    result["negatives"] = {c: {"videos": neg[c], "hours": hours_of[c]} for c in classes}
    result["false_alarms_held_out"] = lovo
    result["false_alarms_per_hour_held_out"] = {c: per_h(c, lovo[c]) for c in classes}
    result["false_alarms_at_old_thresholds"] = at_before
    result["false_alarms_per_hour_at_old_thresholds"] = {c: per_h(c, at_before[c]) for c in classes}
    if args.write:
        from pathlib import Path

        model.peak_config = replace(model.peak_config, threshold=dict(result["thresholds_all"]))
        model.training = {**model.training, "thresholds": {
            "calibrated_on": sorted(videos), "hours": all_hours, "per_hour_target": args.per_hour,
            "floor": args.floor}}
        model.save(Path(args.write))
        result["written"] = args.write
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{len(videos)} event-free videos, {all_hours * 60:.2f} min; target {args.per_hour:g} false alarms/hour, "
          f"thresholds >= {args.floor:g}")
    print(f"{'class':13s}{'minutes':>8s}{'old thr':>8s}{'FA (/h) at old':>16s}{'thr (all)':>11s}"
          f"{'FA (/h) held-out':>18s}")
    for c in classes:
        print(f"{c:13s}{hours_of[c] * 60:8.2f}{before[c]:8.3f}"
              f"{at_before[c]:6d} ({result['false_alarms_per_hour_at_old_thresholds'][c]:6.0f})"
              f"{result['thresholds_all'][c]:11.4f}"
              f"{lovo[c]:8d} ({result['false_alarms_per_hour_held_out'][c]:6.0f})")
    for name, v in result["videos"].items():
        print(f"  {name}: held out, thresholds from the others "
              + ", ".join(f"{c} {v['thresholds_from_others'][c]:.3f}" for c in classes)
              + "; false alarms " + ", ".join(f"{c} {n}" for c, n in v["false_alarms_held_out"].items() if n))
    if args.write:
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
