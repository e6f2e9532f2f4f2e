"""Sliding-window features of one track's keypoint sequence, for the event model.

Input: ``timestamps_ms`` (T,) and ``keypoints`` (T, 17, 3) x_px, y_px, score of one
track (what :func:`tagging.track.sequences.keypoint_sequences` gives, or the poses table).

Steps (all in :func:`track_features`, or a chunk at a time in :func:`iter_track_features`):

1. **Missing keypoints.**  A keypoint with score < ``min_keypoint_score`` is missing.
   Its position is imputed (a) by linear interpolation in time between confident
   detections of the same keypoint at most ``max_interp_ms`` apart, else (b) by the
   position of its parent joint (wrist -> elbow -> shoulder -> hip centre, ankle ->
   knee -> hip, head -> shoulder centre), which reads as "limb not extended" rather
   than inventing motion.  The share of confident keypoints per body part over the
   window is itself a feature, so the classifier knows how much was imputed.
2. **Resampling** to a uniform grid of ``grid_hz`` (20 Hz), so one model serves
   10-50 fps video and ``--stride``.  A gap of more than ``max_gap_ms`` without
   the track splits it into segments; windows never cross a segment boundary.
3. **Normalisation.**  Positions are taken relative to the hip centre and divided
   by the torso length (shoulder-centre to hip-centre distance), smoothed with a
   running median over ``scale_window_s`` so that arm motion and short falls do
   not change the scale.  y points up.  Every feature is invariant to image
   translation, scale and mirroring (left/right pairs enter as max/min, and
   forward/backward is signed by the facing direction read from nose vs ears).
4. **Per-frame features** (:data:`FRAME_FEATURES`): wrist, elbow and ankle heights,
   wrists above the head, arm and forearm elevation angles, hand and elbow
   distance, wrists in front of/behind the head, knee angles, trunk angle and
   apparent length, body extent, hip height against its running median (jumps),
   velocities of the hip centre, wrists and ankles (torso lengths per second), and
   the confident share of head, arm and leg keypoints.
5. **Context features** (:data:`CONTEXT_FEATURES`, from the per-frame ball and pitch
   context of :data:`tagging.core.types.CONTEXT_COLUMNS`, nearest observation in time):
   whether the ball was looked for and found near the hands, its distance from the
   midpoint of the wrists and its height above them (body heights), its speed relative to
   the hands (body heights per second: the release), whether the frame shows a pitch or
   shows none, and the feet's signed distance to the grass edge (body heights, positive on
   the grass) when the edge is in view.  Unknown values are filled with a fixed value and
   flagged by the ``*_known`` indicators, so "unknown" never reads as "absent".
6. **Window statistics** over a centred window of ``window_s``: mean, std, min,
   max, and the means of the first, middle and last third (temporal order: a
   throw-in goes back over the head, then forward), plus the share of the
   window inside the segment.

Changing anything here that changes the numbers must bump :data:`FEATURE_VERSION`;
saved models record it and refuse to load under another.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import median_filter

from tagging.core.keypoints import KP, NUM_KEYPOINTS
from tagging.core.types import CONTEXT_COLUMNS, CONTEXT_DIM

# 2: ball and pitch context features.
FEATURE_VERSION = "events-features-2"

_L = {n: KP[f"left_{n}"] for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "ear", "eye")}
_R = {n: KP[f"right_{n}"] for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "ear", "eye")}
_HEAD = [KP["nose"], KP["left_eye"], KP["right_eye"], KP["left_ear"], KP["right_ear"]]
_ARMS = [_L["shoulder"], _R["shoulder"], _L["elbow"], _R["elbow"], _L["wrist"], _R["wrist"]]
_LEGS = [_L["hip"], _R["hip"], _L["knee"], _R["knee"], _L["ankle"], _R["ankle"]]
# parent used when a keypoint has no confident detection near in time (-1: hip centre, -2: shoulder centre)
_PARENT = {KP["nose"]: -2, KP["left_eye"]: KP["nose"], KP["right_eye"]: KP["nose"], KP["left_ear"]: KP["nose"],
           KP["right_ear"]: KP["nose"], _L["shoulder"]: -1, _R["shoulder"]: -1, _L["elbow"]: _L["shoulder"],
           _R["elbow"]: _R["shoulder"], _L["wrist"]: _L["elbow"], _R["wrist"]: _R["elbow"], _L["hip"]: -1,
           _R["hip"]: -1, _L["knee"]: _L["hip"], _R["knee"]: _R["hip"], _L["ankle"]: _L["knee"],
           _R["ankle"]: _R["knee"]}
# imputation order: parents before children
_ORDER = [_L["shoulder"], _R["shoulder"], _L["hip"], _R["hip"], KP["nose"], KP["left_eye"], KP["right_eye"],
          KP["left_ear"], KP["right_ear"], _L["elbow"], _R["elbow"], _L["wrist"], _R["wrist"],
          _L["knee"], _R["knee"], _L["ankle"], _R["ankle"]]

FRAME_FEATURES = (
    "wrist_h_max", "wrist_h_min", "wrist_over_head_max", "wrist_over_head_min", "elbow_over_shoulder_max",
    "elbow_over_shoulder_min", "arm_elev_max", "arm_elev_min", "forearm_elev_max", "forearm_elev_min",
    "hand_dist", "elbow_dist", "wrists_fwd_of_head", "wrists_x_spread", "ankle_h_max", "ankle_h_min",
    "ankle_dist", "ankle_fwd_max", "knee_angle_max", "knee_angle_min", "trunk_angle", "trunk_fwd",
    "trunk_len", "extent_h", "extent_w", "head_h", "hip_rise", "hip_vx", "hip_vy", "wrist_speed_max",
    "wrist_vy_mean", "ankle_speed_max", "ankle_vy_max", "conf_head", "conf_arms", "conf_legs",
)
CONTEXT_FEATURES = (
    "ball_known", "ball_found", "ball_hand_dist", "ball_dy", "ball_speed",
    "pitch_seen", "no_pitch", "edge_known", "feet_edge",
)
WINDOW_STATS = ("mean", "std", "min", "max", "first", "middle", "last")
# Fill values of unknown context (flagged by the indicators): the ball as far as the search
# radius (1.5 body heights), the feet well inside the pitch.
BALL_FAR = 1.5
FEET_INSIDE = 1.0
_CTX = {name: i for i, name in enumerate(CONTEXT_COLUMNS)}


def feature_names() -> list[str]:
    return ([f"{f}_{s}" for f in FRAME_FEATURES + CONTEXT_FEATURES for s in WINDOW_STATS]
            + ["in_segment"])


def context_frame_features(ts: np.ndarray, context: np.ndarray | None, grid: np.ndarray,
                           max_age_ms: float = 250.0) -> np.ndarray:
    """(G, len(CONTEXT_FEATURES)) context features on the ``grid`` (ms) from per-observation
    ``context`` (T, CONTEXT_DIM) at times ``ts`` (T,) ms; None = nothing known.  Each grid step
    takes the nearest observation within ``max_age_ms`` (none: unknown)."""
    G = len(grid)
    out = np.zeros((G, len(CONTEXT_FEATURES)), np.float64)
    out[:, 2], out[:, 8] = BALL_FAR, FEET_INSIDE
    if context is None or not len(ts):
        return out
    ctx = np.asarray(context, np.float64).reshape(len(ts), CONTEXT_DIM)
    # ball speed relative to the hands, between consecutive observations that both found it
    d = ctx[:, [_CTX["ball_dx"], _CTX["ball_dy"]]]
    found = (ctx[:, _CTX["ball_known"]] == 1) & np.isfinite(d).all(1)
    speed = np.zeros(len(ts))
    if len(ts) > 1:
        dt = np.maximum(np.diff(ts) / 1000.0, 1e-3)
        step = np.linalg.norm(np.diff(d, axis=0), axis=1) / dt
        both = found[1:] & found[:-1] & (np.diff(ts) <= 300.0)
        speed[1:] = np.where(both, step, 0.0)
    j = np.clip(np.searchsorted(ts, grid), 1, len(ts) - 1) if len(ts) > 1 else np.zeros(G, np.int64)
    if len(ts) > 1:
        j = np.where(np.abs(ts[j - 1] - grid) <= np.abs(ts[j] - grid), j - 1, j)
    fresh = np.abs(ts[j] - grid) <= max_age_ms
    c, f = ctx[j], found[j] & fresh
    out[:, 0] = np.where(fresh, np.nan_to_num(c[:, _CTX["ball_known"]]), 0.0)
    out[:, 1] = f
    out[:, 2] = np.where(f, np.hypot(c[:, _CTX["ball_dx"]], c[:, _CTX["ball_dy"]]), BALL_FAR)
    out[:, 3] = np.where(f, c[:, _CTX["ball_dy"]], 0.0)
    out[:, 4] = np.where(f, np.minimum(speed[j], 20.0), 0.0)
    pitch = np.where(fresh, c[:, _CTX["pitch"]], np.nan)
    out[:, 5] = pitch == 1
    out[:, 6] = pitch == 0
    edge = fresh & (pitch == 1) & np.isfinite(c[:, _CTX["feet_grass_h"]])
    out[:, 7] = edge
    out[:, 8] = np.where(edge, np.clip(np.nan_to_num(c[:, _CTX["feet_grass_h"]]), -1.0, 1.0), FEET_INSIDE)
    return out


@dataclass(frozen=True)
class FeatureConfig:
    min_keypoint_score: float = 0.3
    grid_hz: float = 20.0
    window_s: float = 1.2          # centred window of the window statistics
    max_gap_ms: float = 500.0      # longer track gaps split segments
    max_interp_ms: float = 400.0   # longest time gap a missing keypoint is interpolated over
    scale_window_s: float = 4.0    # running median of the torso length
    min_segment_s: float = 0.5     # shorter segments get no features


@dataclass
class TrackFeatures:
    """Window features of one track on a uniform time grid."""

    grid_ms: np.ndarray     # (G,) grid times, ms
    X: np.ndarray           # (G, n_features) float32
    segment: np.ndarray     # (G,) int segment id (a new id after each gap > max_gap_ms)


def _impute(ts: np.ndarray, kps: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(T, 17, 2) positions with missing keypoints filled, (T, 17) bool confident mask."""
    ok = (kps[..., 2] >= cfg.min_keypoint_score) & np.isfinite(kps[..., :2]).all(-1)
    xy = np.where(ok[..., None], kps[..., :2], np.nan).astype(np.float64)
    for k in range(NUM_KEYPOINTS):
        good = np.nonzero(ok[:, k])[0]
        if len(good) < 1:
            continue
        bad = np.nonzero(~ok[:, k])[0]
        if not len(bad):
            continue
        nxt = np.searchsorted(good, bad)
        prv = nxt - 1
        has_p, has_n = prv >= 0, nxt < len(good)
        tp = np.where(has_p, ts[good[np.clip(prv, 0, None)]], -np.inf)
        tn = np.where(has_n, ts[good[np.clip(nxt, None, len(good) - 1)]], np.inf)
        fill = has_p & has_n & ((tn - tp) <= cfg.max_interp_ms)
        for c in range(2):
            v = np.interp(ts[bad], ts[good], kps[good, k, c])
            xy[bad[fill], k, c] = v[fill]
    with warnings.catch_warnings():  # all-NaN rows (no hips/shoulders at all) stay NaN on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        _parent_fill(xy)
    return xy, ok


