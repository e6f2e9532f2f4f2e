"""tagging/events/features.py: invariances and missing keypoints, on synthetic sequences."""

import numpy as np
import pytest

from tagging.core.keypoints import KEYPOINT_NAMES, KP
from tagging.events.features import FEATURE_VERSION, FeatureConfig, feature_names, track_features
from tagging.events.synth import TrackSpec, generate_track

SWAP = np.array([KEYPOINT_NAMES.index(n.replace("left_", "T_").replace("right_", "left_").replace("T_", "right_"))
                 for n in KEYPOINT_NAMES])


@pytest.fixture(scope="module")
def throw_in():
    tr = generate_track(TrackSpec("throw_in", 90.0, 10.0, False, 200.0, 25.0), np.random.default_rng(3), noise=None)
    return tr.timestamps_ms, tr.keypoints


def test_shape_names_and_version(throw_in):
    tf = track_features(*throw_in)
    assert tf.X.shape == (len(tf.grid_ms), len(feature_names()))
    assert np.isfinite(tf.X).all()
    assert np.allclose(np.diff(tf.grid_ms), 50.0)


# What FEATURE_VERSION promises: the same names and the same numbers.  A change to the
# features that changes either must bump the version (and add its fingerprint here), so
# that model files trained on the old features are refused.
FINGERPRINTS = {
    "events-features-1": {"names_sha256": "c7977c6a2870d5dd", "count": 253, "abs_sum": 19702.92,
                          "first_means": [0.39022, 0.24707, 0.07011, 0.8063, 0.39749, 0.3889, 0.38444, 0.24277]},
    # + ball and pitch context (unknown here: the fixture passes no context)
    "events-features-2": {"names_sha256": "9884c9a32d951a4c", "count": 316, "abs_sum": 21487.92,
                          "first_means": [0.39022, 0.24707, 0.07011, 0.8063, 0.39749, 0.3889, 0.38444, 0.24277]},
}


def test_feature_version_pins_names_and_values(throw_in):
    import hashlib

    assert FEATURE_VERSION in FINGERPRINTS, f"no fingerprint for {FEATURE_VERSION}: add one"
    pinned = FINGERPRINTS[FEATURE_VERSION]
    names = feature_names()
    assert len(names) == pinned["count"]
    assert hashlib.sha256(",".join(names).encode()).hexdigest()[:16] == pinned["names_sha256"]
    X = track_features(*throw_in).X
    assert np.abs(X).sum() == pytest.approx(pinned["abs_sum"], rel=1e-4)
    np.testing.assert_allclose(X.mean(axis=0)[:8], pinned["first_means"], atol=2e-4)


def test_scale_and_translation_invariant(throw_in):
    ts, k = throw_in
    moved = k.copy()
    moved[..., :2] = k[..., :2] * 2.7 + np.array([313.0, -120.0])
    a, b = track_features(ts, k), track_features(ts, moved)
    np.testing.assert_allclose(a.X, b.X, rtol=1e-3, atol=1e-3)


def test_mirror_invariant(throw_in):
    ts, k = throw_in
    m = k[:, SWAP].copy()
    m[..., 0] = 1000.0 - m[..., 0]
    np.testing.assert_allclose(track_features(ts, k).X, track_features(ts, m).X, rtol=1e-3, atol=1e-3)


def test_frame_rate_does_not_change_the_grid(throw_in):
    ts, k = throw_in
    a = track_features(ts, k)
    b = track_features(ts[::2], k[::2])     # 12.5 fps: same grid span, nearly the same features
    n = min(len(a.grid_ms), len(b.grid_ms))
    assert abs(len(a.grid_ms) - len(b.grid_ms)) <= 1
    assert np.median(np.abs(a.X[:n] - b.X[:n])) < 0.05


def test_low_score_keypoints_are_imputed_not_trusted(throw_in):
    ts, k = throw_in
    bad = k.copy()
    w = KP["left_wrist"]
    bad[10:14, w, :2] = 1e6            # garbage position...
    bad[10:14, w, 2] = 0.05            # ...with a low score: must be ignored
    a, b = track_features(ts, k), track_features(ts, bad)
    assert np.isfinite(b.X).all()
    assert np.abs(b.X).max() < 1e3
    conf_arms = feature_names().index("conf_arms_min")
    assert b.X[:, conf_arms].min() < a.X[:, conf_arms].min()    # the window knows it was imputed


def test_keypoint_never_seen_falls_back_to_parent(throw_in):
    ts, k = throw_in
    bad = k.copy()
    bad[:, KP["right_ankle"], 2] = 0.0
    tf = track_features(ts, bad)
    assert np.isfinite(tf.X).all() and len(tf.grid_ms) > 0


def test_gap_splits_segments_and_empty_inputs():
    tr = generate_track(TrackSpec(None, 0.0, 5.0, False, 150.0, 25.0), np.random.default_rng(1), noise=None)
    ts, k = tr.timestamps_ms.copy(), tr.keypoints
    ts[len(ts) // 2:] += 2000.0                 # tracker lost the player for 2 s
    tf = track_features(ts, k)
    assert set(np.unique(tf.segment)) == {0, 1}
    assert not ((tf.grid_ms > ts[len(ts) // 2 - 1] + 1) & (tf.grid_ms < ts[len(ts) // 2] - 1)).any()
    assert track_features(ts[:1], k[:1]).X.shape == (0, len(feature_names()))
    with pytest.raises(ValueError, match="keypoints must be"):
        track_features(ts, k[:, :5])


def test_config_window_changes_nothing_structural(throw_in):
    tf = track_features(*throw_in, FeatureConfig(window_s=0.6))
    assert tf.X.shape[1] == len(feature_names())


def test_chunks_are_exactly_the_whole_track():
    """A full-match track is featured a chunk at a time (flat memory): every chunk size gives
    the same numbers, bit for bit, across segment gaps and with the torso-less fallback."""
    from tagging.events.features import iter_track_features
    rng = np.random.default_rng(5)
    T = 1500
    ts = np.cumsum(rng.choice([40.0, 80.0, 900.0], T, p=[0.9, 0.098, 0.002]))
    xy = np.cumsum(rng.normal(0, 1, (T, 1, 2)), 0) + rng.uniform(-20, 20, (1, 17, 2)) + rng.normal(0, 2, (T, 17, 2))
    score = rng.uniform(0, 1, (T, 17, 1))
    for shoulders in (1.0, 0.1):          # 0.1: no confident torso, the extent-based scale
        score[:, [KP["left_shoulder"], KP["right_shoulder"]]] *= shoulders
        kps = np.concatenate([xy, score], -1).astype(np.float32)
        whole = track_features(ts, kps)
        assert len(np.unique(whole.segment)) > 1 and len(whole.grid_ms) > 1000
        for max_rows in (1, 97, 1000):
            chunks = list(iter_track_features(ts, kps, max_rows=max_rows))
            assert max(len(c.grid_ms) for c in chunks) <= max_rows
            assert np.array_equal(np.concatenate([c.X for c in chunks]), whole.X)
            assert np.array_equal(np.concatenate([c.grid_ms for c in chunks]), whole.grid_ms)
            assert np.array_equal(np.concatenate([c.segment for c in chunks]), whole.segment)
    with pytest.raises(ValueError, match="max_rows"):
        list(iter_track_features(ts, kps, max_rows=0))
