"""Per-track keypoint smoothing over time with the One-Euro filter (Casiez et al., CHI 2012).

The One-Euro filter is a low-pass filter whose cut-off rises with speed: a still
joint is smoothed hard (jitter goes), a fast one lightly (little lag).  For each
track and each keypoint coordinate:

    cutoff_hz = min_cutoff_hz + beta * |smoothed speed (px/s)|
    alpha     = 1 / (1 + 1 / (2 pi cutoff_hz dt))
    x_hat     = alpha * x + (1 - alpha) * x_hat_prev

Time steps come from the container timestamps (``timestamp_ms``), so strides and
dropped frames are handled.  A keypoint below ``min_score`` is not fed to the
filter (its smoothed value holds the last estimate, its raw value is untouched).

:func:`smooth_poses` works on the ``poses`` table (pandas): it adds
``<kp>_x_smooth`` / ``<kp>_y_smooth`` columns and keeps the raw ``<kp>_x`` /
``<kp>_y`` as they are, so both are available.  Untracked rows (track_id -1) get
their raw values copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tagging.core.keypoints import KEYPOINT_NAMES


@dataclass(frozen=True)
class OneEuroConfig:
    """Filter settings; defaults suit keypoints in pixels at 10-60 fps."""

    min_cutoff_hz: float = 1.0     # cut-off for a still joint: lower = smoother, more lag
    beta: float = 0.02             # cut-off growth per px/s of speed: higher = less lag when moving
    d_cutoff_hz: float = 1.0       # cut-off of the speed estimate itself
    min_score: float = 0.2         # keypoints below this are not used to update the filter


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


def one_euro(times_s: np.ndarray, values: np.ndarray, valid: np.ndarray | None = None,
             config: OneEuroConfig = OneEuroConfig()) -> np.ndarray:
    """Filter one sequence: ``values`` (T, D) sampled at ``times_s`` (T,), strictly increasing.

    ``valid`` (T,) or (T, D) bool: samples that update the filter (others hold it).
    Returns (T, D); before the first valid sample the raw values are returned.
    """
    t = np.asarray(times_s, np.float64)
    x = np.asarray(values, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if valid is None:
        valid = np.ones(x.shape, bool)
    valid = np.broadcast_to(np.asarray(valid, bool).reshape(len(t), -1), x.shape)
    if len(t) > 1 and np.any(np.diff(t) <= 0):
        raise ValueError("one_euro: times must be strictly increasing")
    out = x.copy()
    x_hat = np.full(x.shape[1], np.nan)
    dx_hat = np.zeros(x.shape[1])
    t_prev = np.full(x.shape[1], np.nan)
    for i in range(len(t)):
        for d in range(x.shape[1]):
            if not valid[i, d]:
                if not np.isnan(x_hat[d]):
                    out[i, d] = x_hat[d]
                continue
            if np.isnan(x_hat[d]):
                x_hat[d], t_prev[d] = x[i, d], t[i]
                continue
            dt = t[i] - t_prev[d]
            dx = (x[i, d] - x_hat[d]) / dt
            dx_hat[d] += _alpha(config.d_cutoff_hz, dt) * (dx - dx_hat[d])
            cutoff = config.min_cutoff_hz + config.beta * abs(dx_hat[d])
            x_hat[d] += _alpha(cutoff, dt) * (x[i, d] - x_hat[d])
            t_prev[d] = t[i]
            out[i, d] = x_hat[d]
    return out


def smooth_poses(poses, config: OneEuroConfig = OneEuroConfig()):
    """The ``poses`` table with ``<kp>_x_smooth``/``<kp>_y_smooth`` added per track (raw kept)."""
    import pandas as pd

    df = poses.copy()
    needed = {"track_id", "timestamp_ms"} | {f"{k}_{c}" for k in KEYPOINT_NAMES for c in ("x", "y", "score")}
    missing = sorted(needed - set(df.columns))
    if missing:
        raise ValueError(f"smooth_poses: poses table lacks columns {missing[:4]}")
    xs = [f"{k}_x" for k in KEYPOINT_NAMES]
    ys = [f"{k}_y" for k in KEYPOINT_NAMES]
    scores = df[[f"{k}_score" for k in KEYPOINT_NAMES]].to_numpy()
    sm = df[xs + ys].to_numpy(np.float64).copy()
    keys = ["video_id", "track_id"] if "video_id" in df.columns else ["track_id"]
    # groupby().indices are positions within the tracked rows only: map them back to
    # positions in the whole table before indexing its arrays.
    tracked_rows = np.flatnonzero(df["track_id"].to_numpy() >= 0)
    times_ms = df["timestamp_ms"].to_numpy()
    for _, idx in df.iloc[tracked_rows].groupby(keys, observed=True).indices.items():
        idx = tracked_rows[np.asarray(idx)]
        order = idx[np.argsort(times_ms[idx], kind="stable")]
        valid = scores[order] >= config.min_score
        sm[order] = one_euro(times_ms[order] / 1000.0, sm[order],
                             np.concatenate([valid, valid], 1), config)
    smooth = pd.DataFrame(sm.astype(np.float32), index=df.index,
                          columns=[c + "_smooth" for c in xs + ys])
    return pd.concat([df, smooth], axis=1)
