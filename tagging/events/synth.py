"""Synthetic, labelled keypoint sequences for training and testing the event model.

No real footage with labelled throw-ins exists offline, so the default event model's
*positives* come from here (its negatives also include real pipeline output).  What is
generated, per track:

1. **A 3-D stick figure** (metres; body frame x = the body's left, y up, z forward)
   driven by per-frame joint angles: trunk lean, head nod, shoulder flexion and
   abduction, elbow flexion, hip and knee flexion, whole-body pitch (falls),
   vertical lift (jumps), forward speed (integrated into ground position).
   Segment lengths are adult proportions (torso 0.5 m, thigh and shin 0.45 m,
   upper arm 0.30 m, forearm 0.27 m) scaled by a random factor.
2. **A sequence of segments** glued together and smoothed (Gaussian, sigma 60 ms):
   background motions (``stand``, ``walk``, ``run``, and arm motions that are *not*
   throw-ins: ``wave`` one arm, ``hands_on_head``, ``stretch`` both arms overhead,
   ``point``, ``clap``) around at most one event of :data:`EVENT_TYPES`.  Each event
   generator returns its start, end and *peak* (the moment an analyst would spot:
   ball release, ball contact, jump apex, ground contact, arms first fully up); the
   definitions are in docs/events.md.
3. **A camera**: the player's heading relative to the camera (``yaw_deg``: 0
   frontal, 90 side-on, 180 from behind, 45 oblique), camera elevation
   (``pitch_deg``), orthographic projection at ``height_px`` pixels for a 1.75 m
   player, and optional mirroring (x flipped and left/right keypoints swapped,
   i.e. a left-footed player or a mirrored video).  View *families*
   (:data:`VIEW_FAMILIES`) let training and testing use disjoint views.
4. **Scene context** (:func:`synth_context`): the ball (held in both hands until a
   throw-in's release then flying off, at the foot until a kick's contact, at the feet of
   some walkers and runners, in both hands overhead in some ``stretch`` motions, the
   basketball set shot and goalkeeper throw look-alikes) seen by a detector that finds
   it in only part of the frames, and where the player stands against a touchline (on
   or behind it for throw-ins, mostly well inside for everything else, off the pitch for
   some walkers), or in a frame without a pitch, or with either unknown.  **These are
   synthetic assumptions, not measurements**: the ball's detection rate (15-90 % per
   track) and the share of unknowns are chosen to cover what the real detector gives.
5. **Detector noise** (:class:`NoiseConfig`) with magnitudes measured on real
   pipeline output by ``bench/measure_keypoint_noise.py`` (numbers in
   docs/events.md): Gaussian jitter relative to torso length that grows for small
   players, heavy-tailed outliers, temporally correlated low-score (missing)
   keypoints whose positions are garbage, and whole dropped frames.

Everything is drawn from a ``numpy.random.Generator``: the same seed gives the
same sequences, bit for bit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from tagging.core.keypoints import KP, MIRROR_INDEX, NUM_KEYPOINTS
from tagging.core.types import CONTEXT_DIM

EVENT_TYPES = ("throw_in", "kick", "jump", "fall", "celebration")
BACKGROUND_MOTIONS = ("stand", "walk", "run", "wave", "hands_on_head", "stretch", "point", "clap")

# Relative yaw ranges (degrees, player heading vs camera axis) per view family.
# Training uses frontal/side/back; the held-out test uses the oblique family.
VIEW_FAMILIES: dict[str, tuple[tuple[float, float], ...]] = {
    "frontal": ((-25.0, 25.0),),
    "side": ((65.0, 115.0), (245.0, 295.0)),
    "back": ((155.0, 205.0),),
    "oblique": ((30.0, 60.0), (120.0, 150.0), (210.0, 240.0), (300.0, 330.0)),
}
TRAIN_VIEWS = ("frontal", "side", "back")
TEST_VIEWS = ("oblique",)
FPS_CHOICES = (10.0, 15.0, 25.0, 30.0, 50.0)

# Body parameters per time step (radians, or metres for ``lift``); ``flex`` swings a limb
# forward, ``abduct`` out sideways.
_PARAMS = ("speed", "lift", "pitch", "lean", "nod",
           "left_shoulder_flex", "left_shoulder_abduct", "left_elbow_flex",
           "right_shoulder_flex", "right_shoulder_abduct", "right_elbow_flex",
           "left_hip_flex", "left_knee_flex", "right_hip_flex", "right_knee_flex")


@dataclass(frozen=True)
class NoiseConfig:
    """Detector noise, in torso lengths where it is a length.

    Defaults from ``bench/measure_keypoint_noise.py`` on the real videos (see
    docs/events.md): second-difference jitter 0.020-0.036 torso lengths per video,
    0.039-0.054 for people under 80 px, about 0.002 for a 476 px person in a lab;
    share of keypoints scoring < 0.3 between 0.0 (lab) and 0.61 (street crowd),
    arms the most often missing.
    """

    jitter_by_height: tuple[tuple[float, float], ...] = (
        (25.0, 0.045), (60.0, 0.035), (120.0, 0.025), (300.0, 0.018), (600.0, 0.006))
    jitter_spread: tuple[float, float] = (0.7, 1.4)       # per-track multiplier
    outlier_rate: float = 0.02                           # per keypoint and frame
    outlier_torso: float = 0.15
    low_share_range: tuple[float, float] = (0.0, 0.55)   # per track
    low_group_factor: tuple[float, float, float] = (0.7, 1.3, 1.0)  # head, arms, legs
    low_run_frames: float = 4.0                          # mean length of a low-score run
    low_offset_torso: float = 0.35                       # garbage position std of low-score keypoints
    frame_drop_rate: float = 0.02                        # whole frames the tracker misses


@dataclass(frozen=True)
class TrackSpec:
    event_type: str | None          # None: background only
    yaw_deg: float
    pitch_deg: float
    mirrored: bool
    height_px: float
    fps: float


@dataclass
class SyntheticTrack:
    """One synthetic track: what the pipeline would give, plus its labels."""

    timestamps_ms: np.ndarray       # (T,)
    keypoints: np.ndarray           # (T, 17, 3) x_px, y_px, score
    events: list[tuple[str, float, float, float]] = field(default_factory=list)  # type, start, end, peak (ms)
    spec: TrackSpec | None = None
    motions: list[str] = field(default_factory=list)
    context: np.ndarray | None = None   # (T, CONTEXT_DIM) ball and pitch context (tagging.core.types)


# ------------------------------------------------------------------ kinematics

def _unit_dir(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """(T, 3) limb direction: down, rotated forward by ``flex`` then out sideways by ``abd``."""
    sag = np.stack([np.zeros_like(flex), -np.cos(flex), np.sin(flex)], axis=-1)
    lat = np.zeros_like(sag)
    lat[:, 0] = side
    return np.cos(abd)[:, None] * sag + np.sin(abd)[:, None] * lat


def pose_3d(p: dict[str, np.ndarray], scale: float = 1.0) -> np.ndarray:
    """(T, 17, 3) joint positions in metres, body frame, feet on the ground (y = lift)."""
    T = len(p["lean"])
    out = np.zeros((T, NUM_KEYPOINTS, 3))
    lean, nod = p["lean"], p["nod"]
    trunk = np.stack([np.zeros(T), np.cos(lean), np.sin(lean)], -1)
    sc = 0.5 * trunk * scale
    for side, nm in ((1.0, "left"), (-1.0, "right")):
        out[:, KP[f"{nm}_hip"]] = [side * 0.1 * scale, 0, 0]
        sh = sc + np.array([side * 0.19 * scale, 0, 0])
        out[:, KP[f"{nm}_shoulder"]] = sh
        k = nm
        f, a, e = p[f"{k}_shoulder_flex"] + lean, p[f"{k}_shoulder_abduct"], p[f"{k}_elbow_flex"]
        elbow = sh + 0.30 * scale * _unit_dir(f, a, side)
        out[:, KP[f"{nm}_elbow"]] = elbow
        out[:, KP[f"{nm}_wrist"]] = elbow + 0.27 * scale * _unit_dir(f + e, 0.5 * a, side)
        hip = out[:, KP[f"{nm}_hip"]]
        knee = hip + 0.45 * scale * _unit_dir(p[f"{k}_hip_flex"], np.full(T, 0.05), side)
        out[:, KP[f"{nm}_knee"]] = knee
        out[:, KP[f"{nm}_ankle"]] = knee + 0.45 * scale * _unit_dir(p[f"{k}_hip_flex"] - p[f"{k}_knee_flex"], np.full(T, 0.02), side)
    ang = lean + nod
    up = np.stack([np.zeros(T), np.cos(ang), np.sin(ang)], -1)
    fw = np.stack([np.zeros(T), -np.sin(ang), np.cos(ang)], -1)
    x = np.array([1.0, 0, 0])
    hc = sc + trunk * 0.08 * scale + up * 0.13 * scale
    s = scale
    out[:, KP["nose"]] = hc + 0.09 * s * fw - 0.01 * s * up
    out[:, KP["left_eye"]] = hc + 0.07 * s * fw + 0.03 * s * up + 0.035 * s * x
    out[:, KP["right_eye"]] = hc + 0.07 * s * fw + 0.03 * s * up - 0.035 * s * x
    out[:, KP["left_ear"]] = hc + 0.01 * s * up + 0.075 * s * x
    out[:, KP["right_ear"]] = hc + 0.01 * s * up - 0.075 * s * x
    # whole-body pitch (falls) about the hip centre, then put the lowest joint on the ground
    c, sn = np.cos(p["pitch"])[:, None], np.sin(p["pitch"])[:, None]
    y, z = out[..., 1].copy(), out[..., 2].copy()
    out[..., 1], out[..., 2] = c * y - sn * z, sn * y + c * z
    out[..., 1] += (p["lift"] - out[..., 1].min(axis=1))[:, None]
    return out


# ------------------------------------------------------------------ segments

def _neutral(T: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    p = {k: np.zeros(T) for k in _PARAMS}
    for k, v in (("left_shoulder_abduct", 0.12), ("right_shoulder_abduct", 0.12), ("left_elbow_flex", 0.25),
                 ("right_elbow_flex", 0.25), ("left_knee_flex", 0.05), ("right_knee_flex", 0.05)):
        p[k][:] = v + rng.normal(0, 0.04)
    return p


def _ramp(t: np.ndarray, t0: float, t1: float, a: float, b: float) -> np.ndarray:
    """a before t0, b after t1, smooth (cosine) in between."""
    u = np.clip((t - t0) / max(t1 - t0, 1e-6), 0, 1)
    return a + (b - a) * (0.5 - 0.5 * np.cos(np.pi * u))


def _gait(p, t, rng, speed, stride_hz, hip_amp, knee_amp, arm_amp, elbow, lean, bounce):
    ph = 2 * np.pi * stride_hz * t + rng.uniform(0, 2 * np.pi)
    p["speed"][:] = speed
    p["left_hip_flex"][:] = hip_amp * np.sin(ph)
    p["right_hip_flex"][:] = -hip_amp * np.sin(ph)
    p["left_knee_flex"][:] = 0.1 + knee_amp * np.clip(np.sin(ph - 1.2), 0, None)
    p["right_knee_flex"][:] = 0.1 + knee_amp * np.clip(-np.sin(ph - 1.2), 0, None)
    p["left_shoulder_flex"][:] = -arm_amp * np.sin(ph)
    p["right_shoulder_flex"][:] = arm_amp * np.sin(ph)
    p["left_elbow_flex"][:] = elbow
    p["right_elbow_flex"][:] = elbow
    p["lean"][:] = lean
    p["lift"][:] = bounce * np.abs(np.sin(ph))
    return p


def background_segment(motion: str, duration_s: float, fps: float, rng: np.random.Generator):
    """Params of one background motion (no event)."""
    t = np.arange(int(round(duration_s * fps))) / fps
    T = len(t)
    p = _neutral(T, rng)
    if motion == "stand":
        p["lean"] += 0.03 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t)
        p["left_shoulder_flex"] += 0.05 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t)
    elif motion == "walk":
        v = rng.uniform(0.8, 1.8)
        _gait(p, t, rng, v, 0.8 + 0.15 * v, rng.uniform(0.3, 0.45), rng.uniform(0.4, 0.7),
              rng.uniform(0.15, 0.35), rng.uniform(0.2, 0.5), rng.uniform(0.0, 0.08), 0.01)
    elif motion == "run":
        v = rng.uniform(3.0, 8.0)
        _gait(p, t, rng, v, rng.uniform(1.2, 1.6), rng.uniform(0.55, 0.9), rng.uniform(1.0, 1.8),
              rng.uniform(0.4, 0.8), rng.uniform(1.3, 1.7), rng.uniform(0.08, 0.25), rng.uniform(0.03, 0.07))
    elif motion == "wave":  # one arm up, waving: only one wrist above the head
        k = rng.choice(["left", "right"])
        up = _ramp(t, 0, 0.4, 0, 1) * _ramp(t, t[-1] - 0.4, t[-1], 1, 0)
        p[f"{k}_shoulder_flex"] += up * rng.uniform(2.4, 2.9)
        p[f"{k}_shoulder_abduct"] += up * rng.uniform(0.3, 0.8)
        p[f"{k}_elbow_flex"] += up * (0.5 + 0.3 * np.sin(2 * np.pi * rng.uniform(1.5, 3) * t))
    elif motion == "hands_on_head":  # disappointment: both hands on top of the head, elbows wide
        up = _ramp(t, 0, rng.uniform(0.3, 0.6), 0, 1) * _ramp(t, t[-1] - 0.5, t[-1], 1, 0)
        f, a, e = rng.uniform(2.5, 2.9), rng.uniform(0.9, 1.3), rng.uniform(2.0, 2.4)
        for k in ("left", "right"):
            p[f"{k}_shoulder_flex"] += up * f
            p[f"{k}_shoulder_abduct"] += up * a
            p[f"{k}_elbow_flex"] += up * e
    elif motion == "stretch":  # both arms slowly overhead, hands together, then down sideways
        t_up = rng.uniform(0.6, 1.2)
        up = _ramp(t, 0, t_up, 0, 1) * _ramp(t, t[-1] - t_up, t[-1], 1, 0)
        side = _ramp(t, t[-1] - t_up, t[-1], 0, 1)
        for k in ("left", "right"):
            p[f"{k}_shoulder_flex"] += up * rng.uniform(2.8, 3.1)
            p[f"{k}_shoulder_abduct"] += 0.1 * up + 1.2 * side * up
            p[f"{k}_elbow_flex"] += up * rng.uniform(0.0, 0.4)
    elif motion == "point":
        k = rng.choice(["left", "right"])
        up = _ramp(t, 0, 0.3, 0, 1) * _ramp(t, t[-1] - 0.3, t[-1], 1, 0)
        p[f"{k}_shoulder_flex"] += up * rng.uniform(1.3, 1.8)
        p[f"{k}_shoulder_abduct"] += up * rng.uniform(0.0, 1.2)
        p[f"{k}_elbow_flex"] -= up * 0.2
    elif motion == "clap":
        osc = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * t)
        for k in ("left", "right"):
            p[f"{k}_shoulder_flex"] += rng.uniform(0.8, 1.4)
            p[f"{k}_elbow_flex"] += 1.0
            p[f"{k}_shoulder_abduct"] += 0.1 + 0.5 * osc
    else:
        raise ValueError(f"unknown background motion {motion!r}")
    return p


def event_segment(event_type: str, fps: float, rng: np.random.Generator):
    """Params of one event, and its (start_s, end_s, peak_s) inside the segment."""
    U = rng.uniform
    if event_type == "throw_in":
        hold, wind, pause, throw, follow = U(0.3, 0.8), U(0.4, 0.8), U(0.0, 0.2), U(0.2, 0.35), U(0.4, 0.7)
        t0 = hold; t1 = t0 + wind; t2 = t1 + pause; t3 = t2 + throw; t4 = t3 + follow
        t = np.arange(int(round((t4 + 0.2) * fps))) / fps
        p = _neutral(len(t), rng)
        f_back, e_back = U(2.8, 3.15), U(1.5, 2.0)
        f_rel = U(1.6, 2.1)
        for k in ("left", "right"):
            p[f"{k}_shoulder_abduct"] = np.full(len(t), U(0.0, 0.12))
            f = _ramp(t, 0, 0.2, p[f"{k}_shoulder_flex"][0], U(0.6, 0.9))
            f = np.where(t < t1, _ramp(t, t0, t1, f, f_back), _ramp(t, t2, t3, f_back, f_rel))
            p[f"{k}_shoulder_flex"] = np.where(t < t3, f, _ramp(t, t3, t4, f_rel, 0.1))
            e = np.where(t < t1, _ramp(t, t0, t1, 1.2, e_back), _ramp(t, t2, t3, e_back, 0.1))
            p[f"{k}_elbow_flex"] = np.where(t < t3, e, _ramp(t, t3, t4, 0.1, 0.3))
        lean_b, lean_f = -U(0.12, 0.3), U(0.15, 0.35)
        p["lean"] = np.where(t < t1, _ramp(t, t0, t1, 0, lean_b),
                             np.where(t < t3, _ramp(t, t2, t3, lean_b, lean_f), _ramp(t, t3, t4, lean_f, 0)))
        stance = U(0.05, 0.25)
        p["left_hip_flex"][:], p["right_hip_flex"][:] = stance, -stance
        p["left_knee_flex"][:] += U(0.0, 0.25)
        p["right_knee_flex"][:] += U(0.0, 0.25)
        return p, (t0, t4, t2 + 0.6 * throw)
    if event_type == "kick":
        k, o = ("right", "left") if rng.random() < 0.5 else ("left", "right")
        plant, back, swing, follow = U(0.12, 0.2), U(0.15, 0.25), U(0.12, 0.2), U(0.3, 0.5)
        t0 = plant; t1 = t0 + back; t2 = t1 + swing; t3 = t2 + follow
        t = np.arange(int(round((t3 + 0.2) * fps))) / fps
        p = _neutral(len(t), rng)
        v0 = U(0.0, 5.0)
        p["speed"] = _ramp(t, 0, t0 + back, v0, 0.5)
        hb, kb, hf = -U(0.4, 0.7), U(1.4, 2.0), U(1.0, 1.6)
        h = np.where(t < t1, _ramp(t, t0, t1, 0, hb), np.where(t < t2, _ramp(t, t1, t2, hb, hf),
                                                              _ramp(t, t2, t3, hf, 0)))
        kn = np.where(t < t1, _ramp(t, t0, t1, 0.1, kb), _ramp(t, t1, t2, kb, 0.05))
        p[f"{k}_hip_flex"], p[f"{k}_knee_flex"] = h, kn
        p[f"{o}_hip_flex"][:] = -0.1
        p[f"{o}_knee_flex"][:] = 0.3
        bal = _ramp(t, 0, t1, 0, 1) * _ramp(t, t2, t3, 1, 0)
        p[f"{o}_shoulder_abduct"] += bal * U(0.8, 1.3)
        p[f"{k}_shoulder_flex"] -= bal * U(0.2, 0.6)
        p["lean"] = -bal * U(0.05, 0.2)
        return p, (0.0, t3, t1 + 0.45 * swing)
    if event_type == "jump":
        crouch, flight, land = U(0.2, 0.35), U(0.35, 0.6), U(0.2, 0.35)
        t0 = crouch; t1 = t0 + flight; t2 = t1 + land
        t = np.arange(int(round((t2 + 0.2) * fps))) / fps
        p = _neutral(len(t), rng)
        h = U(0.25, 0.6)
        u = np.clip((t - t0) / flight, 0, 1)
        p["lift"] = 4 * h * u * (1 - u)
        dip = _ramp(t, 0, t0, 0, 1) * (t < t0) + _ramp(t, t1, t1 + land / 2, 0, 1) * _ramp(t, t1 + land / 2, t2, 1, 0) * (t >= t1)
        for k in ("left", "right"):
            p[f"{k}_knee_flex"] += dip * U(0.8, 1.2)
            p[f"{k}_hip_flex"] += dip * U(0.5, 0.8)
        header = rng.random() < 0.5
        arm_up = _ramp(t, t0 - 0.1, t0 + 0.1, 0, 1) * _ramp(t, t1 - 0.05, t2, 1, 0)
        for k in ("left", "right"):
            p[f"{k}_shoulder_flex"] += -0.5 * dip * (t < t0) + arm_up * (U(1.4, 2.2) if header else U(2.2, 2.9))
            p[f"{k}_shoulder_abduct"] += arm_up * (U(0.5, 1.0) if header else U(0.2, 0.6))
        p["lean"] = 0.3 * dip
        if header:
            p["nod"] = 0.4 * _ramp(t, t0 + flight / 2 - 0.1, t0 + flight / 2 + 0.05, 0, 1) * _ramp(t, t1, t2, 1, 0)
        p["speed"][:] = U(0.0, 3.0) * (t < t1)
        return p, (0.0, t2, t0 + flight / 2)
    if event_type == "fall":
        slide = rng.random() < 0.5
        drop, lie, rise = U(0.35, 0.6), U(0.5, 1.5), U(0.8, 1.2)
        t0 = drop; t1 = t0 + lie; t2 = t1 + rise
        t = np.arange(int(round((t2 + 0.2) * fps))) / fps
        p = _neutral(len(t), rng)
        target = -U(1.25, 1.5) if slide else U(1.3, 1.6)
        p["pitch"] = np.where(t < t1, _ramp(t, 0, t0, 0, target), _ramp(t, t1, t2, target, 0))
        v0 = U(2.0, 6.0)
        p["speed"] = _ramp(t, 0, t0 + (U(0.3, 0.8) if slide else 0.1), v0, 0)
        down = _ramp(t, 0, t0, 0, 1) * _ramp(t, t1, t2, 1, 0)
        if slide:
            k, o = ("left", "right") if rng.random() < 0.5 else ("right", "left")
            p[f"{k}_hip_flex"] += down * U(1.2, 1.5)
            p[f"{o}_hip_flex"] += down * U(0.3, 0.7)
            p[f"{o}_knee_flex"] += down * U(1.2, 1.7)
            for a in ("left", "right"):
                p[f"{a}_shoulder_abduct"] += down * U(0.4, 0.9)
        else:
            for a in ("left", "right"):
                p[f"{a}_shoulder_flex"] += down * U(1.4, 2.4)
                p[f"{a}_shoulder_abduct"] += down * U(0.1, 0.5)
            p["left_knee_flex"] += down * U(0.0, 0.6)
        return p, (0.0, t2, 0.85 * t0)
    if event_type == "celebration":
        rise, hold, lower = U(0.25, 0.5), U(1.0, 3.0), U(0.3, 0.6)
        t0 = rise; t1 = t0 + hold; t2 = t1 + lower
        t = np.arange(int(round((t2 + 0.2) * fps))) / fps
        p = _neutral(len(t), rng)
        up = np.where(t < t1, _ramp(t, 0, t0, 0, 1), _ramp(t, t1, t2, 1, 0))
        pump = 0.25 * np.sin(2 * np.pi * U(1.2, 2.2) * t) if rng.random() < 0.5 else 0.0
        for k in ("left", "right"):
            p[f"{k}_shoulder_flex"] += up * (U(2.6, 3.05) + pump)
            p[f"{k}_shoulder_abduct"] += up * U(0.4, 0.9)
            p[f"{k}_elbow_flex"] += up * U(0.0, 0.4) - 0.2 * up
        mode = rng.integers(3)  # standing, running, small jumps
        if mode == 1:
            _gait_p = _gait(_neutral(len(t), rng), t, rng, U(2.0, 5.0), 1.3, 0.6, 1.2, 0.0, 0.3, 0.1, 0.05)
            for k in ("speed", "left_hip_flex", "right_hip_flex", "left_knee_flex", "right_knee_flex", "lift", "lean"):
                p[k] = _gait_p[k]
        elif mode == 2:
            p["lift"] = U(0.1, 0.3) * np.abs(np.sin(2 * np.pi * U(0.8, 1.4) * t)) * up
        return p, (0.0, t2, t0)
    raise ValueError(f"unknown event type {event_type!r}")


_BEFORE = {"throw_in": ("stand", "walk"), "kick": ("run", "walk", "stand"), "jump": ("stand", "run", "walk"),
           "fall": ("run", "walk"), "celebration": ("run", "stand", "walk")}


def _concat(parts: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in _PARAMS}


# ------------------------------------------------------------------ camera and noise

def sample_view(family: str, rng: np.random.Generator) -> float:
    ranges = VIEW_FAMILIES[family]
    lo, hi = ranges[rng.integers(len(ranges))]
    return float(rng.uniform(lo, hi) % 360.0)


def project(joints_world: np.ndarray, yaw_deg: float, pitch_deg: float, height_px: float,
            centre_px: tuple[float, float], mirrored: bool) -> np.ndarray:
    """(T, 17, 3) metres (x left-of-body, y up, z forward at heading 0) -> (T, 17, 2) px.

    ``yaw_deg`` is the player's heading relative to the camera: 0 faces the camera.
    Orthographic (players are far from a match camera), ``height_px`` for 1.75 m.
    """
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    X, Y, Z = joints_world[..., 0], joints_world[..., 1], joints_world[..., 2]
    # facing the camera (yaw 0), the body's left appears on the image right
    Xc = X * np.cos(yaw) + Z * np.sin(yaw)
    Zc = -X * np.sin(yaw) + Z * np.cos(yaw)      # toward the camera
    up = Y * np.cos(pitch) - Zc * np.sin(pitch)   # nearer points appear lower when looking down
    s = height_px / 1.75
    x = centre_px[0] + s * Xc
    y = centre_px[1] - s * up
    xy = np.stack([x, y], -1)
    if mirrored:
        xy[..., 0] = 2 * centre_px[0] - xy[..., 0]
        xy = xy[:, list(MIRROR_INDEX)]
    return xy


def _markov_mask(T: int, n: int, share: np.ndarray, run: float, rng: np.random.Generator) -> np.ndarray:
    """(T, n) bool, True = low score; stationary share ``share`` (n,), mean run ``run`` frames."""
    share = np.clip(share, 0, 0.95)
    p_off = 1.0 / max(run, 1.0)
    p_on = np.where(share > 0, share * p_off / np.maximum(1 - share, 1e-6), 0.0)
    out = np.zeros((T, n), bool)
    state = rng.random(n) < share
    for i in range(T):
        u = rng.random(n)
        state = np.where(state, u >= p_off, u < p_on)
        out[i] = state
    return out


def add_detector_noise(xy_px: np.ndarray, height_px: float, rng: np.random.Generator,
                       noise: NoiseConfig = NoiseConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Noisy (T, 17, 3) keypoints and a (T,) bool mask of frames the detector kept."""
    T = len(xy_px)
    torso_px = height_px * 0.5 / 1.75
    hs, js = zip(*noise.jitter_by_height)
    sigma = np.interp(height_px, hs, js) * rng.uniform(*noise.jitter_spread)
    xy = xy_px + rng.normal(0, sigma * torso_px, xy_px.shape)
    out = rng.random((T, NUM_KEYPOINTS)) < noise.outlier_rate
    xy += out[..., None] * rng.normal(0, noise.outlier_torso * torso_px, xy.shape)
    share = rng.uniform(*noise.low_share_range)
    head, arms, legs = noise.low_group_factor
    factor = np.array([head] * 5 + [arms] * 6 + [legs] * 6)
    low = _markov_mask(T, NUM_KEYPOINTS, share * factor, noise.low_run_frames, rng)
    xy += low[..., None] * rng.normal(0, noise.low_offset_torso * torso_px, xy.shape)
    score = np.where(low, rng.uniform(0.02, 0.3, (T, NUM_KEYPOINTS)), rng.uniform(0.3, 0.95, (T, NUM_KEYPOINTS)))
    kept = rng.random(T) >= noise.frame_drop_rate
    return np.concatenate([xy, score[..., None]], -1).astype(np.float32), kept


