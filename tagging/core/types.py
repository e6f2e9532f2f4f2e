"""Typed containers passed between stages: detections and per-frame poses.

Both are dataclasses of aligned numpy arrays (one row per person), in the spirit
of supervision's ``Detections``.  Coordinates are always frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from schemas.tables import CONTEXT_COLUMNS
from tagging.core.keypoints import NUM_KEYPOINTS

# Per-person scene context carried with the poses (tagging.scene.context computes it; NaN =
# unknown):
# - ball_known: 1 when balls were looked for in the frame (the detector ran), 0 when not
#   (``--pose replay`` of a run without a balls table, MultiPose);
# - ball_dx, ball_dy: nearest ball centre minus the midpoint of the wrists, in body heights
#   (box heights; x to the right, y up); NaN when no ball was found within 1.5 body heights;
# - ball_score: that ball's detector score (0 when looked for and none found near);
# - pitch: 1 when the frame shows a grass pitch, 0 when it shows none ("no pitch");
# - feet_grass_px, feet_grass_h: signed distance of the feet to the grass edge in pixels and
#   in body heights, positive on the grass, negative off it; NaN where there is no pitch.
CONTEXT_DIM = len(CONTEXT_COLUMNS)


def _rows(values, tail: tuple[int, ...], dtype) -> np.ndarray:
    """``values`` as an array; an empty input becomes (0, *tail) so empty() is easy."""
    arr = np.asarray(values, dtype)
    return arr.reshape((0, *tail)) if arr.size == 0 else arr


def _check(name: str, arr: np.ndarray, shape_tail: tuple[int, ...], n: int | None) -> None:
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        raise ValueError(f"{name} must have shape (N, {', '.join(map(str, shape_tail))})"
                         f"; got {arr.shape}" if shape_tail else f"{name} must be 1-D; got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows, expected {n}")


@dataclass
class Detections:
    """Person boxes of one frame.

    ``xyxy``: (N, 4) float32 x1, y1, x2, y2 in frame pixels; ``score``: (N,) float32 in 0..1.
    """

    xyxy: np.ndarray
    score: np.ndarray

    def __post_init__(self) -> None:
        self.xyxy = _rows(self.xyxy, (4,), np.float32)
        self.score = _rows(self.score, (), np.float32)
        _check("xyxy", self.xyxy, (4,), None)
        _check("score", self.score, (), len(self.xyxy))

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __getitem__(self, index) -> "Detections":
        index = [index] if isinstance(index, (int, np.integer)) else index
        return Detections(self.xyxy[index], self.score[index])


@dataclass
class FramePoses:
    """All people found in one frame.

    - ``xyxy``: (N, 4) person box in frame pixels;
    - ``box_score``: (N,) detector confidence;
    - ``keypoints``: (N, 17, 3) COCO-17 (x_px, y_px, score);
    - ``score``: (N,) one pose score per person (mean of confident keypoint scores);
    - ``track_id``: (N,) int64, -1 until the tracker assigns one;
    - ``appearance``: (N, 4) float32 torso colour (L*a*b*) and the share of the box that
      is pitch, from :func:`tagging.track.teams.torso_colours`; NaN where unknown;
    - ``context``: (N, CONTEXT_DIM) float32 ball and pitch context (:data:`CONTEXT_COLUMNS`),
      NaN where unknown;
    - ``balls``: the frame's ball detections, or None when balls were not looked for.
    """

    xyxy: np.ndarray
    box_score: np.ndarray
    keypoints: np.ndarray
    score: np.ndarray
    track_id: np.ndarray = field(default=None)  # type: ignore[assignment]
    appearance: np.ndarray = field(default=None)  # type: ignore[assignment]
    context: np.ndarray = field(default=None)  # type: ignore[assignment]
    balls: "Detections | None" = None

    def __post_init__(self) -> None:
        self.xyxy = _rows(self.xyxy, (4,), np.float32)
        _check("xyxy", self.xyxy, (4,), None)
        n = len(self.xyxy)
        self.box_score = _rows(self.box_score, (), np.float32)
        self.keypoints = _rows(self.keypoints, (NUM_KEYPOINTS, 3), np.float32)
        self.score = _rows(self.score, (), np.float32)
        if self.track_id is None:
            self.track_id = np.full(n, -1, np.int64)
        self.track_id = _rows(self.track_id, (), np.int64)
        if self.appearance is None:
            self.appearance = np.full((n, 4), np.nan, np.float32)
        self.appearance = _rows(self.appearance, (4,), np.float32)
        _check("appearance", self.appearance, (4,), n)
        if self.context is None:
            self.context = np.full((n, CONTEXT_DIM), np.nan, np.float32)
        self.context = _rows(self.context, (CONTEXT_DIM,), np.float32)
        _check("context", self.context, (CONTEXT_DIM,), n)
        _check("box_score", self.box_score, (), n)
        _check("keypoints", self.keypoints, (NUM_KEYPOINTS, 3), n)
        _check("score", self.score, (), n)
        _check("track_id", self.track_id, (), n)

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> "FramePoses":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, NUM_KEYPOINTS, 3)), np.zeros(0))

    def __getitem__(self, index) -> "FramePoses":
        index = [index] if isinstance(index, (int, np.integer)) else index  # one person stays a row
        return FramePoses(self.xyxy[index], self.box_score[index], self.keypoints[index],
                          self.score[index], self.track_id[index], self.appearance[index],
                          self.context[index], self.balls)

    @classmethod
    def from_keypoints(cls, keypoints: np.ndarray, box_xyxy: np.ndarray, box_score: np.ndarray,
                       min_keypoint_score: float = 0.2) -> "FramePoses":
        """Build from (N, 17, 3) keypoints, computing the per-person pose score."""
        keypoints = _rows(keypoints, (NUM_KEYPOINTS, 3), np.float32)
        return cls(box_xyxy, box_score, keypoints, pose_score(keypoints, min_keypoint_score))


def pose_score(keypoints: np.ndarray, min_keypoint_score: float = 0.2) -> np.ndarray:
    """Mean score of the keypoints above ``min_keypoint_score`` (0 when none are).

    This is MoveNet's own person score recipe: low-confidence (invisible) joints do
    not drag down a well-seen person.
    """
    s = np.asarray(keypoints)[..., 2]
    confident = s >= min_keypoint_score
    total = np.where(confident, s, 0.0).sum(axis=-1)
    count = confident.sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)


@dataclass(frozen=True)
class Event:
    """One tagged event of one track; times in ms from the start of the video."""

    event_type: str
    track_id: int
    start_ms: float
    end_ms: float
    peak_ms: float
    confidence: float
    model: str
