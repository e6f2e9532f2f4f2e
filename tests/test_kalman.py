"""tagging/track/kalman.py: batched constant-velocity box filter."""

import numpy as np
import pytest

from tagging.track import kalman
from tagging.track.kalman import KalmanConfig


def test_xyxy_z_round_trip():
    xyxy = np.array([[10, 20, 50, 120], [0, 0, 4, 6]], np.float64)
    z = kalman.xyxy_to_z(xyxy)
    np.testing.assert_allclose(z, [[30, 70, 40, 100], [2, 3, 4, 6]])
    np.testing.assert_allclose(kalman.z_to_xyxy(z), xyxy)


def test_predict_moves_by_velocity_and_grows_uncertainty():
    mean, cov = kalman.initiate(np.array([[100.0, 50.0, 40.0, 100.0]]))
    mean[0, 4:6] = [3.0, -2.0]
    m2, c2 = kalman.predict(mean, cov, steps=2)
    np.testing.assert_allclose(m2[0, :4], [106, 46, 40, 100])
    assert np.all(np.diag(c2[0]) > np.diag(cov[0]))


def test_filter_learns_constant_velocity():
    """A box moving 4 px/frame right, measured exactly: velocity converges, residual vanishes."""
    z0 = np.array([[100.0, 200.0, 40.0, 100.0]])
    mean, cov = kalman.initiate(z0)
    for t in range(1, 40):
        mean, cov = kalman.predict(mean, cov)
        mean, cov = kalman.update(mean, cov, z0 + [[4.0 * t, 0, 0, 0]])
    assert mean[0, 4] == pytest.approx(4.0, abs=0.05)
    assert mean[0, 5] == pytest.approx(0.0, abs=0.05)
    pred, _ = kalman.predict(mean, cov)
    assert pred[0, 0] == pytest.approx(100 + 4.0 * 40, abs=0.5)


def test_update_pulls_towards_measurement_and_shrinks_covariance():
    mean, cov = kalman.initiate(np.array([[0.0, 0.0, 40.0, 100.0]]))
    m2, c2 = kalman.update(mean, cov, np.array([[10.0, 0.0, 40.0, 100.0]]))
    assert 0 < m2[0, 0] < 10
    assert c2[0, 0, 0] < cov[0, 0, 0]
    np.testing.assert_allclose(c2[0], c2[0].T, atol=1e-9)


def test_batched_equals_one_by_one():
    rng = np.random.default_rng(1)
    z = np.abs(rng.normal(100, 30, (5, 4))) + 5
    mean, cov = kalman.initiate(z)
    mean, cov = kalman.predict(mean, cov)
    meas = z + rng.normal(0, 2, z.shape)
    mb, cb = kalman.update(mean, cov, meas)
    for i in range(5):
        mi, ci = kalman.update(mean[i:i + 1], cov[i:i + 1], meas[i:i + 1])
        np.testing.assert_allclose(mb[i], mi[0])
        np.testing.assert_allclose(cb[i], ci[0])


def test_mahalanobis_grows_with_distance_and_scales_with_box_size():
    mean, cov = kalman.initiate(np.array([[0.0, 0.0, 40.0, 100.0], [0.0, 0.0, 80.0, 200.0]]))
    z = np.array([[5.0, 0, 40, 100], [20.0, 0, 40, 100]])
    d2 = kalman.mahalanobis_sq(mean, cov, z)
    assert d2.shape == (2, 2)
    assert d2[0, 0] < d2[0, 1]
    # the same 20 px offset is a smaller surprise for a box twice as big (size aside)
    off = np.array([[20.0, 0, 40, 100]]), np.array([[20.0, 0, 80, 200]])
    assert kalman.mahalanobis_sq(mean[1:], cov[1:], off[1])[0, 0] < kalman.mahalanobis_sq(mean[:1], cov[:1], off[0])[0, 0]


def test_noise_scales_come_from_config():
    tight, loose = KalmanConfig(std_position=0.01), KalmanConfig(std_position=0.2)
    z = np.array([[0.0, 0.0, 40.0, 100.0]])
    assert kalman.initiate(z, tight)[1][0, 0, 0] < kalman.initiate(z, loose)[1][0, 0, 0]
