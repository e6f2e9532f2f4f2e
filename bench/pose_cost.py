"""Compute per frame of the pose stage: the old default against the new one, side by side.

    python bench/pose_cost.py [--video WIDE_SHOT] [--frames 24] [--coco DIR] [--json]

For each configuration, on the same decoded frames of the wide shot and in one process
(passes interleaved so both see the same background load; the best pass counts):

- frames per second of the pose stage (detector + crop model per frame, models loaded),
  split into milliseconds per frame in the detector and in the crop model;
- people with a pose per frame (median, mean): the wide shot's coverage must not drop;
- OKS AP on the COCO dev sample (``../shared/data/pose/coco``), as `matchtag evaluate pose`.

Configurations: ``old`` = the original default (flip test for everyone, every crop at
Thunder's 256 px, up to 32 crops per model call), ``new`` = today's ``PoseConfig()``
defaults.  ``--variant NAME:FIELD=VALUE[,FIELD=VALUE...]`` adds the new default with some
``PoseConfig`` fields changed, e.g. ``--variant b16:max_crops_per_call=16``
(``--flip-min-height-px`` values are shorthands for flip thresholds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("MATCHTAG_SHARED_DATA", REPO.parent / "shared" / "data"))


def _timed_pass(est, frames) -> tuple[float, float, float, list[int]]:
    """(seconds total, seconds in the detector, seconds in the crop model, people per frame)."""
    det_s = crop_s = 0.0
    people = []
    start = time.perf_counter()
    for f in frames:
        t0 = time.perf_counter()
        dets, boxes, crops, colours, frame_hw, _scene = est.detect(f)
        t1 = time.perf_counter()
        raw = est.run_crops(crops, est.flip_mask(dets)) if len(dets) else np.zeros((0, 17, 3), np.float32)
        t2 = time.perf_counter()
        people.append(len(est.assemble(dets, boxes, raw, frame_hw, colours)) if len(dets) else 0)
        det_s += t1 - t0
        crop_s += t2 - t1
    return time.perf_counter() - start, det_s, crop_s, people


def _parse_fields(text: str) -> dict:
    """``"a=1,b=2.5"`` -> PoseConfig overrides, each value converted to the field's type."""
    from dataclasses import fields

    from tagging.pose.estimators import PoseConfig

    types = {f.name: type(getattr(PoseConfig(), f.name)) for f in fields(PoseConfig)}
    out = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in types:
            raise SystemExit(f"pose_cost.py: error: --variant: PoseConfig has no field {key!r}")
        out[key] = value.lower() in ("1", "true", "on") if types[key] is bool else types[key](value)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", default=str(SHARED / "video" / "soccer_wide_dfl_08fd33_4.mp4"))
    ap.add_argument("--frames", type=int, default=24, help="frames, spread evenly over the video")
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--coco", default=str(SHARED / "pose" / "coco"), help="COCO dev sample ('' to skip AP)")
    ap.add_argument("--flip-min-height-px", type=float, nargs="*", default=[],
                    help="extra configurations: the new default with these flip thresholds")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:FIELD=VALUE[,...]",
                    help="extra configuration: the new default with these PoseConfig fields changed")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from tagging.evaluate.pose import load_dataset, oks_ap, run_estimator
    from tagging.pose.estimators import PoseConfig
    from tagging.pose.models import load_movenet
    from tagging.pose.stage import PoseStageConfig, build_estimator
    from tagging.video.reader import FrameReader, probe

    total = probe(args.video).frame_count
    stride = max(1, total // args.frames)
    frames = [f.image for f in FrameReader(args.video, stride=stride)][:args.frames]
    new = PoseConfig()
    configs = {"old": replace(new, flip_test=True, flip_min_height_px=0.0, small_crop_px=0, max_crops_per_call=32),
               "new": new}
    for h in args.flip_min_height_px:
        configs[f"flip>={h:g}px"] = replace(new, flip_min_height_px=h)
    for spec in args.variant:
        name, _, fields = spec.partition(":")
        configs[name] = replace(new, **_parse_fields(fields))
    base = build_estimator(PoseStageConfig(pose=replace(new, small_crop_px=0)))
    # One detector and one graph per crop side, shared by every configuration.
    small = {side: load_movenet(new.crop_model, side) for side in {c.small_crop_px for c in configs.values()} if side}
    estimators = {name: type(base)(base.detector, base.crop_model, cfg, small.get(cfg.small_crop_px))
                  for name, cfg in configs.items()}

    for est in estimators.values():
        _timed_pass(est, frames[:1])  # warm-up
    best: dict[str, tuple] = {}
    for _ in range(args.passes):
        for name, est in estimators.items():
            r = _timed_pass(est, frames)
            if name not in best or r[0] < best[name][0]:
                best[name] = r
    out = {"video": Path(args.video).name, "frames": len(frames), "stride": stride, "configs": {}}
    coco = load_dataset(Path(args.coco) / "test_coco.json", args.coco) if args.coco else None
    for name, (secs, det_s, crop_s, people) in best.items():
        cfg = configs[name]
        row = {"flip_test": cfg.flip_test, "flip_min_height_px": cfg.flip_min_height_px,
               "small_crop_px": cfg.small_crop_px, "small_person_height_px": cfg.small_person_height_px,
               "max_crops_per_call": cfg.max_crops_per_call,
               "frames_per_s": round(len(frames) / secs, 3),
               "detector_ms_per_frame": round(1000 * det_s / len(frames), 1),
               "crop_model_ms_per_frame": round(1000 * crop_s / len(frames), 1),
               "people_with_pose_median": float(np.median(people)),
               "people_with_pose_mean": round(float(np.mean(people)), 2)}
        if coco is not None:
            row["coco_AP"] = round(oks_ap(coco, run_estimator(coco, estimators[name]))["AP"], 4)
        out["configs"][name] = row
    out["speedup_new_over_old"] = round(out["configs"]["new"]["frames_per_s"] / out["configs"]["old"]["frames_per_s"], 3)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for name, row in out["configs"].items():
            print(f"{name:14s} " + "  ".join(f"{k} {v}" for k, v in row.items()))
        print(f"speed-up new/old: {out['speedup_new_over_old']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
