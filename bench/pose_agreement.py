"""How far one run's poses moved from another's, on the same frames of a video.

    python bench/pose_agreement.py OUT_A OUT_B --video VIDEO_ID [--json]

For a pose-stage change that keeps the detector (e.g. the crop side by person size,
docs/pose.md): people of the two runs are paired one-to-one per frame by box IoU (>= 0.9,
so the same detection), and for each keypoint that both runs score >= 0.2 the distance between
the two positions is taken in units of the person's box height.  Reported by person
height (under and from 64 px): pairs, median and 90th percentile of that distance, and
the share of keypoints within 0.1 box heights (about a player's head).  There is no
ground truth on the real wide shot: this says how much the change moves the poses, not
which run is right.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagging.core.boxes import iou_matrix  # noqa: E402
from tagging.tables.queries import frame_poses, read_table  # noqa: E402


def _pairs(iou: np.ndarray, min_iou: float = 0.9) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs of an IoU matrix, best first, each >= ``min_iou``."""
    rows, cols = np.nonzero(iou >= min_iou)
    taken_a, taken_b, out = set(), set(), []
    for k in np.argsort(-iou[rows, cols], kind="stable"):
        i, j = int(rows[k]), int(cols[k])
        if i not in taken_a and j not in taken_b:
            taken_a.add(i)
            taken_b.add(j)
            out.append((i, j))
    return out


def agreement(a, b, min_score: float = 0.2, split_px: float = 64.0) -> dict:
    """Two runs' ``poses`` rows of one video (pandas DataFrames) -> the figures above."""
    frames = sorted(set(a.frame_index) & set(b.frame_index))
    dist = {"under": [], "from": []}
    pairs = {"under": 0, "from": 0}
    for f in frames:
        pa, pb = frame_poses(a[a.frame_index == f]), frame_poses(b[b.frame_index == f])
        if not len(pa) or not len(pb):
            continue
        for i, j in _pairs(iou_matrix(pa.xyxy, pb.xyxy)):
            height = float(pa.xyxy[i, 3] - pa.xyxy[i, 1])
            key = "under" if height < split_px else "from"
            ka, kb = pa.keypoints[i], pb.keypoints[j]
            both = (ka[:, 2] >= min_score) & (kb[:, 2] >= min_score)
            dist[key].extend(np.hypot(*(ka[both, :2] - kb[both, :2]).T) / max(height, 1.0))
            pairs[key] += 1
    out = {"frames": len(frames),
           "people_per_frame_median": [float(a.groupby("frame_index").size().median()),
                                       float(b.groupby("frame_index").size().median())]}
    for key, label in (("under", f"under_{split_px:g}px"), ("from", f"from_{split_px:g}px")):
        d = np.asarray(dist[key], float)
        out[label] = {"pairs": pairs[key], "keypoints": int(d.size),
                      "median_box_heights": round(float(np.median(d)), 4) if d.size else None,
                      "p90_box_heights": round(float(np.percentile(d, 90)), 4) if d.size else None,
                      "share_within_0.1": round(float((d <= 0.1).mean()), 4) if d.size else None}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--video", required=True, help="video_id present in both runs")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = {"video_id": args.video, **agreement(read_table(args.a, "poses", args.video),
                                               read_table(args.b, "poses", args.video))}
    print(json.dumps(out, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