# ------------------------------------------------------------------ public API

def sample_spec(rng: np.random.Generator, event_type: str | None, views: tuple[str, ...] = TRAIN_VIEWS,
                fps_choices: tuple[float, ...] = FPS_CHOICES) -> TrackSpec:
    """A random camera/player for one track: view family from ``views``, small to large players."""
    size = rng.integers(3)
    height = [rng.uniform(25, 60), rng.uniform(60, 200), rng.uniform(200, 600)][size]
    return TrackSpec(event_type, sample_view(str(rng.choice(list(views))), rng),
                     float(rng.uniform(0, 25)), bool(rng.random() < 0.5), float(height),
                     float(rng.choice(list(fps_choices))))


def generate_track(spec: TrackSpec, rng: np.random.Generator, noise: NoiseConfig | None = NoiseConfig(),
                   t0_ms: float = 0.0) -> SyntheticTrack:
    """One track: background motion, at most one event (``spec.event_type``), background motion."""
    fps = spec.fps
    parts, motions, events = [], [], []
    n_before = 1 if spec.event_type else int(rng.integers(1, 4))
    for i in range(n_before):
        m = str(rng.choice(_BEFORE[spec.event_type])) if spec.event_type else str(rng.choice(BACKGROUND_MOTIONS))
        parts.append(background_segment(m, rng.uniform(1.0, 3.0), fps, rng))
        motions.append(m)
    if spec.event_type:
        ev, (s, e, pk) = event_segment(spec.event_type, fps, rng)
        offset = sum(len(p["lean"]) for p in parts) / fps
        events.append((spec.event_type, offset + s, offset + e, offset + pk))
        parts.append(ev)
        motions.append(spec.event_type)
        m = str(rng.choice(["stand", "walk"]))
        parts.append(background_segment(m, rng.uniform(1.0, 2.5), fps, rng))
        motions.append(m)
    spans = np.cumsum([0] + [len(q["lean"]) for q in parts]) / fps  # segment bounds, s
    p = _concat(parts)
    T = len(p["lean"])
    sig = 0.06 * fps
    p = {k: gaussian_filter1d(v, sig, mode="nearest") for k, v in p.items()}
    j = pose_3d(p, scale=rng.uniform(0.9, 1.1))
    # ground motion along the heading (body +z), in body frame
    dist = np.cumsum(p["speed"]) / fps
    j[..., 2] += dist[:, None]
    centre = (rng.uniform(100, 1800), rng.uniform(100, 1000))
    xy = project(j, spec.yaw_deg, spec.pitch_deg, spec.height_px, centre, spec.mirrored)
    ts = t0_ms + np.arange(T) * 1000.0 / fps
    if noise is None:
        kps = np.concatenate([xy, np.full((T, NUM_KEYPOINTS, 1), 0.9)], -1).astype(np.float32)
        kept = np.ones(T, bool)
    else:
        kps, kept = add_detector_noise(xy, spec.height_px, rng, noise)
    ev_ms = [(t, t0_ms + 1000 * s, t0_ms + 1000 * e, t0_ms + 1000 * pk) for t, s, e, pk in events]
    # The context has its own generator, seeded from the clean pose, so that adding it left
    # every pose sequence of a seed as it was.
    ctx_rng = np.random.default_rng(int.from_bytes(hashlib.sha256(xy.tobytes()).digest()[:8], "little"))
    context = synth_context(spec, xy, np.arange(T) / fps, events, motions, spans, ctx_rng)
    return SyntheticTrack(ts[kept], kps[kept], ev_ms, spec, motions, context[kept])


