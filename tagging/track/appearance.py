"""What a person looks like at a track's end: torso colour and pose, for the offline joins.

Boxes alone cannot tell two players apart once they have been in contact; the pose
stage already gives each detection its keypoints and, from the frame, its torso colour
(tagging/track/teams.py).  The offline pass (tagging/track/offline.py) adds two terms to
its join and re-link costs from these:

- **colour**: the L*a*b* distance (ΔE, OpenCV 8-bit scale) between the median torso
  colours of the ``n`` observations at one track's end and at the other's start;
- **pose**: 1 - OKS between the pose at one end, carried to the other end's box (same
  position relative to the box centre, scaled by box height), and the pose there.
  OKS is the COCO keypoint similarity (Ronchi and Perona, ICCV 2017) with COCO's
  per-joint falloffs; joints scored below ``min_keypoint_score`` on either side are
  left out, and fewer than ``min_joints`` shared joints give no pose term.

Either term is NaN where the cue is missing (simulated detections have neither), and a
NaN term adds nothing to a cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# COCO-17 per-keypoint falloffs (the published constants of the COCO keypoint metric).
COCO_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
                        1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0


@dataclass
class Cues:
    """Per processed frame, aligned with the boxes given to the tracker: ``keypoints[i]``
    (N_i, 17, 3) x, y px and score; ``colours[i]`` (N_i, >= 3) L*a*b* torso colour (NaN =
    unknown).  Either list may be None."""

    keypoints: list | None = None
    colours: list | None = None

    def any(self) -> bool:
        return self.keypoints is not None or self.colours is not None


@dataclass
class EndLook:
    """A track end: ``colour`` (3,) median L*a*b* (NaN if unknown); ``pose`` (17, 3) keypoints
    relative to the box centre in box heights, score in column 2 (None if unknown)."""

    colour: np.ndarray
    pose: np.ndarray | None


def end_look(frames: np.ndarray, det_index: np.ndarray, xyxy: np.ndarray, cues: Cues, n: int,
             at_end: bool) -> EndLook:
    """Colour and pose of a track over ``n`` observations at its end (``at_end``) or start.

    ``frames``, ``det_index``: (K,) observed frames and box indices; ``xyxy``: (K, 4) px."""
    sel = slice(-n, None) if at_end else slice(0, n)
    f, d = frames[sel], det_index[sel]
    colour = np.full(3, np.nan)
    if cues.colours is not None:
        c = np.stack([np.asarray(cues.colours[fi], np.float64)[di, :3] for fi, di in zip(f, d)])
        ok = np.all(np.isfinite(c), axis=1)
        if ok.any():
            colour = np.median(c[ok], axis=0)
    pose = None
    if cues.keypoints is not None:
        k = 0 if not at_end else len(f) - 1           # the observation nearest the gap
        box = xyxy[sel][k]
        kp = np.asarray(cues.keypoints[f[k]], np.float64)[d[k]].copy()
        h = max(box[3] - box[1], 1.0)
        kp[:, :2] = (kp[:, :2] - (box[:2] + box[2:]) / 2) / h
        pose = kp
    return EndLook(colour, pose)


def colour_distance(a: EndLook, b: EndLook) -> float:
    """ΔE between two ends' torso colours; NaN when either is unknown."""
    return float(np.linalg.norm(a.colour - b.colour))


def pose_dissimilarity(a: EndLook, b: EndLook, aspect: float = 0.4, min_keypoint_score: float = 0.3,
                       min_joints: int = 6) -> float:
    """1 - OKS of two ends' poses, both relative to their box (height 1, width ``aspect``); NaN if unknown."""
    if a.pose is None or b.pose is None:
        return float("nan")
    vis = (a.pose[:, 2] >= min_keypoint_score) & (b.pose[:, 2] >= min_keypoint_score)
    if vis.sum() < min_joints:
        return float("nan")
    d2 = np.sum((a.pose[vis, :2] - b.pose[vis, :2]) ** 2, axis=1)
    area = aspect                                    # box area in box-height units
    e = d2 / (2.0 * area * (2.0 * COCO_SIGMAS[vis]) ** 2)
    return float(1.0 - np.mean(np.exp(-e)))