def _parent_fill(xy: np.ndarray) -> None:
    for k in _ORDER:  # parent fallback
        miss = np.isnan(xy[:, k, 0])
        if not miss.any():
            continue
        par = _PARENT[k]
        if par == -1:
            src = np.nanmean(xy[:, [_L["hip"], _R["hip"]]], axis=1)
            if np.isnan(src).any():  # no hips: shoulders pushed down by a typical torso
                src = np.where(np.isnan(src), np.nanmean(xy[:, [_L["shoulder"], _R["shoulder"]]], axis=1), src)
        elif par == -2:
            src = np.nanmean(xy[:, [_L["shoulder"], _R["shoulder"]]], axis=1)
        else:
            src = xy[:, par]
        xy[miss, k] = src[miss]


def _segments(ts: np.ndarray, max_gap_ms: float) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.diff(ts) > max_gap_ms)]).astype(np.int64)


def _angle_from_down(v: np.ndarray) -> np.ndarray:
    """Angle (0..1 = 0..180 deg) between vector (.., 2) in y-up coords and straight down."""
    return np.arccos(np.clip(-v[..., 1] / np.maximum(np.linalg.norm(v, axis=-1), 1e-6), -1, 1)) / np.pi


def _knee_angle(h, k, a):
    u, w = h - k, a - k
    c = (u * w).sum(-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(w, axis=-1), 1e-6)
    return np.arccos(np.clip(c, -1, 1)) / np.pi   # 1 = straight leg