def _ball_path(spec: TrackSpec, xy: np.ndarray, t: np.ndarray, events, motions, spans,
               rng: np.random.Generator) -> np.ndarray:
    """(T, 2) px of the ball where it is near the player, NaN elsewhere (clean, before detection)."""
    T, H = len(t), spec.height_px
    hands = xy[:, [KP["left_wrist"], KP["right_wrist"]]].mean(1)
    feet = xy[:, [KP["left_ankle"], KP["right_ankle"]]].mean(1)
    ball = np.full((T, 2), np.nan)
    for (a, b), m in zip(zip(spans[:-1], spans[1:]), motions):
        seg = (t >= a) & (t < b)
        if m in ("walk", "run", "stand") and rng.random() < 0.3:        # dribbling / ball at the feet
            ball[seg] = feet[seg] + [rng.uniform(-0.1, 0.1) * H, -0.02 * H]
        elif m == "stretch" and rng.random() < 0.4:                     # set shot, goalkeeper, held overhead
            ball[seg] = hands[seg] + [0.0, -0.04 * H]
    for et, s, _e, pk in events:
        if et == "throw_in":
            held = (t >= s - rng.uniform(0.0, 1.0)) & (t <= pk)
            ball[held] = hands[held] + [0.0, -0.04 * H]
            i = min(int(np.searchsorted(t, pk)), T - 1)
            v = hands[min(i + 1, T - 1)] - hands[max(i - 1, 0)]
            v = v / max(np.linalg.norm(v), 1e-6) * rng.uniform(4.0, 8.0) * H   # px/s
            after = t > pk
            dt = (t[after] - pk)[:, None]
            ball[after] = hands[i] + [0.0, -0.04 * H] + v * dt + [0.0, 0.5 * 5.6 * H] * dt ** 2
        elif et == "kick":
            before = t <= pk
            side = rng.choice([-1.0, 1.0])
            ball[before] = feet[before] + [side * 0.08 * H, 0.0]
            after = t > pk
            ball[after] = feet[min(int(np.searchsorted(t, pk)), T - 1)] + \
                [[side * rng.uniform(8, 15) * H, -rng.uniform(0, 2) * H]] * (t[after] - pk)[:, None]
        elif et == "jump" and rng.random() < 0.3:                      # a header at the apex
            near = np.abs(t - pk) <= 0.15
            ball[near] = xy[near, KP["nose"]] + [0.0, -0.08 * H]
    return ball


