"""Draw poses on a frame, for looking at results (docs images, spot checks)."""

from __future__ import annotations

import cv2
import numpy as np

from tagging.core.keypoints import SKELETON
from tagging.core.types import FramePoses


def _colour(track_id: int) -> tuple[int, int, int]:
    if track_id < 0:
        return (200, 200, 200)
    hue = (track_id * 47) % 180
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


TEAM_RGB = {"a": (230, 40, 40), "b": (40, 90, 255), "other": (255, 220, 0)}


def draw_poses(frame_rgb: np.ndarray, poses: FramePoses, min_keypoint_score: float = 0.2,
               boxes: bool = True, labels: bool = True, teams: dict[int, str | None] | None = None
               ) -> np.ndarray:
    """A copy of ``frame_rgb`` with boxes, skeletons and track ids drawn.

    ``teams``: ``{track_id: "a" | "b" | "other" | None}``; when given, colours show the
    team (a red, b blue, other yellow, unknown grey) instead of the track.
    """
    out = frame_rgb.copy()
    thick = max(1, round(max(out.shape[:2]) / 800))
    for i in range(len(poses)):
        tid = int(poses.track_id[i])
        colour = _colour(tid) if teams is None else TEAM_RGB.get(teams.get(tid), (170, 170, 170))
        kps = poses.keypoints[i]
        if boxes:
            x1, y1, x2, y2 = (int(round(v)) for v in poses.xyxy[i])
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, 1)
            if labels:
                text = f"{tid}" if tid >= 0 else f"{poses.score[i]:.2f}"
                cv2.putText(out, text, (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.35 * thick, colour, 1, cv2.LINE_AA)
        for a, b in SKELETON:
            if kps[a, 2] >= min_keypoint_score and kps[b, 2] >= min_keypoint_score:
                cv2.line(out, tuple(int(round(v)) for v in kps[a, :2]),
                         tuple(int(round(v)) for v in kps[b, :2]), colour, thick, cv2.LINE_AA)
        for x, y, s in kps:
            if s >= min_keypoint_score:
                cv2.circle(out, (int(round(x)), int(round(y))), thick + 1, (255, 255, 255), -1)
    return out
