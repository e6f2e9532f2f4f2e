"""tagging/core/types.py: Detections / FramePoses containers and pose_score."""

import numpy as np
import pytest

from tagging.core.keypoints import KEYPOINT_NAMES, KP, NUM_KEYPOINTS, SKELETON
from tagging.core.types import Detections, FramePoses, pose_score


def _kps(n, score=0.9):
    k = np.zeros((n, NUM_KEYPOINTS, 3), np.float32)
    k[..., 0] = np.arange(NUM_KEYPOINTS)
    k[..., 1] = np.arange(n)[:, None] * 100
    k[..., 2] = score
    return k


def _poses(n):
    return FramePoses(
        xyxy=np.arange(n * 4, dtype=np.float32).reshape(n, 4),
        box_score=np.linspace(0.5, 0.9, n),
        keypoints=_kps(n),
        score=np.linspace(0.1, 0.3, n),
        track_id=np.arange(n) + 10,
    )


def test_keypoint_layout_is_coco17():
    assert NUM_KEYPOINTS == 17
    assert KEYPOINT_NAMES[0] == "nose"
    assert KEYPOINT_NAMES[-1] == "right_ankle"
    assert KP["left_wrist"] == 9 and KP["right_wrist"] == 10
    assert all(0 <= a < 17 and 0 <= b < 17 for a, b in SKELETON)


# --------------------------------------------------------------------- Detections

def test_detections_converts_dtypes():
    d = Detections([[0, 0, 10, 20], [1, 2, 3, 4]], [0.5, 0.25])
    assert len(d) == 2
    assert d.xyxy.dtype == np.float32 and d.xyxy.shape == (2, 4)
    assert d.score.dtype == np.float32 and d.score.shape == (2,)


def test_detections_score_length_mismatch_raises():
    with pytest.raises(ValueError, match="score has 1 rows, expected 2"):
        Detections(np.zeros((2, 4)), np.zeros(1))


def test_detections_score_2d_raises():
    # (2, 1) is flattened to (2,) legitimately; (2, 2) gives 4 scores for 2 boxes
    with pytest.raises(ValueError, match="score"):
        Detections(np.zeros((2, 4)), np.zeros((2, 2)))


def test_detections_xyxy_not_multiple_of_four_raises():
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 3)), np.zeros(2))


def test_detections_xyxy_with_wrong_width_raises():
    with pytest.raises(ValueError, match="xyxy"):
        Detections(np.zeros((2, 6)), np.zeros(3))


def test_detections_empty():
    d = Detections.empty()
    assert len(d) == 0
    assert d.xyxy.shape == (0, 4) and d.score.shape == (0,)


def test_detections_indexing():
    d = Detections([[0, 0, 1, 1], [10, 10, 20, 20], [5, 5, 6, 6]], [0.1, 0.9, 0.5])
    one = d[1]
    assert isinstance(one, Detections) and len(one) == 1
    np.testing.assert_array_equal(one.xyxy, [[10, 10, 20, 20]])
    np.testing.assert_allclose(one.score, [0.9])
    masked = d[d.score > 0.3]
    assert len(masked) == 2
    np.testing.assert_allclose(masked.score, [0.9, 0.5])
    np.testing.assert_array_equal(masked.xyxy[:, 0], [10, 5])
    assert len(d[:0]) == 0
    picked = d[np.array([2, 0])]
    np.testing.assert_allclose(picked.score, [0.5, 0.1])


# --------------------------------------------------------------------- FramePoses

def test_frameposes_defaults_track_id_to_minus_one():
    p = FramePoses(np.zeros((3, 4)), np.zeros(3), _kps(3), np.zeros(3))
    assert p.track_id.dtype == np.int64
    assert p.track_id.tolist() == [-1, -1, -1]
    assert p.keypoints.dtype == np.float32 and p.keypoints.shape == (3, 17, 3)