def synth_context(spec: TrackSpec, xy: np.ndarray, t: np.ndarray, events, motions, spans,
                  rng: np.random.Generator) -> np.ndarray:
    """(T, CONTEXT_DIM) ball and pitch context of one synthetic track (tagging.core.types.CONTEXT_COLUMNS).

    ``xy`` (T, 17, 2) clean keypoints px, ``t`` (T,) s, ``events`` (type, start, end, peak) s,
    ``motions`` and their segment bounds ``spans`` (s)."""
    T, H = len(t), spec.height_px
    out = np.full((T, CONTEXT_DIM), np.nan)
    # the ball, as a detector with a per-track hit rate sees it (unknown for a quarter of tracks)
    if rng.random() < 0.75:
        out[:, 0] = 1.0
        out[:, 3] = 0.0
        true = _ball_path(spec, xy, t, events, motions, spans, rng)
        rate = rng.uniform(0.15, 0.9)
        seen = np.isfinite(true).all(1) & (rng.random(T) < rate)
        det = true + rng.normal(0, 0.02 * H + 1.0, (T, 2))
        false = ~seen & (rng.random(T) < 0.01)
        det[false] = xy[false, KP["left_wrist"]] + rng.uniform(-1.4, 1.4, (int(false.sum()), 2)) * H
        seen |= false
        hands = xy[:, [KP["left_wrist"], KP["right_wrist"]]].mean(1)
        d = (det - hands) / H
        near = seen & (np.hypot(d[:, 0], d[:, 1]) <= 1.5)
        out[near, 1] = d[near, 0]
        out[near, 2] = -d[near, 1]
        out[near, 3] = rng.uniform(0.1, 0.5, int(near.sum()))
    # the pitch: where the feet are against the touchline
    u = rng.random()
    throw_in = any(e[0] == "throw_in" for e in events)
    if throw_in:
        # On or behind the line.  The grass model finds the edge of the *grass*, and many
        # stadiums have 1-3 m of grass run-off behind the touchline, where throw-ins are
        # taken: up to 1.2 body heights inside the grass edge.
        edge = rng.uniform(-0.6, 1.2) if u < 0.7 else None
        pitch = 1.0 if u < 0.85 else np.nan
    else:
        pitch = 1.0 if u < 0.55 else (0.0 if u < 0.8 else np.nan)
        edge = None
        if u < 0.4:
            edge = rng.uniform(0.1, 3.0)                               # inside
        elif u < 0.47:
            edge = rng.uniform(-2.0, 0.1)                              # off the pitch or on the line
    out[:, 4] = pitch
    if edge is not None:
        h = edge + rng.normal(0, 0.03, T)
        out[:, 6] = h
        out[:, 5] = h * H
    return out.astype(np.float32)


