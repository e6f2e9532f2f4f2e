"""The Law-15 throw-in rule: throw-ins from one track's keypoint sequence.

An interpretable rule from Law 15 of the Laws of the Game (the
throw-in): the thrower delivers the ball with both hands from behind and over the
head, with part of each foot on the ground.  On a pose sequence that reads as:

- both wrists above the head (above the highest confident head keypoint);
- the wrists close together (both hands on the ball): wrist distance at most
  ``max_wrist_gap`` x torso length;
- feet planted: each ankle moves at most ``max_ankle_travel`` x torso length over
  the window;
- all of it held for ``min_duration_ms`` .. ``max_duration_ms``.

Frames where the needed keypoints are not confident simply do not satisfy the
rule; short dropouts (``max_gap_frames``) inside a run are bridged.

When the scene context is known (tagging.core.types.CONTEXT_COLUMNS), the rule also
checks what Law 15 says about the ball and the feet:

- **the feet**: a frame that shows no pitch has no touchline, so no throw-in; where the
  grass edge is in view, the feet's median signed distance to it over the run must be at
  most ``max_feet_inside_h`` body heights inside the grass (the grass edge is not the
  touchline where grass runs on behind the line, as in most stadiums);
- **the ball**: where the detector looked for it and found a ball near the player in at
  least ``min_ball_frames`` frames of the run, the ball must be in the hands (its median
  distance from the wrists' midpoint at most ``max_ball_hand_h`` body heights): a ball at
  the feet is not thrown in.  Not finding the ball rejects nothing (a 5-15 px ball is
  missed in most frames), and unknown context checks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tagging.core.keypoints import KP
from tagging.core.types import CONTEXT_COLUMNS, Event

RULE_MODEL_NAME = "rules-law15-v2"
_CTX = {name: i for i, name in enumerate(CONTEXT_COLUMNS)}

_HEAD = [KP["nose"], KP["left_eye"], KP["right_eye"], KP["left_ear"], KP["right_ear"]]
_WRISTS = [KP["left_wrist"], KP["right_wrist"]]
_ANKLES = [KP["left_ankle"], KP["right_ankle"]]
_SHOULDERS = [KP["left_shoulder"], KP["right_shoulder"]]
_HIPS = [KP["left_hip"], KP["right_hip"]]


@dataclass(frozen=True)
class ThrowInRuleConfig:
    min_keypoint_score: float = 0.3
    max_wrist_gap: float = 0.6        # x torso length
    max_ankle_travel: float = 0.35    # x torso length, over the whole window
    min_duration_ms: float = 300.0
    max_duration_ms: float = 4000.0
    max_gap_frames: int = 1
    # body heights inside the grass edge, median over the run: the grass often runs 1-3 m
    # past the touchline (the thrower stands on it), so the line itself is not the edge
    max_feet_inside_h: float = 1.25
    min_ball_frames: int = 2
    max_ball_hand_h: float = 0.35     # body heights from the wrists' midpoint


def _torso_length(kps: np.ndarray, min_score: float) -> np.ndarray:
    """(T,) distance between shoulder and hip midpoints; NaN where not confident."""
    ok = (kps[:, _SHOULDERS + _HIPS, 2] >= min_score).all(axis=1)
    sh = kps[:, _SHOULDERS, :2].mean(axis=1)
    hp = kps[:, _HIPS, :2].mean(axis=1)
    length = np.linalg.norm(sh - hp, axis=1)
    return np.where(ok & (length > 0), length, np.nan)


def throw_in_frames(keypoints: np.ndarray, config: ThrowInRuleConfig = ThrowInRuleConfig()
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame rule evaluation for one track.

    ``keypoints``: (T, 17, 3) x_px, y_px, score.  Returns (hands_up (T,) bool,
    elevation (T,) wrist height above head in torso lengths, score (T,) mean score
    of the keypoints the rule used).
    """
    kps = np.asarray(keypoints, np.float32)
    s = config.min_keypoint_score
    torso = _torso_length(kps, s)
    head_conf = kps[:, _HEAD, 2] >= s
    head_top = np.where(head_conf, kps[:, _HEAD, 1], np.inf).min(axis=1)  # image y grows down
    wrists_ok = (kps[:, _WRISTS, 2] >= s).all(axis=1)
    wrist_y = kps[:, _WRISTS, 1].max(axis=1)  # the lower of the two wrists
    gap = np.linalg.norm(kps[:, KP["left_wrist"], :2] - kps[:, KP["right_wrist"], :2], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        elevation = (head_top - wrist_y) / torso
        hands_up = (wrists_ok & head_conf.any(axis=1) & np.isfinite(torso)
                    & (wrist_y < head_top) & (gap <= config.max_wrist_gap * torso))
    used = _HEAD + _WRISTS + _SHOULDERS + _HIPS
    score = kps[:, used, 2].mean(axis=1)
    return hands_up, np.nan_to_num(elevation, nan=-np.inf), score


def _runs(mask: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Inclusive (start, end) index runs of True, bridging gaps of <= max_gap False."""
    idx = np.nonzero(mask)[0]
    if idx.size == 0:
        return []
    runs, start, prev = [], idx[0], idx[0]
    for i in idx[1:]:
        if i - prev - 1 > max_gap:
            runs.append((int(start), int(prev)))
            start = i
        prev = i
    runs.append((int(start), int(prev)))
    return runs


def context_allows(context: np.ndarray | None, config: ThrowInRuleConfig = ThrowInRuleConfig()) -> bool:
    """Whether the ball and feet context of a run's frames ((n, CONTEXT_DIM), None = unknown)
    allow a throw-in (see the module docstring)."""
    if context is None or not len(context):
        return True
    c = np.asarray(context, np.float64)
    pitch = c[:, _CTX["pitch"]]
    if np.isfinite(pitch).any() and np.nanmedian(pitch) == 0:
        return False  # no pitch in view: no touchline
    edge = c[:, _CTX["feet_grass_h"]]
    if np.isfinite(edge).any() and np.nanmedian(edge) > config.max_feet_inside_h:
        return False
    d = np.hypot(c[:, _CTX["ball_dx"]], c[:, _CTX["ball_dy"]])
    found = np.isfinite(d) & (c[:, _CTX["ball_known"]] == 1)
    if found.sum() >= config.min_ball_frames and np.median(d[found]) > config.max_ball_hand_h:
        return False
    return True


def detect_throw_ins(track_id: int, timestamps_ms: np.ndarray, keypoints: np.ndarray,
                     config: ThrowInRuleConfig = ThrowInRuleConfig(), context: np.ndarray | None = None
                     ) -> list[Event]:
    """Throw-in events of one track.  ``timestamps_ms``: (T,) increasing; ``keypoints``: (T, 17, 3);
    ``context``: (T, CONTEXT_DIM) ball and pitch context, None = unknown."""
    ts = np.asarray(timestamps_ms, np.float64)
    kps = np.asarray(keypoints, np.float32)
    if len(ts) == 0:
        return []
    hands_up, elevation, score = throw_in_frames(kps, config)
    torso = _torso_length(kps, config.min_keypoint_score)
    events = []
    for a, b in _runs(hands_up, config.max_gap_frames):
        duration = ts[b] - ts[a]
        if not (config.min_duration_ms <= duration <= config.max_duration_ms):
            continue
        window = slice(a, b + 1)
        ankles = kps[window][:, _ANKLES]
        ankle_ok = (ankles[..., 2] >= config.min_keypoint_score).all(axis=1)
        if ankle_ok.sum() < 2:
            continue  # feet never seen: cannot say they are planted
        scale = np.nanmedian(torso[window])
        pts = ankles[ankle_ok, :, :2]
        travel = np.linalg.norm(pts.max(axis=0) - pts.min(axis=0), axis=-1).max()
        if not np.isfinite(scale) or travel > config.max_ankle_travel * scale:
            continue
        if context is not None and not context_allows(np.asarray(context)[window], config):
            continue
        peak = a + int(np.argmax(elevation[window]))
        events.append(Event("throw_in", int(track_id), float(ts[a]), float(ts[b]), float(ts[peak]),
                            float(np.clip(score[window][hands_up[window]].mean(), 0, 1)), RULE_MODEL_NAME))
    return events


def tag_throw_ins(sequences: dict[int, tuple], config: ThrowInRuleConfig = ThrowInRuleConfig()) -> list[Event]:
    """Run the throw-in rule over every track (``{track_id: (timestamps_ms, keypoints[, context])}``)."""
    events: list[Event] = []
    for tid, (ts, kps, *context) in sorted(sequences.items()):
        events.extend(detect_throw_ins(tid, ts, kps, config, context[0] if context else None))
    return sorted(events, key=lambda e: (e.start_ms, e.track_id))


class ThrowInRule:
    """The rule behind the same interface as a trained :class:`tagging.events.model.EventModel`
    (``name``, ``tag_events``), so that callers never branch on which tagger they hold."""

    name = RULE_MODEL_NAME

    def __init__(self, config: ThrowInRuleConfig = ThrowInRuleConfig()):
        self.config = config

    def tag_events(self, sequences: dict[int, tuple]) -> list[Event]:
        return tag_throw_ins(sequences, self.config)