def frame_features(p: np.ndarray, conf: np.ndarray, scale_px: np.ndarray, hip_px: np.ndarray,
                   dt_s: float) -> np.ndarray:
    """(G, len(FRAME_FEATURES)) from normalised poses ``p`` (G, 17, 2; hip centre origin,
    torso units, y up), confident shares ``conf`` (G, 17) in 0..1, raw scale (G,) px and
    hip centre (G, 2) px on the grid with step ``dt_s``."""
    G = len(p)
    y = p[..., 1]
    x = p[..., 0]
    wr = p[:, [_L["wrist"], _R["wrist"]]]
    el = p[:, [_L["elbow"], _R["elbow"]]]
    sh = p[:, [_L["shoulder"], _R["shoulder"]]]
    an = p[:, [_L["ankle"], _R["ankle"]]]
    kn = p[:, [_L["knee"], _R["knee"]]]
    hp = p[:, [_L["hip"], _R["hip"]]]
    head_top = y[:, _HEAD].max(1)
    nose = p[:, KP["nose"]]
    ears_x = x[:, [_L["ear"], _R["ear"]]].mean(1)
    # facing: +1 when the nose is right of the ears/shoulders in the image (side views); smoothed
    face_raw = nose[:, 0] - 0.5 * (ears_x + sh[..., 0].mean(1))
    facing = np.sign(median_filter(face_raw, size=9, mode="nearest"))
    facing[facing == 0] = 1.0
    sc = sh.mean(1)
    trunk = sc  # hip centre is the origin
    arm_elev = _angle_from_down(el - sh)
    fore_elev = _angle_from_down(wr - el)
    knee_a = _knee_angle(hp, kn, an)
    wmid = wr.mean(1)
    ext_h = y.max(1) - y.min(1)
    ext_w = x.max(1) - x.min(1)
    # hip height against its running median (jumps), in torso units
    hip_up = -hip_px[:, 1] / scale_px
    win = _hip_window(dt_s)
    hip_rise = hip_up - median_filter(hip_up, size=win, mode="nearest")
    hip_v = np.gradient(hip_px, dt_s, axis=0) / scale_px[:, None] * [1, -1]
    wr_v = np.gradient(wr, dt_s, axis=0)
    an_v = np.gradient(an, dt_s, axis=0)
    f = {
        "wrist_h_max": wr[..., 1].max(1), "wrist_h_min": wr[..., 1].min(1),
        "wrist_over_head_max": wr[..., 1].max(1) - head_top, "wrist_over_head_min": wr[..., 1].min(1) - head_top,
        "elbow_over_shoulder_max": (el[..., 1] - sh[..., 1]).max(1),
        "elbow_over_shoulder_min": (el[..., 1] - sh[..., 1]).min(1),
        "arm_elev_max": arm_elev.max(1), "arm_elev_min": arm_elev.min(1),
        "forearm_elev_max": fore_elev.max(1), "forearm_elev_min": fore_elev.min(1),
        "hand_dist": np.linalg.norm(wr[:, 0] - wr[:, 1], axis=-1),
        "elbow_dist": np.linalg.norm(el[:, 0] - el[:, 1], axis=-1),
        "wrists_fwd_of_head": (wmid[:, 0] - nose[:, 0]) * facing,
        "wrists_x_spread": np.abs(wmid[:, 0] - sc[:, 0]),
        "ankle_h_max": an[..., 1].max(1), "ankle_h_min": an[..., 1].min(1),
        "ankle_dist": np.linalg.norm(an[:, 0] - an[:, 1], axis=-1),
        "ankle_fwd_max": (an[..., 0] * facing[:, None]).max(1),
        "knee_angle_max": knee_a.max(1), "knee_angle_min": knee_a.min(1),
        "trunk_angle": _angle_from_down(-trunk),
        "trunk_fwd": trunk[:, 0] * facing,
        "trunk_len": np.linalg.norm(trunk, axis=-1),
        "extent_h": ext_h, "extent_w": ext_w, "head_h": head_top, "hip_rise": hip_rise,
        "hip_vx": np.abs(hip_v[:, 0]), "hip_vy": hip_v[:, 1],
        "wrist_speed_max": np.linalg.norm(wr_v, axis=-1).max(1), "wrist_vy_mean": wr_v[..., 1].mean(1),
        "ankle_speed_max": np.linalg.norm(an_v, axis=-1).max(1), "ankle_vy_max": an_v[..., 1].max(1),
        "conf_head": conf[:, _HEAD].mean(1), "conf_arms": conf[:, _ARMS].mean(1),
        "conf_legs": conf[:, _LEGS].mean(1),
    }
    out = np.stack([f[n] for n in FRAME_FEATURES], axis=1)
    assert out.shape == (G, len(FRAME_FEATURES))
    return out