def generate_dataset(seed: int, n_per_event: int, n_background: int, views: tuple[str, ...] = TRAIN_VIEWS,
                     noise: NoiseConfig | None = NoiseConfig()) -> list[SyntheticTrack]:
    """``n_per_event`` tracks of each event type and ``n_background`` background-only tracks."""
    rng = np.random.default_rng(seed)
    kinds = [e for e in EVENT_TYPES for _ in range(n_per_event)] + [None] * n_background
    return [generate_track(sample_spec(rng, k, views), rng, noise) for k in kinds]


_SYNTH_RUN = "synthetic"
_SYNTH_FILE = f"{_SYNTH_RUN}-00000.parquet"  # named like a run's file: <run_id>-<part>.parquet


def write_tables(tracks_by_video: dict[str, list[SyntheticTrack]], out_dir: str | Path) -> Path:
    """Write synthetic tracks as a ``matchtag run``-style output directory (videos, poses,
    tracks, events=empty) plus ``labels.csv``; returns the labels path.

    Tracks of one video get track ids 1..n; their time bases are their own (they may overlap).
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.tables import CONTEXT_COLUMNS, KEYPOINT_COLUMNS, TABLES, TORSO_COLUMNS, file_schema
    from tagging.tables.store import CommitRecord, commit_local, partition_path

    out = Path(out_dir)
    labels = []
    for table in ("videos", "poses", "tracks", "events"):
        (out / table).mkdir(parents=True, exist_ok=True)
    for vid, tracks in tracks_by_video.items():
        rows = []
        trows = []
        for tid, tr in enumerate(tracks, start=1):
            n = len(tr.timestamps_ms)
            xy = tr.keypoints[..., :2]
            ok = tr.keypoints[..., 2] >= 0.3
            lo = np.where(ok[..., None], xy, np.nan)
            x1, y1 = np.nanmin(lo[..., 0], 1), np.nanmin(lo[..., 1], 1)
            x2, y2 = np.nanmax(lo[..., 0], 1), np.nanmax(lo[..., 1], 1)
            fps = tr.spec.fps if tr.spec else 25.0
            df = pd.DataFrame({"frame_index": np.round(tr.timestamps_ms * fps / 1000).astype(np.int64),
                               "timestamp_ms": tr.timestamps_ms, "track_id": tid,
                               "score": tr.keypoints[..., 2].mean(1).astype(np.float32),
                               "box_score": np.float32(0.8),
                               "bbox_x1": np.nan_to_num(x1).astype(np.float32),
                               "bbox_y1": np.nan_to_num(y1).astype(np.float32),
                               "bbox_x2": np.nan_to_num(x2).astype(np.float32),
                               "bbox_y2": np.nan_to_num(y2).astype(np.float32)})
            flat = tr.keypoints.reshape(n, -1)
            ctx = tr.context if tr.context is not None else np.full((n, len(CONTEXT_COLUMNS)), np.nan, np.float32)
            df = pd.concat([df, pd.DataFrame(flat, columns=list(KEYPOINT_COLUMNS)),
                            pd.DataFrame(ctx, columns=list(CONTEXT_COLUMNS)),
                            pd.DataFrame(np.nan, index=df.index, columns=list(TORSO_COLUMNS), dtype=np.float32)],
                           axis=1)
            rows.append(df)
            trows.append({"track_id": tid, "first_frame": int(df.frame_index.iloc[0]),
                          "last_frame": int(df.frame_index.iloc[-1]), "first_ms": float(tr.timestamps_ms[0]),
                          "last_ms": float(tr.timestamps_ms[-1]), "frame_count": n,
                          "mean_score": float(df.score.mean()), "team": None})
            for et, s, e, pk in tr.events:
                labels.append({"video_id": vid, "event_type": et, "start_ms": s, "end_ms": e,
                               "peak_ms": pk, "track_id": tid})
        poses = pd.concat(rows, ignore_index=True)
        for table, df in (("poses", poses), ("tracks", pd.DataFrame(trows)),
                          ("events", pd.DataFrame({c: [] for c in file_schema("events").names}))):
            d = out / table / f"video_id={vid}"
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pandas(df, schema=file_schema(table), preserve_index=False),
                           d / _SYNTH_FILE)
        d = out / "videos" / f"video_id={vid}"
        d.mkdir(parents=True, exist_ok=True)
        vrow = pd.DataFrame([{"path": f"synthetic:{vid}", "sha256": None, "fps": None, "frame_count": None,
                              "width": None, "height": None, "duration_ms": None, "status": "ok",
                              "error": None, "frames_processed": int(len(poses)),
                              "pose_backend": "synthetic", "pipeline_version": "synthetic"}])
        for name in file_schema("videos").names:  # columns other stages added: null here
            if name not in vrow.columns:
                vrow[name] = None
        pq.write_table(pa.Table.from_pandas(vrow, schema=file_schema("videos"), preserve_index=False),
                       d / _SYNTH_FILE)
        # readers list only what a commit record names
        written = ("videos", "poses", "tracks", "events")   # no balls: synthetic tracks have no frames
        commit_local(out, CommitRecord(vid, _SYNTH_RUN, {t: [f"{partition_path(t, vid)}/{_SYNTH_FILE}"]
                                                          if t in written else [] for t in TABLES}, status="ok"))
    path = out / "labels.csv"
    cols = ["video_id", "event_type", "start_ms", "end_ms", "peak_ms", "track_id"]
    pd.DataFrame(labels, columns=cols).to_csv(path, index=False)
    return path


__all__ = ["EVENT_TYPES", "BACKGROUND_MOTIONS", "VIEW_FAMILIES", "TRAIN_VIEWS", "TEST_VIEWS", "NoiseConfig",
           "TrackSpec", "SyntheticTrack", "generate_track", "generate_dataset", "sample_spec", "write_tables",
           "synth_context",
           "pose_3d", "project", "add_detector_noise"]
