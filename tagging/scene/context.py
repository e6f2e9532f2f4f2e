"""Scene context for the event taggers: the grass (pitch) edge and the ball, per person.

Law 15 names what a pose alone lacks: the ball, held in both hands and delivered over
the head, by a player standing on or behind the touchline.  This module measures both
from one frame:

- :func:`fit_grass` segments the grass with a colour model fitted **to this frame**: the
  dominant green hue of the frame's saturated pixels, and every pixel near that hue
  whose brightness is at least a share of the grass's median brightness (shadows of the
  stands and floodlight patches keep their hue while their brightness changes).  Lines,
  players and the ball are closed over, the largest grass region is kept.  A frame with
  too little of it (basketball court, street) is "no pitch" (``None``), which is not
  the same as "off the pitch".
- :func:`feet_to_grass_edge` gives each person's signed distance from the feet to the
  grass boundary, in pixels and in body heights: positive on the grass, negative off
  it.  The frame's own border is not a boundary (the pitch goes on past it).
- :func:`ball_context` relates the frame's ball detections to each person's hands.

Per person and frame the context is :data:`tagging.core.types.CONTEXT_COLUMNS` (NaN = unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from tagging.core.keypoints import KP
from tagging.core.types import CONTEXT_COLUMNS, CONTEXT_DIM  # noqa: F401  (re-exported)

_LW, _RW = KP["left_wrist"], KP["right_wrist"]
_LA, _RA = KP["left_ankle"], KP["right_ankle"]


@dataclass(frozen=True)
class GrassConfig:
    """The per-frame grass colour model (OpenCV HSV: hue 0-180, saturation and value 0-255).

    - ``hue_range``: hues that can be grass at all (about 50-190 degrees, yellow-green to
      cyan-green), with at least ``min_saturation_value`` (saturation, value);
    - ``hue_tolerance``: around the frame's dominant grass hue, pixels within this many hue
      steps are grass when their saturation and value reach ``median_shares`` of the
      grass's medians (a shadow halves the brightness and keeps the hue);
    - ``close_share``: lines, players and the ball are closed over with a kernel of this
      share of the shorter frame side;
    - ``min_grass_share``: less grass than this share of the frame is "no pitch";
    - ``max_side``: the frame is analysed with its longer side scaled to at most this (px).
    """

    hue_range: tuple[int, int] = (25, 95)
    min_saturation_value: tuple[int, int] = (40, 25)
    hue_tolerance: int = 14
    median_shares: tuple[float, float] = (0.35, 0.3)

    close_share: float = 0.03
    min_grass_share: float = 0.2
    max_side: int = 480


@dataclass
class Grass:
    """A frame's grass: ``mask`` (H, W) uint8 1 = grass at frame resolution and the hue model."""

    mask: np.ndarray
    hue: float
    share: float
    scale: float = 1.0   # the analysis resolution relative to the frame (GrassConfig.max_side)

    def signed_distance(self) -> np.ndarray:
        """(H, W) float32 px to the grass edge, positive on the grass, negative off it; the
        frame border is not an edge (the mask is extended past it before measuring).

        Measured at the analysis resolution the mask was found at (the full-size mask is
        only that one enlarged, so it holds no finer edge) and scaled back: two distance
        transforms of a padded 1080p frame cost ~0.4 s, at 480 px ~10 ms."""
        h, w = self.mask.shape
        small = self.mask
        if self.scale < 1:
            small = cv2.resize(self.mask, (max(1, round(w * self.scale)), max(1, round(h * self.scale))),
                               interpolation=cv2.INTER_NEAREST)
        sh, sw = small.shape
        pad = max(sh, sw) // 2
        m = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        signed = (cv2.distanceTransform(m, cv2.DIST_L2, 5)
                  - cv2.distanceTransform(1 - m, cv2.DIST_L2, 5))[pad:pad + sh, pad:pad + sw]
        # A mask with no edge at all (grass everywhere, or nowhere) gives OpenCV's
        # FLT_MAX; every real edge is nearer than the padded frame's diagonal, so cap
        # there: "farther than anything in view", finite and safe to scale.
        reach = 2.0 * (pad + max(sh, sw))
        signed = np.clip(signed, -reach, reach)
        if self.scale < 1:
            signed = cv2.resize(signed, (w, h), interpolation=cv2.INTER_LINEAR) / self.scale
        return signed.astype(np.float32)


