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
UNKNOWN_TEAM_RGB = (170, 170, 170)


def team_colour(team: str | None) -> tuple[int, int, int]:
    """RGB of a ``tracks.team`` value (a red, b blue, other yellow, null/unknown grey)."""
    return TEAM_RGB.get(team, UNKNOWN_TEAM_RGB)


def line_thickness(image: np.ndarray) -> int:
    """Stroke width in pixels that stays visible on large frames (1 px per 800 px of the long side)."""
    return max(1, round(max(image.shape[:2]) / 800))


def put_label(image: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int],
              scale: float = 0.45, top: bool = False) -> tuple[int, int]:
    """Draw ``text`` on a filled ``colour`` box whose bottom-left corner (top-left with
    ``top``) is ``(x, y)`` in pixels, clamped inside the image, in place.  Returns the box's
    (width, height) in pixels."""
    thick = line_thickness(image)
    scale *= thick
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    h, w = image.shape[:2]
    if top:
        y += th + base + 2
    x = int(min(max(0, x), max(0, w - tw - 4)))
    y = int(min(max(th + base + 2, y), h - 1))
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 4, y), colour, -1)
    # Dark text on light fills, white on dark ones: readable on every team colour.
    ink = (0, 0, 0) if sum(colour) > 400 else (255, 255, 255)
    cv2.putText(image, text, (x + 2, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thick, cv2.LINE_AA)
    return tw + 4, th + base + 2


def draw_poses(frame_rgb: np.ndarray, poses: FramePoses, min_keypoint_score: float = 0.2,
               boxes: bool = True, labels: bool = True, teams: dict[int, str | None] | None = None
               ) -> np.ndarray:
    """A copy of ``frame_rgb`` with boxes, skeletons and track ids drawn.

    ``teams``: ``{track_id: "a" | "b" | "other" | None}``; when given, colours show the
    team (a red, b blue, other yellow, unknown grey) instead of the track.
    """
    out = frame_rgb.copy()
    thick = line_thickness(out)
    for i in range(len(poses)):
        tid = int(poses.track_id[i])
        colour = _colour(tid) if teams is None else team_colour(teams.get(tid))
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


def draw_overlay(frame_rgb: np.ndarray, poses: FramePoses, teams: dict[int, str | None],
                 events: list[dict], caption: str | None = None) -> np.ndarray:
    """What ``matchtag render`` shows on one frame: a copy of ``frame_rgb`` with skeletons,
    boxes and track ids in team colours, and one label per event in progress.

    ``events``: rows of the events table (``event_type``, ``track_id``, ``confidence``,
    ``start_ms``, ``end_ms``) whose window holds this frame.  Each is labelled above its
    player's box when the player is in the frame, and listed in the top-left corner
    either way (a player can be tagged while his pose is missing in some frames).
    ``caption`` (e.g. the frame index and time) goes in the bottom-left corner.
    """
    out = draw_poses(frame_rgb, poses, teams=teams, labels=False)
    boxes = {}
    for i, tid in enumerate(int(t) for t in poses.track_id):
        x1, y1 = (int(round(v)) for v in poses.xyxy[i, :2])
        if tid >= 0:
            boxes[tid] = (x1, y1)
            put_label(out, f"{tid}", x1, y1, team_colour(teams.get(tid)), scale=0.4)
    # Legend of the team colours in this video, top right.
    legend_y = 0
    for team in sorted({t for t in teams.values() if t is not None}) + [None]:
        text = f"team {team}" if team in ("a", "b") else (team or "unknown")
        width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * line_thickness(out), line_thickness(out))[0][0]
        legend_y += put_label(out, text, out.shape[1] - width - 4, legend_y, team_colour(team), 0.4, top=True)[1]
    y = 0
    for ev in events:
        tid = int(ev["track_id"])
        colour = team_colour(teams.get(tid))
        name = str(ev["event_type"]).replace("_", "-")
        if tid in boxes:
            x1, y1 = boxes[tid]
            put_label(out, f"{name} {ev['confidence']:.2f}", x1, y1 - 16 * line_thickness(out), colour)
        team = teams.get(tid) or "?"
        text = (f"{name}  #{tid} ({team})  {ev['confidence']:.2f}  "
                f"{ev['start_ms'] / 1000:.1f}-{ev['end_ms'] / 1000:.1f} s")
        y += put_label(out, text, 0, y, colour, top=True)[1] + 2
    if caption:
        put_label(out, caption, 0, out.shape[0] - 1, (0, 0, 0))
    return out


GRASS_EDGE_RGB = (0, 255, 255)
BALL_RGB = (255, 140, 0)


def draw_context(frame_rgb: np.ndarray, poses: FramePoses, grass_mask: np.ndarray | None,
                 scale: int = 1) -> np.ndarray:
    """What the event taggers know about the scene, drawn on a copy of ``frame_rgb``, enlarged
    ``scale`` times (a wide shot's ball is a few pixels): the grass edge (cyan) of
    :func:`tagging.scene.context.fit_grass` (``grass_mask`` (H, W) uint8, None = no pitch), the
    ball boxes (orange, with their score), each person's skeleton, and a label with the
    person's context (``FramePoses.context``): feet to the edge in body heights (+ on the
    grass, - off it) and, when a ball is near the hands, its distance from them."""
    from tagging.core.types import CONTEXT_COLUMNS

    big = cv2.resize(frame_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale > 1 \
        else frame_rgb.copy()
    scaled = FramePoses(poses.xyxy * scale, poses.box_score, poses.keypoints * [scale, scale, 1], poses.score,
                        poses.track_id, poses.appearance, poses.context, poses.balls)
    out = draw_poses(big, scaled, labels=False)
    thick = line_thickness(out)
    if grass_mask is not None:
        mask = cv2.resize(grass_mask, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, GRASS_EDGE_RGB, thick + 1, cv2.LINE_AA)
    else:
        put_label(out, "no pitch", 4, 4, GRASS_EDGE_RGB, top=True)
    if poses.balls is not None:
        for (x1, y1, x2, y2), s in zip(poses.balls.xyxy * scale, poses.balls.score):
            cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) / 2 + 3 * thick
            cv2.circle(out, (int(cx), int(cy)), int(r), BALL_RGB, thick + 1, cv2.LINE_AA)
            put_label(out, f"ball {s:.2f}", int(cx + r), int(cy - r), BALL_RGB, scale=0.4)
    col = {n: i for i, n in enumerate(CONTEXT_COLUMNS)}
    for i in range(len(scaled)):
        c = poses.context[i]
        parts = []
        if np.isfinite(c[col["feet_grass_h"]]):
            parts.append(f"feet {c[col['feet_grass_h']]:+.2f} h")
        if np.isfinite(c[col["ball_dx"]]):
            parts.append(f"ball {np.hypot(c[col['ball_dx']], c[col['ball_dy']]):.2f} h")
        if parts:
            x1, y1 = (int(v) for v in scaled.xyxy[i, :2])
            put_label(out, ", ".join(parts), x1, y1 - 2, (255, 255, 255), scale=0.35)
    return out
