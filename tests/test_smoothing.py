"""One-Euro keypoint smoothing: less jitter on a still joint, little lag on a moving one."""

import numpy as np
import pandas as pd
import pytest

from tagging.core.keypoints import KEYPOINT_NAMES
from tagging.tables.smoothing import OneEuroConfig, one_euro, smooth_poses


def test_still_joint_jitter_is_reduced():
    rng = np.random.default_rng(0)
    t = np.arange(100) / 25.0
    raw = 100 + rng.normal(0, 2.0, 100)
    out = one_euro(t, raw)[:, 0]
    assert out[20:].std() < 0.5 * raw[20:].std()
    assert abs(out[20:].mean() - 100) < 1.0


def test_moving_joint_follows_with_little_lag():
    t = np.arange(50) / 25.0
    raw = 300.0 * t                                   # 300 px/s
    out = one_euro(t, raw, config=OneEuroConfig(beta=0.05))[:, 0]
    assert np.abs(out[25:] - raw[25:]).max() < 10     # under 1/30 s of lag
    assert np.abs(one_euro(t, raw, config=OneEuroConfig(beta=0.0))[25:, 0] - raw[25:]).max() > 20


def test_low_score_samples_hold_the_estimate_and_times_must_increase():
    t = np.arange(5, dtype=float)
    out = one_euro(t, np.array([1.0, 1.0, 99.0, 1.0, 1.0]), np.array([1, 1, 0, 1, 1], bool))[:, 0]
    assert out[2] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        one_euro(np.array([0.0, 0.0]), np.zeros(2))


def _jittery_poses(people, seed: int, frames: int = 40) -> pd.DataFrame:
    """A poses table: for each ``(track_id, x0)`` in order, ``frames`` rows of a still person
    at x = x0 with 2 px of keypoint jitter, 25 fps."""
    rng = np.random.default_rng(seed)
    rows = []
    for track, x0 in people:
        for i in range(frames):
            r = {"video_id": "v", "frame_index": i, "timestamp_ms": i * 40.0, "track_id": track}
            for k in KEYPOINT_NAMES:
                r[f"{k}_x"], r[f"{k}_y"], r[f"{k}_score"] = x0 + rng.normal(0, 2), 50.0, 0.9
            rows.append(r)
    return pd.DataFrame(rows)


def test_smooth_poses_keeps_raw_columns_and_smooths_per_track():
    df = _jittery_poses(((1, 100.0), (2, 400.0), (-1, 700.0)), seed=1)
    out = smooth_poses(df)
    assert (out["nose_x"] == df["nose_x"]).all()                     # raw untouched
    t1 = out[out.track_id == 1]
    assert t1["nose_x_smooth"].iloc[10:].std() < 0.6 * t1["nose_x"].iloc[10:].std()
    assert abs(out[out.track_id == 2]["nose_x_smooth"].mean() - 400) < 2   # tracks don't mix
    untracked = out[out.track_id == -1]
    np.testing.assert_allclose(untracked["nose_x_smooth"], untracked["nose_x"], rtol=1e-6)
    with pytest.raises(ValueError, match="lacks columns"):
        smooth_poses(df.drop(columns=["timestamp_ms"]))


def test_untracked_rows_first_leave_players_smoothed_and_untracked_rows_raw():
    """Rows of untracked people (track_id -1) before the tracked ones must not shift
    which rows get smoothed: the player is smoothed, the untracked rows stay raw."""
    df = _jittery_poses(((-1, 700.0), (-1, 900.0), (3, 100.0)), seed=2)
    out = smooth_poses(df)
    untracked = out[out.track_id == -1]
    np.testing.assert_allclose(untracked["nose_x_smooth"], untracked["nose_x"], rtol=1e-6)
    player = out[out.track_id == 3]
    assert abs(player["nose_x_smooth"].mean() - 100) < 2
    assert player["nose_x_smooth"].iloc[10:].std() < 0.6 * player["nose_x"].iloc[10:].std()