def fit_grass(frame_rgb: np.ndarray, config: GrassConfig = GrassConfig()) -> Optional[Grass]:
    """The grass of one RGB uint8 (H, W, 3) frame, or None when the frame shows no pitch."""
    h, w = frame_rgb.shape[:2]
    scale = min(1.0, config.max_side / max(h, w))
    small = cv2.resize(frame_rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else frame_rgb
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hue, sat, val = (hsv[..., i].astype(np.int32) for i in range(3))
    lo, hi = config.hue_range
    min_s, min_v = config.min_saturation_value
    green = (hue >= lo) & (hue <= hi) & (sat >= min_s) & (val >= min_v)
    if green.mean() < config.min_grass_share / 2:
        return None
    # The dominant hue (histogram mode, smoothed) is this frame's grass.
    hist = np.bincount(hue[green], minlength=181)[: 181].astype(np.float64)
    hist = np.convolve(hist, np.ones(5) / 5, mode="same")
    mode = int(np.argmax(hist))
    near = green & (np.abs(hue - mode) <= config.hue_tolerance)
    med_s, med_v = float(np.median(sat[near])), float(np.median(val[near]))
    share_s, share_v = config.median_shares
    grass = ((np.abs(hue - mode) <= config.hue_tolerance) & (sat >= share_s * med_s)
             & (val >= share_v * med_v)).astype(np.uint8)
    k = max(3, int(round(config.close_share * min(small.shape[:2]))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    grass = cv2.morphologyEx(grass, cv2.MORPH_CLOSE, kernel)
    grass = cv2.morphologyEx(grass, cv2.MORPH_OPEN, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(grass, connectivity=4)
    if n <= 1:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    grass = (labels == biggest).astype(np.uint8)
    # Holes inside the pitch (a group of players, the centre circle's logo) are grass.
    contours, _ = cv2.findContours(grass, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(grass)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    share = float(filled.mean())
    if share < config.min_grass_share:
        return None
    mask = cv2.resize(filled, (w, h), interpolation=cv2.INTER_NEAREST) if scale < 1 else filled
    return Grass(mask.astype(np.uint8), float(mode), share, scale)


def feet_points(xyxy: np.ndarray, keypoints: Optional[np.ndarray] = None, min_score: float = 0.3) -> np.ndarray:
    """(N, 2) px where each person stands: the lower of the confident ankles, else the
    bottom centre of the box.  ``xyxy`` (N, 4) px, ``keypoints`` (N, 17, 3) (x, y, score)."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    pts = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], 1)
    if keypoints is not None and len(xyxy):
        kp = np.asarray(keypoints, np.float32)
        ankles = kp[:, [_LA, _RA]]
        ok = ankles[..., 2] >= min_score
        for i in np.nonzero(ok.any(1))[0]:
            a = ankles[i][ok[i]]
            pts[i] = a[np.argmax(a[:, 1]), :2]
    return pts


def feet_to_grass_edge(grass: Optional[Grass], xyxy: np.ndarray, keypoints: Optional[np.ndarray] = None,
                       signed: Optional[np.ndarray] = None) -> np.ndarray:
    """(N, 3) per person: pitch (1/0), signed feet-to-edge distance in px and in body heights
    (box height), positive on the grass.  No pitch: (0, NaN, NaN).  ``signed``: the grass's
    :meth:`Grass.signed_distance`, when the caller already has it."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    out = np.full((len(xyxy), 3), np.nan, np.float32)
    if grass is None:
        out[:, 0] = 0.0
        return out
    out[:, 0] = 1.0
    if signed is None:
        signed = grass.signed_distance()
    h, w = signed.shape
    pts = feet_points(xyxy, keypoints)
    xs = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    out[:, 1] = signed[ys, xs]
    out[:, 2] = out[:, 1] / np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0)
    return out


def ball_context(balls_xyxy: Optional[np.ndarray], balls_score: Optional[np.ndarray], xyxy: np.ndarray,
                 keypoints: np.ndarray, min_score: float = 0.3) -> np.ndarray:
    """(N, 4) per person: ball_known, ball_dx, ball_dy (body heights, y up), ball_score.

    ``balls_xyxy`` None = balls were not looked for (all unknown).  The hands are the
    midpoint of the confident wrists (the box's upper third when neither is confident).
    The ball taken is the nearest one to the hands within 1.5 body heights."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    n = len(xyxy)
    out = np.full((n, 4), np.nan, np.float32)
    if balls_xyxy is None:
        out[:, 0] = 0.0
        return out
    out[:, 0] = 1.0
    out[:, 3] = 0.0
    balls_xyxy = np.asarray(balls_xyxy, np.float32).reshape(-1, 4)
    if not len(balls_xyxy) or not n:
        return out
    centres = (balls_xyxy[:, :2] + balls_xyxy[:, 2:]) / 2
    kp = np.asarray(keypoints, np.float32).reshape(n, -1, 3)
    heights = np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0)
    for i in range(n):
        wrists = kp[i, [_LW, _RW]]
        ok = wrists[:, 2] >= min_score
        hands = wrists[ok, :2].mean(0) if ok.any() else np.array(
            [(xyxy[i, 0] + xyxy[i, 2]) / 2, xyxy[i, 1] + heights[i] / 3], np.float32)
        d = centres - hands
        j = int(np.argmin(np.hypot(d[:, 0], d[:, 1])))
        if np.hypot(*d[j]) <= 1.5 * heights[i]:
            out[i, 1] = d[j, 0] / heights[i]
            out[i, 2] = -d[j, 1] / heights[i]
            out[i, 3] = float(np.asarray(balls_score, np.float32).reshape(-1)[j])
    return out


def person_context(frame_rgb: np.ndarray, xyxy: np.ndarray, keypoints: np.ndarray, balls=None,
                   config: GrassConfig = GrassConfig()) -> np.ndarray:
    """(N, CONTEXT_DIM) context of the people of one RGB frame (:data:`CONTEXT_COLUMNS`): the
    grass fitted to ``frame_rgb``, the ball from ``balls`` (a ``Detections``; None = balls were
    not looked for)."""
    ball = (ball_context(None, None, xyxy, keypoints) if balls is None
            else ball_context(balls.xyxy, balls.score, xyxy, keypoints))
    pitch = feet_to_grass_edge(fit_grass(frame_rgb, config), xyxy, keypoints)
    return np.concatenate([ball, pitch], 1).astype(np.float32)
