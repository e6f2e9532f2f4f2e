"""A batched constant-velocity Kalman filter for boxes, in pixels and frames.

State per track: ``[cx, cy, w, h, vcx, vcy, vw, vh]`` (px and px/frame); measurement:
``[cx, cy, w, h]`` px.  Process and measurement noise scale with the box size (as in
SORT's successors: a 200 px tall goalkeeper near the camera moves and jitters more,
in pixels, than a 30 px tall winger on the far side).  Width and height are filtered
separately rather than as aspect ratio because a player who bends, jumps or turns
changes width much more than height.

All functions take and return stacked arrays for N tracks -- one numpy call per
frame, not one per track -- so the tracker stays fast with 20+ players.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIM_X, DIM_Z = 8, 4

# x' = F x: position += velocity (one step = one processed frame)
_F = np.eye(DIM_X)
_F[:4, 4:] = np.eye(4)
_H = np.eye(DIM_Z, DIM_X)


@dataclass(frozen=True)
class KalmanConfig:
    """Noise standard deviations as fractions of the box size (w for x terms, h for y terms)."""

    std_position: float = 1 / 20      # measurement noise
    std_process_position: float = 1 / 20  # position process noise per frame
    std_velocity: float = 1 / 160     # velocity process noise per frame
    init_velocity_std: float = 10.0   # x std_velocity: how unsure a new track's velocity is


def xyxy_to_z(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 -> (N, 4) cx, cy, w, h."""
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return np.concatenate([xyxy[:, :2] + wh / 2, wh], axis=1)


def z_to_xyxy(z: np.ndarray) -> np.ndarray:
    """(N, >=4) cx, cy, w, h[, ...] -> (N, 4) x1, y1, x2, y2."""
    z = np.asarray(z, np.float64).reshape(len(z), -1)[:, :4]
    half = np.abs(z[:, 2:4]) / 2
    return np.concatenate([z[:, :2] - half, z[:, :2] + half], axis=1)


def _size_scale(wh: np.ndarray) -> np.ndarray:
    """(N, 2) w, h -> (N, 4) scale per measured coordinate [w, h, w, h]."""
    wh = np.maximum(np.abs(wh), 1.0)
    return np.concatenate([wh, wh], axis=1)


def initiate(z: np.ndarray, config: KalmanConfig = KalmanConfig()) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from (N, 4) measurements: mean (N, 8) with zero velocity, covariance (N, 8, 8)."""
    z = np.asarray(z, np.float64).reshape(-1, DIM_Z)
    mean = np.concatenate([z, np.zeros_like(z)], axis=1)
    s = _size_scale(z[:, 2:4])
    std = np.concatenate([2 * config.std_position * s,
                          config.init_velocity_std * config.std_velocity * s], axis=1)
    cov = np.zeros((len(z), DIM_X, DIM_X))
    idx = np.arange(DIM_X)
    cov[:, idx, idx] = std ** 2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray, config: KalmanConfig = KalmanConfig(),
            steps: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Advance N tracks by ``steps`` frames; returns new (N, 8) mean and (N, 8, 8) covariance."""
    mean = np.asarray(mean, np.float64).reshape(-1, DIM_X)
    cov = np.asarray(cov, np.float64).reshape(-1, DIM_X, DIM_X)
    idx = np.arange(DIM_X)
    for _ in range(steps):
        s = _size_scale(mean[:, 2:4])
        q = np.zeros_like(cov)
        q[:, idx, idx] = np.concatenate([config.std_process_position * s, config.std_velocity * s], axis=1) ** 2
        mean = mean @ _F.T
        cov = _F @ cov @ _F.T + q
        # a box cannot shrink below a pixel; keeps IoU and noise scales sane for long predictions
        mean[:, 2:4] = np.maximum(mean[:, 2:4], 1.0)
    return mean, cov


def project(mean: np.ndarray, cov: np.ndarray, config: KalmanConfig = KalmanConfig()
            ) -> tuple[np.ndarray, np.ndarray]:
    """Measurement-space (N, 4) mean and (N, 4, 4) innovation covariance."""
    s = _size_scale(mean[:, 2:4])
    r = np.zeros((len(mean), DIM_Z, DIM_Z))
    idx = np.arange(DIM_Z)
    r[:, idx, idx] = (config.std_position * s) ** 2
    return mean[:, :DIM_Z], cov[:, :DIM_Z, :DIM_Z] + r


def update(mean: np.ndarray, cov: np.ndarray, z: np.ndarray, config: KalmanConfig = KalmanConfig()
           ) -> tuple[np.ndarray, np.ndarray]:
    """Correct N tracks with their (N, 4) measurements; returns new mean and covariance."""
    mean = np.asarray(mean, np.float64).reshape(-1, DIM_X)
    cov = np.asarray(cov, np.float64).reshape(-1, DIM_X, DIM_X)
    z = np.asarray(z, np.float64).reshape(-1, DIM_Z)
    if len(mean) == 0:
        return mean, cov
    z_mean, s = project(mean, cov, config)
    pht = cov[:, :, :DIM_Z]                                   # P H^T, (N, 8, 4)
    # K = P H^T S^-1, solved rather than inverted: S is symmetric positive definite
    gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)
    innovation = z - z_mean
    mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    cov = cov - gain @ s @ gain.transpose(0, 2, 1)
    return mean, cov


def mahalanobis_sq(mean: np.ndarray, cov: np.ndarray, z: np.ndarray,
                   config: KalmanConfig = KalmanConfig()) -> np.ndarray:
    """(N tracks, M measurements) squared Mahalanobis distance of measurements to predictions."""
    mean = np.asarray(mean, np.float64).reshape(-1, DIM_X)
    z = np.asarray(z, np.float64).reshape(-1, DIM_Z)
    if len(mean) == 0 or len(z) == 0:
        return np.zeros((len(mean), len(z)))
    z_mean, s = project(mean, np.asarray(cov, np.float64).reshape(-1, DIM_X, DIM_X), config)
    d = z[None, :, :] - z_mean[:, None, :]                  # (N, M, 4)
    chol = np.linalg.cholesky(s)                            # (N, 4, 4)
    y = np.linalg.solve(chol[:, None, :, :], d[..., None])[..., 0]
    return (y ** 2).sum(-1)
