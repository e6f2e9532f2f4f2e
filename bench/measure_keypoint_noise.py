"""Measure the keypoint noise of the real pipeline output, to calibrate tagging/events/synth.py.

    python bench/measure_keypoint_noise.py TAGS_DIR [TAGS_DIR ...] [--json]

For each video in the ``poses`` tables of the given ``matchtag run`` output
directories, and pooled over all of them, by person height (box height in px):

- ``jitter_torso``: frame-to-frame keypoint jitter as a fraction of the torso
  length.  Estimated from second differences along each track,
  ``d2 = x[t+1] - 2 x[t] + x[t-1]``: for smooth motion sampled at 10-50 fps the
  true second difference is small, and white noise of std sigma gives
  ``std(d2) = sigma * sqrt(6)``.  We use a robust std (1.4826 x MAD) of d2 per
  coordinate, of keypoints with score >= 0.3 in all three frames, divided by
  sqrt(6) and by the track's median torso length.  ``jitter_torso_static``
  restricts this to near-static people (hip centre moving < 0.5 torso lengths
  per second) so that motion does not inflate it.
- ``low_score_share``: share of keypoints with score < 0.3 (what the features
  treat as missing), overall and for the head, arms and legs.
- ``score_quantiles``: 10/50/90 % quantiles of the keypoint scores.

The numbers are written into ``tagging/events/synth.py`` (``NoiseConfig``) and
docs/events.md; rerun this after changing the pose models.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd

from tagging.core.keypoints import KP
from tagging.tables.queries import keypoints_array, read_table

MIN_SCORE = 0.3
HEIGHT_BINS_PX = (0, 40, 80, 160, 320, 10_000)
GROUPS = {
    "head": [KP[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")],
    "arms": [KP[n] for n in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                             "left_wrist", "right_wrist")],
    "legs": [KP[n] for n in ("left_hip", "right_hip", "left_knee", "right_knee",
                             "left_ankle", "right_ankle")],
}
_SH = [KP["left_shoulder"], KP["right_shoulder"]]
_HP = [KP["left_hip"], KP["right_hip"]]


def _bin_label(h: float) -> str:
    for lo, hi in zip(HEIGHT_BINS_PX[:-1], HEIGHT_BINS_PX[1:]):
        if lo <= h < hi:
            return f"{lo}-{hi}px" if hi < 10_000 else f">={lo}px"
    return "?"


def track_jitter(ts_ms: np.ndarray, kps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(second-difference samples in torso units (N,), static flag (N,)) of one track."""
    ok = kps[..., 2] >= MIN_SCORE
    torso_ok = ok[:, _SH + _HP].all(axis=1)
    if torso_ok.sum() < 3 or len(ts_ms) < 3:
        return np.empty(0), np.empty(0, bool)
    torso = np.linalg.norm(kps[:, _SH, :2].mean(1) - kps[:, _HP, :2].mean(1), axis=1)
    scale = float(np.median(torso[torso_ok]))
    if scale <= 1:
        return np.empty(0), np.empty(0, bool)
    hip = kps[:, _HP, :2].mean(1)
    dt_s = np.diff(ts_ms) / 1000.0
    # consecutive processed frames only (no gaps longer than 1.5 x the median step)
    step = np.median(dt_s)
    cont = (dt_s[:-1] < 1.5 * step) & (dt_s[1:] < 1.5 * step)
    speed = np.linalg.norm(np.diff(hip, axis=0), axis=1) / np.maximum(dt_s, 1e-6) / scale
    static = (speed[:-1] < 0.5) & (speed[1:] < 0.5) & torso_ok[:-2] & torso_ok[1:-1] & torso_ok[2:]
    d2 = kps[2:, :, :2] - 2 * kps[1:-1, :, :2] + kps[:-2, :, :2]      # (T-2, 17, 2)
    valid = ok[2:] & ok[1:-1] & ok[:-2] & cont[:, None]
    samples = (d2 / scale)[valid]                                      # (N, 2)
    stat = np.repeat(static[:, None], 17, axis=1)[valid]
    return samples.reshape(-1), np.repeat(stat, 2)


