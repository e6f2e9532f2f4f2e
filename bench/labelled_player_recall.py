"""Labelled players the pose stage keeps, with and without the small-person crop side.

    python bench/labelled_player_recall.py [--video WIDE_SHOT] [--labels tests/data/dfl_teams/labels.csv] [--json]

On the hand-labelled frames of the Bundesliga wide shot (``tests/data/dfl_teams``), runs
the pose stage's estimator (detector, crops, pose-score cut) on each labelled frame, with
today's default (``small_crop_px`` 224 for people under 64 px) and with every crop at
256 px, and counts the labelled players (``kit_1``/``kit_2``) that some output person
covers at IoU >= 0.5.  COCO AP does not see this: a smaller crop changes small players'
pose scores, and ``min_pose_score`` then keeps a slightly different set of people.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("MATCHTAG_SHARED_DATA", REPO.parent / "shared" / "data"))


def main(argv=None) -> int:
    from tagging.core.boxes import iou_matrix
    from tagging.evaluate.teams import read_team_labels
    from tagging.pose.stage import PoseStageConfig, build_estimator

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", default=str(SHARED / "video" / "soccer_wide_dfl_08fd33_4.mp4"))
    ap.add_argument("--labels", default=str(REPO / "tests" / "data" / "dfl_teams" / "labels.csv"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    labels = read_team_labels(args.labels)
    wanted = set(labels.frame_index.tolist())
    cap = cv2.VideoCapture(args.video)
    if not cap.isOpened():
        ap.error(f"{args.video}: cannot open the video")
    images, i = {}, 0
    while len(images) < len(wanted):
        ok, bgr = cap.read()
        if not ok:
            break
        if i in wanted:
            images[i] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        i += 1
    base = PoseStageConfig()
    out = {}
    for name, cfg in (("default", base), ("all_256px", replace(base, pose=replace(base.pose, small_crop_px=0)))):
        est = build_estimator(cfg)
        kept = players = rows = 0
        per_frame = {}
        for f, img in sorted(images.items()):
            poses = est(img)
            lab = labels[(labels.frame_index == f) & labels.label.isin(["kit_1", "kit_2"])]
            boxes = lab[["x1", "y1", "x2", "y2"]].to_numpy(np.float32)
            hit = int((iou_matrix(boxes, poses.xyxy).max(1) >= 0.5).sum()) if len(poses) and len(boxes) else 0
            kept, players, rows = kept + hit, players + len(boxes), rows + len(poses)
            per_frame[int(f)] = f"{hit}/{len(boxes)}"
        out[name] = {"stage": cfg.model_id, "players_kept": kept, "players": players,
                     "share": round(kept / max(players, 1), 4), "people_per_frame": round(rows / max(len(images), 1), 2),
                     "per_frame": per_frame}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for name, r in out.items():
            print(f"{name:10s} {r['players_kept']}/{r['players']} labelled players kept ({r['share']:.1%}), "
                  f"{r['people_per_frame']} people per frame  [{r['stage']}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