@pytest.mark.parametrize("field,value,match", [
    ("box_score", np.zeros(2), "box_score has 2 rows, expected 3"),
    ("score", np.zeros(4), "score has 4 rows, expected 3"),
    ("track_id", np.zeros(1), "track_id has 1 rows, expected 3"),
    ("keypoints", np.zeros((2, 17, 3)), "keypoints has 2 rows, expected 3"),
    # (3, 17, 2): 102 values -> 2 rows of (17, 3): caught by the row count
    ("keypoints", np.zeros((3, 17, 2)), "keypoints"),
])
def test_frameposes_rejects_misaligned_fields(field, value, match):
    args = dict(xyxy=np.zeros((3, 4)), box_score=np.zeros(3), keypoints=_kps(3),
                score=np.zeros(3), track_id=np.zeros(3))
    args[field] = value
    with pytest.raises(ValueError, match=match):
        FramePoses(**args)


def test_frameposes_keypoints_not_multiple_of_51_raises():
    with pytest.raises(ValueError):
        FramePoses(np.zeros((1, 4)), np.zeros(1), np.zeros((1, 16, 3)), np.zeros(1))


def test_frameposes_empty():
    p = FramePoses.empty()
    assert len(p) == 0
    assert p.xyxy.shape == (0, 4)
    assert p.keypoints.shape == (0, 17, 3)
    assert p.score.shape == (0,) and p.box_score.shape == (0,) and p.track_id.shape == (0,)
    assert p.keypoints.dtype == np.float32 and p.track_id.dtype == np.int64
    assert len(p[p.score > 0]) == 0


def test_frameposes_indexing_keeps_rows_aligned():
    p = _poses(4)
    sub = p[np.array([False, True, False, True])]
    assert len(sub) == 2
    assert sub.track_id.tolist() == [11, 13]
    np.testing.assert_array_equal(sub.xyxy, [[4, 5, 6, 7], [12, 13, 14, 15]])
    np.testing.assert_allclose(sub.keypoints[:, 0, 1], [100, 300])
    np.testing.assert_allclose(sub.box_score, p.box_score[[1, 3]])
    np.testing.assert_allclose(sub.score, p.score[[1, 3]])

    one = p[2]
    assert len(one) == 1
    assert one.keypoints.shape == (1, 17, 3)
    assert one.track_id.tolist() == [12]

    rev = p[::-1]
    assert rev.track_id.tolist() == [13, 12, 11, 10]


def test_from_keypoints_computes_pose_score():
    k = _kps(2, score=0.8)
    k[1, :, 2] = 0.05   # nobody seen
    p = FramePoses.from_keypoints(k, np.zeros((2, 4)), [0.9, 0.7])
    np.testing.assert_allclose(p.score, [0.8, 0.0], rtol=1e-6)
    np.testing.assert_allclose(p.box_score, [0.9, 0.7], rtol=1e-6)
    assert p.track_id.tolist() == [-1, -1]


# --------------------------------------------------------------------- pose_score

def test_pose_score_ignores_low_score_keypoints():
    k = np.zeros((1, 17, 3), np.float32)
    k[0, :, 2] = 0.05
    k[0, :4, 2] = [0.9, 0.7, 0.5, 0.3]
    # mean of the four confident ones, not of all 17
    np.testing.assert_allclose(pose_score(k), [0.6], rtol=1e-6)
    # a higher threshold keeps only .9 and .7
    np.testing.assert_allclose(pose_score(k, min_keypoint_score=0.6), [0.8], rtol=1e-6)


def test_pose_score_threshold_is_inclusive():
    k = np.zeros((1, 17, 3), np.float32)
    k[0, 0, 2] = 0.2
    k[0, 1, 2] = 0.6
    np.testing.assert_allclose(pose_score(k, 0.2), [0.4], rtol=1e-6)


def test_pose_score_zero_when_nothing_confident():
    k = np.full((3, 17, 3), 0.1, np.float32)
    s = pose_score(k)
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s, [0, 0, 0])


def test_pose_score_single_person_2d():
    k = np.zeros((17, 3), np.float32)
    k[:, 2] = 0.5
    assert float(pose_score(k)) == pytest.approx(0.5)