def _window_stats(F: np.ndarray, w: int) -> np.ndarray:
    """(G, F*7) window statistics of per-frame features F (G, F), edge-padded, window w (odd)."""
    h = w // 2
    pad = np.pad(F, ((h, h), (0, 0)), mode="edge")
    win = sliding_window_view(pad, w, axis=0)           # (G, F, w)
    third = max(1, w // 3)
    stats = [win.mean(-1), win.std(-1), win.min(-1), win.max(-1), win[..., :third].mean(-1),
             win[..., third:w - third].mean(-1), win[..., w - third:].mean(-1)]
    return np.stack(stats, axis=-1).reshape(len(F), -1)


def _frame_radius(dt_s: float) -> int:
    """Grid steps on each side that one row of :func:`frame_features` depends on (its widest
    filter: the running median of the hip height), so a chunk computed with this margin
    plus the statistics window is exact."""
    return max(_hip_window(dt_s) // 2, 4, 1) + 1


def _hip_window(dt_s: float) -> int:
    return max(3, int(round(2.0 / dt_s)) | 1)


def track_features(timestamps_ms: np.ndarray, keypoints: np.ndarray,
                   config: FeatureConfig = FeatureConfig(), context: np.ndarray | None = None) -> TrackFeatures:
    """Window features of one track on a ``grid_hz`` grid (see the module docstring).

    ``context``: (T, CONTEXT_DIM) ball and pitch context per observation
    (:data:`tagging.core.types.CONTEXT_COLUMNS`), None when unknown."""
    chunks = list(iter_track_features(timestamps_ms, keypoints, config, context, max_rows=None))
    if not chunks:
        return TrackFeatures(np.empty(0), np.empty((0, len(feature_names())), np.float32), np.empty(0, np.int64))
    return TrackFeatures(np.concatenate([c.grid_ms for c in chunks]), np.concatenate([c.X for c in chunks]),
                         np.concatenate([c.segment for c in chunks]))


def iter_track_features(timestamps_ms: np.ndarray, keypoints: np.ndarray,
                        config: FeatureConfig = FeatureConfig(), context: np.ndarray | None = None,
                        max_rows: int | None = 2048):
    """:func:`track_features` in chunks of at most ``max_rows`` grid steps (None: one chunk
    per segment), in time order, each inside one segment.  Concatenated, the chunks are
    exactly :func:`track_features`' output: each chunk is computed with a margin wider
    than every filter it depends on.  Memory then depends on ``max_rows``, not on the
    track's length (a full-match track is ~65,000 grid steps of ~330 float features)."""
    ts = np.asarray(timestamps_ms, np.float64)
    kps = np.asarray(keypoints, np.float32)
    if context is not None:
        context = np.asarray(context, np.float32)
        if context.shape != (len(ts), CONTEXT_DIM):
            raise ValueError(f"context must be (T, {CONTEXT_DIM}) with T = len(timestamps_ms); got {context.shape}")
    if kps.ndim != 3 or kps.shape[1:] != (NUM_KEYPOINTS, 3) or len(ts) != len(kps):
        raise ValueError(f"keypoints must be (T, {NUM_KEYPOINTS}, 3) with T = len(timestamps_ms); "
                         f"got {kps.shape} and {ts.shape}")
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be >= 1 or None; got {max_rows}")
    if len(ts) < 2:
        return
    order = np.argsort(ts, kind="stable")
    ts, kps = ts[order], kps[order]
    context = None if context is None else context[order]
    xy, ok = _impute(ts, kps, config)
    has_any = ~np.isnan(xy).any(axis=(1, 2))
    ts, xy, ok = ts[has_any], xy[has_any], ok[has_any]
    context = None if context is None else context[has_any]
    if len(ts) < 2:
        return
    seg = _segments(ts, config.max_gap_ms)
    dt_ms = 1000.0 / config.grid_hz
    w = int(round(config.window_s * config.grid_hz)) | 1
    margin = w // 2 + _frame_radius(dt_ms / 1000.0)
    for s in np.unique(seg):
        m = seg == s
        t_s = ts[m]
        if t_s[-1] - t_s[0] < config.min_segment_s * 1000:
            continue
        xy_s, ok_s = xy[m], ok[m].astype(np.float64)
        ctx_s = None if context is None else context[m]
        grid = np.arange(t_s[0], t_s[-1] + 1e-6, dt_ms)
        G = len(grid)
        # the scale needs the whole segment (median torso, running median): a few floats per step
        hip, scale = _segment_scale(grid, t_s, xy_s, ok_s, config)
        step = G if max_rows is None else max_rows
        for a in range(0, G, step):
            b = min(a + step, G)
            lo, hi = max(a - margin, 0), min(b + margin, G)
            pos, conf = _on_grid(grid[lo:hi], t_s, xy_s, ok_s, range(NUM_KEYPOINTS))
            p = (pos - hip[lo:hi, None, :]) / scale[lo:hi, None, None]
            p[..., 1] *= -1.0
            F = frame_features(p, conf, scale[lo:hi], hip[lo:hi], dt_ms / 1000.0)
            F = np.concatenate([F, context_frame_features(t_s, ctx_s, grid[lo:hi])], 1)
            X = _window_stats(F, w)[a - lo:b - lo]
            # share of the centred window inside this segment
            idx = np.arange(a, b)
            inside = (np.minimum(idx + w // 2, G - 1) - np.maximum(idx - w // 2, 0) + 1) / w
            X = np.concatenate([X, inside[:, None]], axis=1).astype(np.float32)
            X[~np.isfinite(X)] = 0.0
            yield TrackFeatures(grid[a:b], X, np.full(b - a, s, np.int64))


def _on_grid(grid: np.ndarray, t_s: np.ndarray, xy_s: np.ndarray, ok_s: np.ndarray, kp_idx
             ) -> tuple[np.ndarray, np.ndarray]:
    """Positions (G, K, 2) and confident shares (G, K) of keypoints ``kp_idx`` interpolated
    from observations at ``t_s`` onto ``grid`` (ms)."""
    kp_idx = list(kp_idx)
    pos = np.empty((len(grid), len(kp_idx), 2))
    conf = np.empty((len(grid), len(kp_idx)))
    for i, k in enumerate(kp_idx):
        for c in range(2):
            pos[:, i, c] = np.interp(grid, t_s, xy_s[:, k, c])
        conf[:, i] = np.interp(grid, t_s, ok_s[:, k])
    return pos, conf


def _segment_scale(grid: np.ndarray, t_s: np.ndarray, xy_s: np.ndarray, ok_s: np.ndarray,
                   config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Hip centre (G, 2) px and torso scale (G,) px of one segment on its grid."""
    torso_kp = [_L["shoulder"], _R["shoulder"], _L["hip"], _R["hip"]]
    pos, conf = _on_grid(grid, t_s, xy_s, ok_s, torso_kp)
    hip = pos[:, 2:].mean(1)
    torso = np.linalg.norm(pos[:, :2].mean(1) - hip, axis=1)
    torso_conf = conf.min(1) > 0.5
    if torso_conf.sum() >= 1:
        med = np.median(torso[torso_conf])
        torso = np.where(torso_conf, torso, med)
    else:  # no confident torso in the whole segment: an upright person is ~3 torso lengths tall
        height = np.empty(len(grid))
        for a in range(0, len(grid), 4096):   # the body's extent, a chunk at a time
            p, _ = _on_grid(grid[a:a + 4096], t_s, xy_s, ok_s, range(NUM_KEYPOINTS))
            height[a:a + 4096] = p[..., 1].max(1) - p[..., 1].min(1)
        torso = np.full(len(grid), max(np.median(height) / 3.0, 1.0))
    sw = max(3, int(round(config.scale_window_s * config.grid_hz)) | 1)
    return hip, np.maximum(median_filter(torso, size=sw, mode="nearest"), 1.0)