def robust_sigma(d2: np.ndarray) -> float:
    if d2.size < 20:
        return float("nan")
    mad = np.median(np.abs(d2 - np.median(d2)))
    return float(1.4826 * mad / np.sqrt(6.0))


def measure(tags_dirs: list[str]) -> dict:
    per_video, pooled_rows = {}, []
    for d in tags_dirs:
        poses = read_table(d, "poses")
        for vid, df in poses.groupby("video_id"):
            df = df[df.track_id >= 0].sort_values(["track_id", "frame_index"])
            kps_all = keypoints_array(df)
            height = (df.bbox_y2 - df.bbox_y1).to_numpy()
            low = kps_all[..., 2] < MIN_SCORE
            samples, static_samples, by_bin = [], [], {}
            for tid, idx in df.groupby("track_id").indices.items():
                ts = df.timestamp_ms.to_numpy()[idx]
                s, st = track_jitter(ts, kps_all[idx])
                samples.append(s)
                static_samples.append(s[st])
                b = _bin_label(float(np.median(height[idx])))
                by_bin.setdefault(b, []).append(s)
            for i in range(len(df)):
                pooled_rows.append((_bin_label(float(height[i])), low[i]))
            all_s = np.concatenate(samples) if samples else np.empty(0)
            st_s = np.concatenate(static_samples) if static_samples else np.empty(0)
            per_video[str(vid)] = {
                "people_rows": int(len(df)),
                "median_height_px": float(np.median(height)) if len(df) else float("nan"),
                "jitter_torso": robust_sigma(all_s),
                "jitter_torso_static": robust_sigma(st_s),
                "jitter_torso_by_height": {b: robust_sigma(np.concatenate(v)) for b, v in sorted(by_bin.items())},
                "low_score_share": float(low.mean()) if len(df) else float("nan"),
                "low_score_share_by_group": {g: float(low[:, ix].mean()) for g, ix in GROUPS.items()},
                "score_quantiles": [float(q) for q in np.quantile(kps_all[..., 2], [0.1, 0.5, 0.9])],
            }
    bins: dict[str, list] = {}
    for b, lowrow in pooled_rows:
        bins.setdefault(b, []).append(lowrow)
    pooled = {}
    for b, rows_ in sorted(bins.items()):
        arr = np.stack(rows_)
        pooled[b] = {"people_rows": int(len(arr)), "low_score_share": float(arr.mean()),
                     **{f"low_score_share_{g}": float(arr[:, ix].mean()) for g, ix in GROUPS.items()}}
    return {"min_score": MIN_SCORE, "videos": per_video, "low_score_share_by_height": pooled}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tags_dirs", nargs="+", help="output directories of `matchtag run`")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    result = measure(args.tags_dirs)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"keypoints with score < {MIN_SCORE} count as missing")
    for vid, r in result["videos"].items():
        print(f"\n{vid}: {r['people_rows']} person-frames, median height {r['median_height_px']:.0f} px")
        print(f"  jitter (torso lengths): all {r['jitter_torso']:.3f}, near-static {r['jitter_torso_static']:.3f}")
        print("  jitter by height: " + ", ".join(f"{b} {v:.3f}" for b, v in r["jitter_torso_by_height"].items()))
        print(f"  low-score share {r['low_score_share']:.3f}: " + ", ".join(
            f"{g} {v:.3f}" for g, v in r["low_score_share_by_group"].items()))
        print("  score q10/q50/q90: " + "/".join(f"{q:.2f}" for q in r["score_quantiles"]))
    print("\nlow-score share by person height (all videos):")
    print(pd.DataFrame(result["low_score_share_by_height"]).T.to_string(float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
