"""tagging/core/boxes.py: IoU, containment, NMS and square crops."""

import numpy as np
import pytest

from tagging.core.boxes import box_area, containment_matrix, iou_matrix, nms, square_crop_box


def test_box_area_clips_inverted_boxes_to_zero():
    area = box_area(np.array([[0, 0, 10, 20], [5, 5, 5, 9], [10, 10, 0, 0]]))
    np.testing.assert_allclose(area, [200, 0, 0])


def test_iou_matrix_values_and_shape():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 3)
    assert iou.dtype == np.float32
    # identical: 1; half overlap: 50 / (100 + 100 - 50) = 1/3; disjoint: 0
    np.testing.assert_allclose(iou[0], [1.0, 1 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(iou[1], [0.0, 0.0, 0.0])


def test_iou_matrix_is_symmetric():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (6, 2))
    wh = rng.uniform(1, 30, (6, 2))
    boxes = np.concatenate([xy, xy + wh], 1)
    iou = iou_matrix(boxes, boxes)
    np.testing.assert_allclose(iou, iou.T, rtol=1e-6)
    np.testing.assert_allclose(np.diag(iou), 1.0, rtol=1e-6)


def test_iou_matrix_degenerate_boxes_give_zero_not_nan():
    a = np.array([[0, 0, 0, 0]], np.float32)
    iou = iou_matrix(a, a)
    assert iou.shape == (1, 1)
    assert iou[0, 0] == 0.0


def test_iou_matrix_empty_inputs():
    assert iou_matrix(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)
    assert iou_matrix(np.zeros((2, 4)), np.zeros((0, 4))).shape == (2, 0)


def test_containment_matrix_is_asymmetric():
    small = np.array([[10, 10, 20, 20]], np.float32)   # area 100, fully inside big
    big = np.array([[0, 0, 40, 40]], np.float32)       # area 1600
    assert containment_matrix(small, big)[0, 0] == pytest.approx(1.0)
    assert containment_matrix(big, small)[0, 0] == pytest.approx(100 / 1600)
    # half of this box lies inside big
    half = np.array([[30, 0, 50, 10]], np.float32)
    assert containment_matrix(half, big)[0, 0] == pytest.approx(0.5)


def test_containment_of_zero_area_box_is_zero():
    assert containment_matrix(np.array([[5, 5, 5, 5]]), np.array([[0, 0, 10, 10]]))[0, 0] == 0.0


def test_nms_keeps_best_and_drops_overlapping_duplicates():
    boxes = np.array([
        [0, 0, 10, 10],     # 0: score .6, overlaps 1 heavily
        [1, 0, 11, 10],     # 1: score .9 best
        [50, 50, 60, 60],   # 2: score .7 separate
        [0, 0, 10, 10.5],   # 3: score .5 duplicate of 0 / 1
    ], np.float32)
    score = np.array([0.6, 0.9, 0.7, 0.5], np.float32)
    keep = nms(boxes, score, iou_threshold=0.5)
    assert keep.tolist() == [1, 2]   # best score first
    assert keep.dtype == np.int64


def test_nms_threshold_is_strict():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10]], np.float32)    # IoU exactly 1/3 with a
    boxes = np.concatenate([a, b])
    score = np.array([0.9, 0.8])
    assert nms(boxes, score, iou_threshold=0.34).tolist() == [0, 1]
    assert nms(boxes, score, iou_threshold=0.3).tolist() == [0]
    # IoU exactly at the threshold (100 / 200 = 0.5, exact in float32) is not suppressed
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 20]], np.float32)
    assert iou_matrix(boxes[:1], boxes[1:])[0, 0] == 0.5
    assert nms(boxes, score, iou_threshold=0.5).tolist() == [0, 1]
    assert nms(boxes, score, iou_threshold=0.49).tolist() == [0]


def test_nms_containment_suppresses_box_inside_better_box():
    full_body = [100, 100, 140, 220]
    torso = [105, 110, 135, 160]          # entirely inside, IoU only 1500/4800
    boxes = np.array([full_body, torso], np.float32)
    score = np.array([0.9, 0.8], np.float32)
    assert iou_matrix(boxes[1:], boxes[:1])[0, 0] < 0.5
    # plain IoU NMS keeps both
    assert nms(boxes, score, 0.5).tolist() == [0, 1]
    # with containment, the torso is dropped
    assert nms(boxes, score, 0.5, containment_threshold=0.8).tolist() == [0]


def test_nms_containment_does_not_drop_the_bigger_lower_scored_box():
    """Only the share of the *candidate* inside a kept box counts."""
    full_body = [100, 100, 140, 220]
    torso = [105, 110, 135, 160]
    boxes = np.array([full_body, torso], np.float32)
    score = np.array([0.5, 0.9], np.float32)   # the small box is the better one
    assert nms(boxes, score, 0.5, containment_threshold=0.8).tolist() == [1, 0]


def test_nms_containment_of_tile_edge_half_person():
    whole = [200, 100, 240, 200]
    left_half = [200, 100, 221, 200]   # cut by a tile edge: IoU 0.525, share inside 1.0
    right_sliver = [236, 100, 260, 200]  # mostly outside the whole box: share inside = 4/24
    boxes = np.array([whole, left_half, right_sliver], np.float32)
    score = np.array([0.9, 0.7, 0.6], np.float32)
    keep = nms(boxes, score, iou_threshold=0.6, containment_threshold=0.8)
    assert keep.tolist() == [0, 2]


def test_nms_empty_and_single():
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    assert nms(np.array([[0, 0, 1, 1]]), np.array([0.1]), 0.5).tolist() == [0]


def test_nms_ties_keep_input_order():
    boxes = np.array([[0, 0, 10, 10], [100, 0, 110, 10], [0, 0, 10, 10]], np.float32)
    keep = nms(boxes, np.array([0.5, 0.5, 0.5]), 0.5)
    assert keep.tolist() == [0, 1]


def test_square_crop_box_centres_and_scales_longer_side():
    boxes = np.array([[100, 100, 140, 200],   # w 40, h 100 -> side 125 at scale 1.25
                      [0, 0, 60, 20]], np.float32)  # w 60, h 20 -> side 75
    sq = square_crop_box(boxes, 1.25)
    np.testing.assert_allclose(sq, [[57.5, 87.5, 182.5, 212.5],
                                    [-7.5, -27.5, 67.5, 47.5]])
    # square, same centre
    np.testing.assert_allclose(sq[:, 2] - sq[:, 0], sq[:, 3] - sq[:, 1])
    np.testing.assert_allclose((sq[:, 0] + sq[:, 2]) / 2, (boxes[:, 0] + boxes[:, 2]) / 2)


def test_square_crop_box_minimum_side_is_one_pixel():
    sq = square_crop_box(np.array([10, 20, 10, 20]), 1.25)
    assert sq.shape == (1, 4)
    np.testing.assert_allclose(sq[0], [9.5, 19.5, 10.5, 20.5])
