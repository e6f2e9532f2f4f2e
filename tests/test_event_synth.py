"""tagging/events/synth.py: determinism per seed, label correctness, views and noise."""

import numpy as np

from tagging.core.keypoints import KP
from tagging.events.synth import (
    EVENT_TYPES,
    TEST_VIEWS,
    TRAIN_VIEWS,
    VIEW_FAMILIES,
    NoiseConfig,
    TrackSpec,
    generate_dataset,
    generate_track,
    sample_spec,
)


def test_same_seed_same_sequences_other_seed_differs():
    a, b = generate_dataset(5, 1, 1), generate_dataset(5, 1, 1)
    c = generate_dataset(6, 1, 1)
    assert len(a) == len(EVENT_TYPES) + 1
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.keypoints, y.keypoints)
        assert x.events == y.events
    assert any(x.keypoints.shape != z.keypoints.shape or not np.array_equal(x.keypoints, z.keypoints)
               for x, z in zip(a, c))


def _covers(ranges, deg: float) -> bool:
    """Whether a yaw ``deg`` lies in any ``(lo, hi)`` range, with angles taken modulo 360."""
    return any((deg - lo) % 360 <= hi - lo for lo, hi in ranges)


def test_train_and_test_views_are_disjoint():
    train = [r for f in TRAIN_VIEWS for r in VIEW_FAMILIES[f]]
    test = [r for f in TEST_VIEWS for r in VIEW_FAMILIES[f]]
    # the wrap-around is handled: frontal (-25, 25) covers 350 degrees
    assert _covers([(-25.0, 25.0)], 350.0) and not _covers([(-25.0, 25.0)], 30.0)
    shared = [d / 4 for d in range(4 * 360) if _covers(train, d / 4) and _covers(test, d / 4)]
    assert shared == []
    rng = np.random.default_rng(0)
    for _ in range(50):
        yaw = sample_spec(rng, None, TEST_VIEWS).yaw_deg
        assert 30 <= yaw % 90 <= 60


def _at(tr, ms):
    return tr.keypoints[int(np.argmin(np.abs(tr.timestamps_ms - ms)))]


def test_labels_sit_on_the_action():
    rng = np.random.default_rng(11)
    up = lambda k, name: -k[KP[name], 1]   # image y grows down
    for _ in range(5):
        tr = generate_track(TrackSpec("throw_in", 90.0, 0.0, False, 300.0, 25.0), rng, noise=None)
        (et, s, e, pk), = tr.events
        assert tr.timestamps_ms[0] <= s < pk < e <= tr.timestamps_ms[-1]
        k = _at(tr, pk)   # ball release: both hands above the head
        assert min(up(k, "left_wrist"), up(k, "right_wrist")) > up(k, "nose")
        k0 = _at(tr, s - 300)   # before: hands below the head
        assert max(up(k0, "left_wrist"), up(k0, "right_wrist")) < up(k0, "nose")
    tr = generate_track(TrackSpec("fall", 90.0, 0.0, False, 300.0, 25.0), rng, noise=None)
    (_, s, e, pk), = tr.events
    k = _at(tr, pk + 300)     # lying: the body is wider than tall
    assert np.ptp(k[:, 0]) > np.ptp(k[:, 1])
    tr = generate_track(TrackSpec("kick", 90.0, 0.0, False, 300.0, 25.0), rng, noise=None)
    (_, s, e, pk), = tr.events
    k = _at(tr, pk + 80)      # just after contact the ankles are far apart
    assert abs(k[KP["left_ankle"], 0] - k[KP["right_ankle"], 0]) > 0.3 * 300 / 1.75
    tr = generate_track(TrackSpec(None, 0.0, 0.0, False, 300.0, 25.0), rng, noise=None)
    assert tr.events == []


def test_noise_drops_frames_and_lowers_scores():
    rng = np.random.default_rng(2)
    spec = TrackSpec("jump", 0.0, 10.0, False, 40.0, 25.0)
    clean = generate_track(spec, np.random.default_rng(2), noise=None)
    noisy = generate_track(spec, rng, NoiseConfig(low_share_range=(0.4, 0.4), frame_drop_rate=0.1))
    assert len(noisy.timestamps_ms) < len(clean.timestamps_ms)
    low = (noisy.keypoints[..., 2] < 0.3).mean()
    assert 0.25 < low < 0.6
    assert (clean.keypoints[..., 2] >= 0.3).all()


def test_mirrored_view_swaps_sides():
    a = generate_track(TrackSpec("throw_in", 90.0, 0.0, False, 200.0, 25.0), np.random.default_rng(4), noise=None)
    b = generate_track(TrackSpec("throw_in", 90.0, 0.0, True, 200.0, 25.0), np.random.default_rng(4), noise=None)
    la, rb = a.keypoints[:, KP["left_ankle"], 1], b.keypoints[:, KP["right_ankle"], 1]
    np.testing.assert_allclose(la, rb, atol=1e-3)   # left in one is right in the mirror
