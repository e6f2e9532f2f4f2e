"""Batched crop models: N crops in one call give what N single calls give."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tagging.core.keypoints import KP
from tagging.pose import models as M
from tagging.pose.estimators import extract_crop
from tagging.pose.posenet import decode_single_pose
from tagging.pose.tfjs_convert import ConversionError, make_movenet_batchable

CROP_BOXES = np.array([[-60, -10, 440, 490], [100, 0, 400, 300], [150, 200, 350, 400],
                       [0, 0, 512, 512], [200, 50, 300, 150]], np.float32)


def _crops(image, size):
    return np.stack([extract_crop(image, b, size) for b in CROP_BOXES]).astype(np.int32)


@pytest.mark.models
@pytest.mark.parametrize("name", sorted(M.SINGLE_POSE_MOVENETS))
def test_batched_movenet_equals_the_original_graph_one_crop_at_a_time(models, astronaut, name):
    crops = _crops(astronaut, M.SINGLE_POSE_MOVENETS[name])
    original = M.GraphModel(name, outputs=("Identity:0",))   # the package's own decoding tail
    (batched,) = M.load_graph(name)(crops)
    singles = np.concatenate([original(c[None])[0] for c in crops])
    assert batched.shape == singles.shape == (len(crops), 1, 17, 3)
    np.testing.assert_allclose(batched, singles, atol=1e-4)
    assert not np.allclose(batched[0], batched[1])            # different crops, different poses


@pytest.mark.models
def test_posenet_crop_model_finds_the_face(models, astronaut):
    model = M.load_graph("posenet")
    crops = np.stack([extract_crop(astronaut, CROP_BOXES[0], 385)] * 2)
    (out,) = model(crops)
    assert out.shape == (2, 1, 17, 3)
    np.testing.assert_allclose(out[0], out[1], atol=1e-5)
    y, x, score = out[0, 0, KP["nose"]]
    # nose at about (221, 122) in the image -> relative to the crop box [-60, -10, 440, 490]
    assert abs(x * 500 - 60 - 221) < 20 and abs(y * 500 - 10 - 122) < 20 and score > 0.5


def test_posenet_decoding_on_a_hand_made_heatmap():
    heat = np.full((1, 25, 25, 17), -5.0, np.float32)
    off = np.zeros((1, 25, 25, 34), np.float32)
    heat[0, 3, 7, 0] = 4.0          # nose at cell (row 3, col 7)
    off[0, 3, 7, 0] = 2.0           # +2 px down
    off[0, 3, 7, 17] = -1.0         # -1 px left
    out = decode_single_pose(heat, off, 385)
    assert out[0, 0, 0] == pytest.approx((3 * 16 + 2) / 385)
    assert out[0, 0, 1] == pytest.approx((7 * 16 - 1) / 385)
    assert out[0, 0, 2] == pytest.approx(1 / (1 + np.exp(-4.0)))


def test_rewiring_refuses_a_graph_that_is_not_movenet():
    import tensorflow as tf

    with pytest.raises(ConversionError, match="not a MoveNet single-pose graph"):
        make_movenet_batchable(tf.compat.v1.GraphDef())


@pytest.mark.models
def test_two_step_beam_pose_stage_equals_the_one_step_estimator(models, astronaut, tmp_path):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that
    from conftest import astronaut_clip_frames

    from pipeline.model_handler import shared_estimator
    from pipeline.transforms import EstimatePoses
    from tagging.pose.detector import DetectorConfig
    from tagging.pose.estimators import PoseConfig
    from tagging.pose.stage import PoseStageConfig

    # People under 250 px go through Lightning at 128 px: crops of two sides share the batches.
    config = PoseStageConfig(detector=DetectorConfig(tile_px=0),
                             pose=PoseConfig(crop_model="movenet-lightning", small_crop_px=128,
                                             small_person_height_px=250))
    frames = astronaut_clip_frames(astronaut, 3)
    frames.append(np.zeros_like(frames[0]))                 # nobody: must still come out, empty
    two = np.full_like(frames[0], 90)                         # two people of different sizes
    two[80:400, 0:320] = cv2.resize(astronaut, (320, 320))
    two[200:440, 380:620] = cv2.resize(astronaut[:, ::-1], (240, 240))
    frames.append(two)
    expected = {i: shared_estimator(config)(f) for i, f in enumerate(frames)}
    assert [len(p) for p in expected.values()] == [1, 1, 1, 0, 2]
    estimator = shared_estimator(config)
    assert sorted(estimator.crop_sides(estimator.locate(two)[0]).tolist()) == [128, 192]

    def check(results):
        got = {frame_index: poses for video_id, (frame_index, ts, poses) in results}
        assert sorted(got) == sorted(expected)
        for i, poses in got.items():
            assert len(poses) == len(expected[i])
            np.testing.assert_allclose(poses.keypoints, expected[i].keypoints, atol=1e-3)
            np.testing.assert_allclose(poses.score, expected[i].score, atol=1e-4)

    # (--output: matchtag's options class is registered once pipeline modules are imported)
    options = PipelineOptions(["--runner", "FnApiRunner", "--output", str(tmp_path)])
    with beam.Pipeline(options=options) as p:
        out = (p | beam.Create([(("v", i, 40.0 * i), f) for i, f in enumerate(frames)])
               | EstimatePoses(config, max_batch_size=2, crop_batch_size=2))
        assert_that(out, check)


@pytest.mark.models
def test_thunder_at_a_smaller_side_runs_the_same_weights(models, astronaut):
    native = M.load_graph("movenet-thunder")
    # the computed decoding constants reproduce the shipped 64-cell ones
    computed = M.movenet_constants(64, native.constants.distance_bias)
    np.testing.assert_allclose(computed.centre_weight, native.constants.centre_weight, atol=2e-4)
    np.testing.assert_array_equal(computed.grid_x, native.constants.grid_x)
    np.testing.assert_array_equal(computed.grid_y, native.constants.grid_y)
    np.testing.assert_allclose(computed.output_scale, native.constants.output_scale)
    small = M.load_movenet("movenet-thunder", 224)
    assert small.input_size == 224
    (a,) = native(_crops(astronaut, 256)[:3])
    (b,) = small(_crops(astronaut, 224)[:3])
    assert b.shape == (3, 1, 17, 3)
    # a large, clear person: the same joints, within 4 % of the crop
    sure = (a[..., 2] > 0.4) & (b[..., 2] > 0.4)
    assert sure.sum() >= 10          # the astronaut is seen from the waist up
    assert np.abs(a[..., :2] - b[..., :2])[sure].max() < 0.04
    with pytest.raises(ValueError, match=r"\(N, 224, 224, 3\)"):
        small(_crops(astronaut, 256)[:1])


def test_input_side_rewrite_refuses_bad_sides_and_other_graphs():
    import tensorflow as tf

    from tagging.pose.tfjs_convert import set_movenet_input_size

    with pytest.raises(ConversionError, match="multiple of 32"):
        set_movenet_input_size(tf.compat.v1.GraphDef(), 200)
    with pytest.raises(ConversionError, match="not a MoveNet single-pose graph"):
        set_movenet_input_size(tf.compat.v1.GraphDef(), 224)
